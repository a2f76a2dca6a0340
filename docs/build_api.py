"""Build the API reference (HTML) from the docstrings, offline, with pdoc.

    python docs/build_api.py [OUT_DIR]          # default: docs/_build/api

Every public module of the package is documented (``jaxvet`` and its subpackages; modules whose
name starts with ``_`` are private).  Needs the ``dev`` extra (``pip install ".[dev]"``).
"""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import jaxvet


def public_modules() -> list[str]:
    """Dotted names of every public module of jaxvet, the package first."""
    names = ["jaxvet"]
    for info in pkgutil.walk_packages(jaxvet.__path__, prefix="jaxvet."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return names


def build(out_dir: Path) -> list[str]:
    import warnings

    import pdoc

    pdoc.render.configure(docformat="numpy", show_source=False)
    modules = public_modules()
    with warnings.catch_warnings():
        # a package's page already lists its submodules; naming them too is harmless
        warnings.filterwarnings("ignore", message="The module specification", category=UserWarning)
        pdoc.pdoc(*modules, output_directory=Path(out_dir))
    return modules


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "_build" / "api"
    mods = build(out)
    print(f"API reference for {len(mods)} modules written to {out}/index.html")
