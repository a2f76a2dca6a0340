"""Resumable result parts of a campaign: one parquet file per chunk, written atomically.

Chunk ``c`` of a campaign in ``DIR`` goes to ``DIR/results/part-CCCCC.parquet``.  Every file is
written to a temporary name beside its target, ``fsync``-ed and moved into place with
``os.replace``, so a crash or Ctrl-C never leaves a half-written part; a resumed run keeps the
parts that read back with the expected number of rows and recomputes the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jaxvet.errors import JaxvetInputError
from jaxvet.results import to_jsonable

__all__ = [
    "PART_PREFIX",
    "part_path",
    "write_part",
    "write_json",
    "part_ok",
    "read_results",
    "list_parts",
    "remove_temp_files",
    "to_astropy",
]

PART_PREFIX = "part-"


def part_path(results_dir: Path, c: int) -> Path:
    """The part file of chunk ``c``."""
    return results_dir / f"{PART_PREFIX}{c:05d}.parquet"


def list_parts(results_dir: Path) -> list[Path]:
    """The part files present in ``results_dir``, in chunk order."""
    return sorted(Path(results_dir).glob(f"{PART_PREFIX}*.parquet"))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, writer: Callable[[Any], None]) -> None:
    """Write via ``writer(fileobj)`` to a temp file beside ``path``, fsync, ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def write_part(path: Path, table) -> None:
    """Write a pyarrow ``table`` atomically as zstd-compressed parquet."""
    import pyarrow.parquet as pq

    _atomic_write_bytes(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def write_json(path: Path, obj) -> None:
    """Write ``obj`` (made JSON-safe by :func:`jaxvet.results.to_jsonable`) atomically."""
    text = json.dumps(to_jsonable(obj), indent=1, sort_keys=False)
    _atomic_write_bytes(path, lambda fh: fh.write(text.encode()))


def part_ok(path: Path, n_expected: int) -> bool:
    """Whether the part at ``path`` reads back with ``n_expected`` rows (else: recompute it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows == n_expected
    except (OSError, pa.ArrowException):  # truncated or corrupt file: recompute the chunk
        return False


def remove_temp_files(results_dir: Path) -> None:
    """Remove the temporary files a killed writer left in ``results_dir``."""
    for p in Path(results_dir).glob(f".{PART_PREFIX}*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass


def read_results(out_dir) -> Any:
    """All rows of a campaign directory (its parts, in injection order) as a pyarrow Table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rd = Path(out_dir) / "results"
    parts = list_parts(rd)
    if not parts:
        raise JaxvetInputError(f"no result parts in {rd}")
    return pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")


def to_astropy(table):
    """A pyarrow Table as an astropy Table (object columns as strings)."""
    from astropy.table import Table

    out = Table()
    for name in table.column_names:
        a = table.column(name).to_numpy(zero_copy_only=False)
        if a.dtype == object:
            a = a.astype(str)
        out[name] = a
    return out
