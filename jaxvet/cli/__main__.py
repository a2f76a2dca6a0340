"""``python -m jaxvet.cli``: the command line."""

import sys

from jaxvet.cli.main import main

sys.exit(main())
