"""The user documentation cannot silently rot.

* every check id in :func:`jaxvet.checks.available_checks` has a ``## Vnn`` section in
  ``docs/checks.md``, and every image the docs link exists (and is small);
* every fenced ```python block of README.md, benchmarks/README.md and docs/{io, campaigns, masking,
  quickstart, outputs}.md runs on the real data (from a scratch directory holding it; what a
  block prints is checked against the comment under it), and the quickstart blocks whose first
  line is ``# doctest: simulated`` also run without it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jaxvet.checks import available_checks

DOCS = Path(__file__).resolve().parents[1] / "docs"
MARKER = "# doctest: simulated"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python[^\n]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def _simulated_blocks() -> list[str]:
    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    return [b for b in _python_blocks(text) if b.lstrip().startswith(MARKER)]


def test_every_check_has_a_section():
    text = (DOCS / "checks.md").read_text(encoding="utf-8")
    headings = re.findall(r"^##\s+(V\d\d[a-z]?)\b", text, flags=re.MULTILINE)
    missing = [cid for cid in available_checks() if cid not in headings]
    assert not missing, f"docs/checks.md has no '## <id> ...' section for {missing}"
    assert len(headings) == len(set(headings)), f"duplicate check sections in docs/checks.md: {headings}"


@pytest.mark.parametrize("page", ["checks.md", "quickstart.md"])
def test_linked_images_exist(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
        path = DOCS / target
        assert path.is_file(), f"{page} links a missing image {target}"
        assert path.stat().st_size < 150_000, f"{target} is larger than 150 KB"


def test_quickstart_has_simulated_snippet():
    assert _simulated_blocks(), f"docs/quickstart.md has no ```python block starting with {MARKER!r}"


@pytest.mark.parametrize("index", range(len(_simulated_blocks())))
def test_quickstart_simulated_snippet_runs(index, tmp_path, monkeypatch, capsys):
    """A simulated block runs without the real data, and prints what the docs say it prints
    (the real-data run of the page leaves these blocks to this test)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)  # anything a snippet writes lands in a temporary directory
    code = _simulated_blocks()[index]
    name = f"docs/quickstart.md[simulated block {index}]"
    capsys.readouterr()
    try:
        exec(compile(code, name, "exec"), {"__name__": "__docs__"})
    finally:
        plt.close("all")
    out = capsys.readouterr().out
    for expected in _expected_outputs(code):
        assert expected in out, f"{name} printed {out!r}, the docs say {expected!r}"


def test_api_reference_builds_offline(tmp_path):
    """docs/build_api.py renders every public module's docstrings (pdoc, no network)."""
    pytest.importorskip("pdoc")
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_api", DOCS / "build_api.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    modules = mod.build(tmp_path)
    assert "jaxvet.engine.runner" in modules and "jaxvet.outputs.table" in modules
    for name in ("jaxvet", "jaxvet/engine/runner", "jaxvet/outputs/report", "jaxvet/checks"):
        assert (tmp_path / f"{name}.html").is_file(), name
    page = (tmp_path / "jaxvet" / "engine" / "runner.html").read_text()
    assert "segment_size" in page  # the docstring of vet() made it into the page


@pytest.mark.realdata
def test_readme_and_outputs_examples_run_on_real_data(toi5807_dir, tmp_path, monkeypatch):
    """README's Python example on the four TOI-5807 sectors (copied into a scratch directory, as
    a user's files would be), then docs/outputs.md's example on the report it made.  (The
    example vets the light curve and candidate of docs/quickstart.md's first block with the same
    options, so the two compile the same programs once.)"""
    import shutil

    import matplotlib

    matplotlib.use("Agg")
    for s in (55, 75, 82, 83):
        shutil.copy(toi5807_dir / f"sector{s}_pdcsap.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    (block,) = _python_blocks(readme)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    assert (tmp_path / "results.parquet").is_file() and (tmp_path / "sheets" / "index.html").is_file()
    assert ns["report"][0]["V21"].status == "ok"
    (example,) = _python_blocks((DOCS / "outputs.md").read_text(encoding="utf-8"))
    pytest.importorskip("jsonschema")
    exec(compile("import json\n" + example, "docs/outputs.md", "exec"), ns)


#: first-line marker of a block the tests only compile (it needs what a test machine lacks)
SKIP_MARKER = "# doctest: skip"
#: campaign sizes in the docs, scaled down for the test run (the code path is the same)
_SCALED = [
    (r"n_injections=[\d_]+", "n_injections=8"),
    (r"n_resamples=[\d_]+", "n_resamples=50"),
    (r"run_pixel_campaign\(\d+", "run_pixel_campaign(2"),
]


def _scaled(code: str) -> str:
    for pattern, repl in _SCALED:
        code = re.sub(pattern, repl, code)
    return code


def _expected_outputs(code: str) -> list[str]:
    """The ``# ...`` comment lines right after a ``print(...)`` line: what the docs say it prints."""
    lines = code.splitlines()
    return [
        nxt.strip()[2:]
        for cur, nxt in zip(lines, lines[1:], strict=False)
        if cur.startswith("print(") and nxt.startswith("# ")
    ]


def _data_workdir(tmp_path, shared_data):
    """A scratch directory holding the data directory's entries and ``shared/data``, so the
    docs' relative paths (``tic188646744/...`` and ``shared/data/...``) resolve."""
    work = tmp_path / "work"
    (work / "shared").mkdir(parents=True)
    (work / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    for entry in shared_data.iterdir():
        (work / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return work


@pytest.mark.realdata
@pytest.mark.parametrize("page", ["io.md", "campaigns.md", "quickstart.md", "masking.md"])
def test_every_python_block_of_the_page_runs(page, shared_data, tmp_path, monkeypatch, capsys):
    """Every ```python block of the page, in order and in one namespace, from a directory that
    holds the real data; a block printing something is checked against the ``# ...`` line the
    docs put under it.  Blocks marked ``# doctest: skip (...)`` are compiled only, and those
    marked ``# doctest: simulated`` (self-contained: they use nothing the page defined before)
    are run, output included, by :func:`test_quickstart_simulated_snippet_runs`."""
    import matplotlib

    matplotlib.use("Agg")
    text = (DOCS / page).read_text(encoding="utf-8")
    if "import lightkurve" in text:
        pytest.importorskip("lightkurve")
    work = _data_workdir(tmp_path, Path(shared_data))
    csv = re.search(r"^```\n(id,period_days,[^`]*)^```", text, flags=re.MULTILINE)
    if csv:  # the candidate table the page shows
        (work / "candidates.csv").write_text(csv.group(1), encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.setenv("JAXVET_DATA_DIR", str(shared_data))
    ns: dict = {"__name__": "__docs__"}
    blocks = _python_blocks(text)
    assert blocks, f"docs/{page} has no python block"
    for k, block in enumerate(blocks):
        name = f"docs/{page}[block {k}]"
        code = compile(_scaled(block), name, "exec")
        if block.lstrip().startswith((SKIP_MARKER, MARKER)):
            continue
        capsys.readouterr()
        exec(code, ns)
        out = capsys.readouterr().out
        for expected in _expected_outputs(block):
            assert expected in out, f"{name} printed {out!r}, the docs say {expected!r}"


@pytest.mark.realdata
def test_benchmarks_readme_example_runs(toi5807_dir, monkeypatch):
    """benchmarks/README.md's Python example, from the repository root (its data path pointed at
    the data directory the tests found)."""
    text = (DOCS.parent / "benchmarks" / "README.md").read_text(encoding="utf-8")
    (block,) = _python_blocks(text)
    assert '"../shared/data/tic188646744"' in block
    monkeypatch.chdir(DOCS.parent)
    monkeypatch.syspath_prepend(str(DOCS.parent / "benchmarks"))
    ns: dict = {"__name__": "__docs__"}
    code = block.replace("../shared/data/tic188646744", str(toi5807_dir))
    exec(compile(code, "benchmarks/README.md", "exec"), ns)
    assert len(ns["report"]) == 20 and all(r["V05"].status == "ok" for r in ns["report"])
