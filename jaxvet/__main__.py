"""``python -m jaxvet``: the command line (the same as the ``jaxvet`` console script)."""

import sys

from jaxvet.cli.main import main

sys.exit(main())
