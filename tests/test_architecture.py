"""The layout rules of docs/architecture.md, checked on the source tree.

No function over 120 lines, no module over 800, no import cycle between jaxvet modules, at most
three broad ``except`` clauses (each with a comment saying why), 64-bit mode switched on in one
place, no absolute machine paths, no citations of documents a reader of the repository does not
have.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "jaxvet"
SOURCES = sorted(PKG.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in SOURCES}


def _trees():
    return {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


TREES = _trees()


def test_no_function_over_120_lines():
    long = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 120:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert not long, long


def test_no_module_over_800_lines():
    big = {name: len(p.read_text().splitlines()) for name, p in MODULES.items()}
    assert not {k: v for k, v in big.items() if v > 800}


def _top_level_imports(name: str, tree: ast.Module) -> set[str]:
    """jaxvet modules imported when ``name`` is imported (module level, incl. if/try blocks)."""
    out: set[str] = set()
    is_pkg = MODULES[name].name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("jaxvet"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    head = base[: len(base) - node.level + 1]
                    mod = ".".join(head + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                if not mod.startswith("jaxvet"):
                    continue
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    out.add(sub if sub in MODULES else mod)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    visit(h.body)

    visit(tree.body)
    return {m for m in out if m in MODULES and m != name}


def test_no_import_cycles():
    graph = {name: _top_level_imports(name, tree) for name, tree in TREES.items()}
    def edges(name):
        # a package's __init__ re-exporting its submodules is not a cycle with them
        is_pkg = MODULES[name].name == "__init__.py"
        return {m for m in graph[name] if not (is_pkg and m.startswith(name + "."))}

    state: dict[str, int] = {}
    cycles = []

    def dfs(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges(node)):
            if nxt == "jaxvet":
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                dfs(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            dfs(name, [])
    assert not cycles, cycles


def test_at_most_three_broad_excepts_each_justified():
    broad = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node in ast.walk(TREES[name]):
            if isinstance(node, ast.ExceptHandler):
                t = node.type
                names = [t] if not isinstance(t, ast.Tuple) else list(t.elts)
                if t is None or any(isinstance(x, ast.Name) and x.id in ("Exception", "BaseException")
                                    for x in names):
                    # the justification: a comment on the except line or the lines just around it
                    near = lines[max(node.lineno - 3, 0) : node.lineno + 1]
                    broad.append((name, node.lineno, any("#" in line for line in near)))
    assert len(broad) <= 3, broad
    assert all(justified for *_, justified in broad), [b for b in broad if not b[2]]


def test_x64_is_switched_on_in_one_place():
    pattern = re.compile(r"""config\.update\(\s*["']jax_enable_x64""")
    hits = [name for name, p in MODULES.items() if pattern.search(p.read_text())]
    assert hits == ["jaxvet._config"]


_MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|root|Users|mnt|opt)/\w")


@pytest.mark.parametrize("pattern", ["*.py", "*.md", "*.toml", "*.cfg", ".ci/*"])
def test_no_absolute_machine_paths(pattern):
    roots = [REPO / d for d in ("jaxvet", "tests", "benchmarks", "docs")] + [REPO]
    found = []
    for root in roots:
        for p in root.rglob(pattern) if root != REPO else root.glob(pattern):
            if ".venv" in p.parts or ".ci-venv" in p.parts or p == Path(__file__):
                continue
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                if _MACHINE_PATH.search(line):
                    found.append(f"{p.relative_to(REPO)}:{i}: {line.strip()[:80]}")
    assert not found, found


#: "the seed", "seed 003", "semantics §6.1", a bare "(§3)": documents outside the repository
_DESIGN_CITATION = re.compile(
    r"\bthe seeds?\b|\bseed 00\d|semantics(?:\.md)?,?\s*§|reference-semantics|\(§\d"
)


def test_docstrings_cite_papers_not_design_documents():
    bad = []
    for name, path in MODULES.items():
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if _DESIGN_CITATION.search(line):
                bad.append(f"{name}:{i}: {line.strip()[:90]}")
    assert not bad, bad
