"""The ``jaxvet`` command line: ``vet``, ``checks``, ``demo``, ``campaign``, ``pixel-campaign``."""

from jaxvet.cli.main import main

__all__ = ["main"]
