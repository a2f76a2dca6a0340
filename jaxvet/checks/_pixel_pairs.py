"""Candidate x stamp pairs of the pixel checks (V08, V09, V10, V20): which stamps a candidate is vetted on,
same-shape stamps packed into one padded batch, and the pairs' results back in candidate order.

A run's stamps (``ctx.tpfs``) are prepared once (:func:`jaxvet.stamps.prepared`).  Candidate
``i`` is vetted on the stamps ``slot_stamps(ctx)[i]`` (S *slots* per candidate): by default every
stamp of the run in order (S = K; what ``jaxvet.vet(lc, cands, tpfs=...)`` does), or the rows of
``ctx.tpf_index`` (a pixel campaign gives each injection its own stamp: S = 1).

When candidates have their own stamps, stamps of one shape (rows, cols and bucketed cadence
count) form a :class:`StampGroup`: their prepared device arrays are concatenated into one
K_g-row :class:`~jaxvet.core.pixels.PixelBatch` and :class:`~jaxvet.core.pixels.PixelStats`
(each stamp's statistics are computed on its own, so a stamp's numbers do not depend on the
stamps it is packed with).  Every (candidate, slot) pair whose
stamp is in the group is one row of the group's batched kernel call (:class:`PairBatch`), which
reads its stamp by index (``a["k"]``); :func:`to_slots` reassembles the groups' rows on the device
into (B, S, ...) arrays.  When every candidate is vetted on every stamp, each stamp is its own
group (the candidates fill the batch), so a run with one stamp computes exactly what it did when
the checks took one shared stamp at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxvet import stamps as sx
from jaxvet.core.pixels import PixelBatch, PixelStats
from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size
from jaxvet.engine.chunks import assemble, rows_per_chunk
from jaxvet.results import INSUFFICIENT, OK, SKIPPED, CheckResult, verdict_name

__all__ = [
    "StampGroup",
    "PairBatch",
    "stamp_groups",
    "pair_batches",
    "to_slots",
    "per_slot",
    "run_pairs",
    "slot_tree",
    "pair_chunk",
    "PAIR_BLOCK_KEY",
    "GROUP_STAMPS_KEY",
]

#: ShapeLadder name of a fixed pair-kernel block (rows per call); a pixel campaign sets it so a
#: row's program never depends on how many injections share its chunk
PAIR_BLOCK_KEY = "pixel.pair_block"
#: ShapeLadder name of the smallest padded stamp count of a group (see :func:`stamp_groups`)
GROUP_STAMPS_KEY = "pixel.group_stamps"


@dataclass
class StampGroup:
    """Same-shape stamps packed into one batch: ``members`` index ``prep.preps``."""

    members: np.ndarray  # (K_g,) int
    pb: PixelBatch  # K_g rows
    stats: PixelStats  # K_g rows
    lcb: LightCurveBatch  # K_g rows: each stamp's valid cadence times (epoch windows)
    tail_estimate: int  # largest one-sided centroid outlier count of the members
    stamp_shape: tuple[int, int]


def _concat(trees):
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *trees)


def _group(prep: sx.Prepared, members: list[int], size: int) -> StampGroup:
    """The members' arrays concatenated, padded to ``size`` rows with copies of the last one."""
    sps = [prep.preps[m] for m in members]
    sps = sps + [sps[-1]] * (max(size, len(sps)) - len(sps))
    if len(sps) == 1:
        pb, stats, lcb = sps[0].pb, sps[0].stats, sps[0].lcb
    else:
        pb, stats = _concat([sp.pb for sp in sps]), _concat([sp.stats for sp in sps])
        lcb = sx.window_batch([sp.window_time for sp in sps], sps[0].pb.n_cadences)
    return StampGroup(
        members=np.asarray(members, np.int64),
        pb=pb,
        stats=stats,
        lcb=lcb,
        tail_estimate=max(sp.tail_estimate for sp in sps),
        stamp_shape=sps[0].stamp.stamp_shape,
    )


def stamp_groups(ctx, prep: sx.Prepared, quality_bitmask: int) -> list[StampGroup]:
    """The run's stamps in packed groups, once per run (run cache).

    With ``ctx.tpf_index`` (candidates on their own stamps, e.g. a pixel campaign's chunk), stamps
    of one (rows, cols, padded cadences) shape form one group, padded to a power of two of them
    and at least :data:`GROUP_STAMPS_KEY` of the run's shape ladder (a campaign primes it with its
    chunk size), so its kernels compile once for every chunk.  Without it every candidate is
    vetted on every stamp, the candidates already fill the batch, and each stamp is its own
    group (one compiled program whatever the number of stamps).
    """

    def make():
        if getattr(ctx, "tpf_index", None) is None:
            return [_group(prep, [i], 1) for i in range(len(prep.preps))]
        by_shape: dict[tuple, list[int]] = {}
        for i, sp in enumerate(prep.preps):
            by_shape.setdefault((*sp.stamp.stamp_shape, sp.pb.n_cadences), []).append(i)
        out = []
        for m in by_shape.values():
            size = 1 if len(m) == 1 else bucket_size(len(m), 1)
            out.append(_group(prep, m, max(size, ctx.shapes.get(GROUP_STAMPS_KEY, 1))))
        return out

    return ctx.cached(("pixel_groups", int(quality_bitmask)), make, per_chunk=False)


@dataclass
class PairBatch:
    """The (candidate, slot) pairs of one :class:`StampGroup`, as one padded candidate batch."""

    group: StampGroup
    rows: np.ndarray  # (n,) output rows i * S + s
    cand: np.ndarray  # (n,) candidate of each pair
    local: np.ndarray  # (n,) stamp row in the group
    stamp: np.ndarray  # (n,) stamp index in ctx.tpfs
    cb: CandidateBatch  # (nb,) the pairs' candidates, lc_index = stamp row in the group
    key_ids: np.ndarray  # (nb,) run-wide candidate ids (PRNG)
    tags: np.ndarray  # (nb,) stamp tags (PRNG)

    @property
    def n(self) -> int:
        return int(self.rows.size)

    @property
    def size(self) -> int:
        return self.cb.size

    def pad(self, values: np.ndarray, fill=0) -> np.ndarray:
        """A per-pair host array padded to the batch size."""
        out = np.full((self.size,) + values.shape[1:], fill, dtype=values.dtype)
        out[: self.n] = values
        return out


def pair_batches(ctx, prep: sx.Prepared, groups: list[StampGroup]) -> tuple[np.ndarray, list[PairBatch]]:
    """``(idx, batches)``: the slot stamps (B, S) and one :class:`PairBatch` per group with pairs.

    Pairs are in (candidate, slot) order within a group; a batch is padded to a power of two
    (at least 4) with invalid rows, so a handful of shapes compile.
    """
    idx = sx.slot_stamps(ctx)
    b, s = idx.shape
    flat = idx.reshape(-1)
    cand = np.repeat(np.arange(b), s)
    tags = sx.slot_tags(prep, idx).reshape(-1)
    ids = ctx.key_ids()
    where = np.full(len(prep.preps), -1, np.int64)
    local = np.zeros(len(prep.preps), np.int64)
    for g, grp in enumerate(groups):
        where[grp.members] = g
        local[grp.members] = np.arange(grp.members.size)
    out = []
    for g, grp in enumerate(groups):
        rows = np.flatnonzero(where[flat] == g)
        if rows.size == 0:
            continue
        n = rows.size
        nb = bucket_size(n, 4)
        c = cand[rows]
        sub = ctx.cb.take(jnp.asarray(c)).pad(nb)
        lc = np.zeros(nb, np.int32)
        lc[:n] = local[flat[rows]]
        pb = PairBatch(
            group=grp,
            rows=rows,
            cand=c,
            local=local[flat[rows]],
            stamp=flat[rows],
            cb=_with_lc_index(sub, lc),
            key_ids=np.concatenate([ids[c], int(ids.max(initial=0)) + 1 + np.arange(nb - n)]),
            tags=np.concatenate([tags[rows], np.full(nb - n, tags[rows][0])]),
        )
        out.append(pb)
    return idx, out


def _with_lc_index(cb: CandidateBatch, lc: np.ndarray) -> CandidateBatch:
    import dataclasses

    return dataclasses.replace(cb, lc_index=jnp.asarray(lc))


def pair_chunk(ctx, per_pair: int, nb: int, *, scale: float) -> int:
    """Rows per kernel call: the memory budget's (at most 64), at most ``nb``; a fixed block
    (:data:`PAIR_BLOCK_KEY` in the run's shape ladder) replaces ``nb`` when one is set."""
    rows = rows_per_chunk(per_pair, cap=64, scale=scale)
    block = ctx.shapes.get(PAIR_BLOCK_KEY, 0)
    return min(rows, block) if block > 0 else min(rows, nb)


def to_slots(parts: list[dict], batches: list[PairBatch], b: int, s: int) -> dict:
    """Per-group kernel results (rows in pair order, padding after) -> (B, S, ...) on the device."""
    flat = assemble(parts, [p.rows for p in batches], b * s)
    return {k: v.reshape((b, s) + v.shape[1:]) for k, v in flat.items()}


def per_slot(values, idx: np.ndarray):
    """A per-stamp (K, ...) array gathered to the slots: (B, S, ...) (device when ``values`` is)."""
    if isinstance(values, np.ndarray):
        return values[idx]
    return jnp.take(values, jnp.asarray(idx), axis=0)


def run_pairs(ctx, prep: sx.Prepared, quality_bitmask: int, kernel) -> dict:
    """``kernel(pairs)`` for every group's :class:`PairBatch` (device arrays, pairs padded), the
    rows reassembled into (B, S, ...) slot arrays on the device."""
    groups = stamp_groups(ctx, prep, quality_bitmask)
    idx, batches = pair_batches(ctx, prep, groups)
    return to_slots([kernel(b) for b in batches], batches, *idx.shape)


def slot_tree(per: dict, summary: dict) -> dict:
    """A pixel check's compute tree: every (B, S) slot array as ``ps_<name>``, plus ``status``,
    ``verdict`` and the summary metrics (``summary``: metric name -> slot array name) of the
    first slot."""
    out = {f"ps_{k}": v for k, v in per.items()}
    names = {"status": "status", "verdict": "verdict", **summary}
    out.update({m: per[k][:, 0] for m, k in names.items()})
    return out


def candidate_columns(cb: CandidateBatch, ok, **extra) -> dict:
    """The per-pair columns every pixel kernel reads (device arrays): the ephemeris, ``ok``
    (host bools: the pairs the kernel measures), ``k`` (the pair's stamp), and ``extra``."""
    return dict(period=cb.period, t0=cb.t0, duration=cb.duration, ok=jnp.asarray(ok), k=cb.lc_index, **extra)


def stamp_check(ctx, opts, summary, per_stamps, finish, **skipped) -> dict:
    """A pixel check's ``compute``: the skipped tree (``summary`` metrics NaN, ``skipped``
    extra columns) without stamps, else ``finish(per, prep)`` of the (B, S) slot arrays
    ``per_stamps(ctx, prep, opts)`` on the run's prepared stamps."""
    if not ctx.tpfs:
        return sx.skipped_tree(ctx.n_candidates, summary, **skipped)
    prep = sx.prepared(ctx.tpfs, int(opts.quality_bitmask), ctx=ctx)
    return finish(dict(per_stamps(ctx, prep, opts)), prep)


def with_verdict(per: dict, ok, verdict) -> dict:
    """``per`` with ``status`` (ok / skipped) and ``verdict`` (``insufficient`` where skipped)."""
    per["status"] = jnp.where(ok, OK, SKIPPED)
    per["verdict"] = jnp.where(ok, verdict, INSUFFICIENT)
    return per


def kernel_over_stamps(pairs_kernel):
    """``(ctx, prep, opts) -> (B, S, ...)`` device arrays of ``pairs_kernel(ctx, pairs, prep,
    opts)`` over every stamp group (:func:`run_pairs`)."""

    def per_stamps(ctx, prep: sx.Prepared, opts) -> dict:
        return run_pairs(ctx, prep, int(opts.quality_bitmask), lambda b: pairs_kernel(ctx, b, prep, opts))

    return per_stamps


def slot_result(check: tuple[str, str], g, **fields) -> CheckResult:
    """A measured pixel-check result on one slot: status ``ok`` and the slot's verdict code
    (``g("verdict")``) by name; ``fields``: confidence, flags, metrics, raw, notes."""
    return CheckResult(id=check[0], name=check[1], status="ok", verdict=verdict_name(g("verdict")), **fields)
