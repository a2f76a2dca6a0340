"""Injection-recovery campaigns: thousands to millions of synthetic signals, every one vetted.

``jaxvet campaign LC_FILE ... --n-injections N --kinds planet,eb --checks V01,V04,V05 --out DIR``
(or :func:`run_campaign` from Python) plants ``N`` synthetic planets and eclipsing binaries
(:mod:`jaxvet.campaigns.injection`) into real light curves -- or, with no file, into the simulated light
curve of ``jaxvet demo`` -- vets each one with the chosen checks, and aggregates how often every
check keeps real planets and rejects eclipsing binaries, as a function of SNR and period.

How a campaign runs
-------------------
* Injections are processed in chunks of ``K`` (``--chunk-size``; default: as many as keep one
  ``K x N`` float64 array near 2**24 elements).  For each chunk one jitted program builds the
  ``K`` injected light-curve rows and candidates on the device; then every check's batched
  ``compute`` runs on them (each injection is its own light-curve row, so memory is bounded).
* Parameters and random keys derive from ``(seed, injection_id)`` with ``jax.random.fold_in``:
  they do not depend on the chunking, the device count or the resume point; a check's own
  bootstrap keys derive from ``(seed, injection_id)`` too (``VetContext.candidate_ids``).
* Every chunk's rows go to ``DIR/results/part-NNNNN.parquet`` (chunk ``NNNNN``), written
  atomically: a temporary file in the same directory, ``fsync``, ``os.replace`` -- a crash or
  Ctrl-C never leaves a half-written part.  ``DIR/config.json`` holds the configuration;
  ``--resume`` skips the chunks whose part exists (and has the right number of rows) and refuses
  a different configuration, so an interrupted-and-resumed run has exactly the rows of an
  uninterrupted one.
* ``DIR/summary.json`` holds, for each kind, check and SNR bin, ``{"kind", "check", "snr_bin":
  [lo, hi], "n", "n_insufficient", "fail_fraction", ...}`` under ``"rates"`` (``n`` counts the
  decided verdicts pass/warn/fail; ``fail_fraction = fails / n``; ``hi = null`` is an open bin),
  the same by period under ``"rates_by_period"``, the configuration and timings.  Plots of the
  recovery (planets kept = 1 - fail fraction) and rejection (eclipsing binaries failed) rates
  against SNR and period are written beside it (``rates_vs_snr.png``, ``rates_vs_period.png``).
* A tqdm progress bar with rate and ETA goes to stderr.

Devices
-------
The chunk axis is sharded over every local JAX device (a 1-D :class:`jax.sharding.Mesh` named
``"batch"`` and ``NamedSharding(mesh, P("batch"))``; the base light curves are replicated), so a
chunk runs on all GPUs (or host devices) at once; the chunk size is rounded up to a multiple of
the device count.  For several hosts, start one process per host with the same arguments after
``jax.distributed.initialize(...)`` (see ``docs/campaigns.md``): process ``i`` of ``n`` computes
the chunks ``c`` with ``c % n == i`` on its local devices and writes their parts to the shared
``--out`` directory; process 0 waits for all processes and writes the summary.  Without
``jax.distributed`` (a batch-system job array), ``--process-index i --process-count n`` gives
the same split; each job skips parts that exist and the job that completes the set writes the
summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Sequence
from typing import Any

import jax

from jaxvet._version import __version__
from jaxvet.campaigns.config import DEFAULT_CHECKS, CampaignConfig, load_lightcurves
from jaxvet.campaigns.injection import InjectionConfig
from jaxvet.campaigns.parts import read_results
from jaxvet.campaigns.runner import run_campaign
from jaxvet.campaigns.summary import DEFAULT_PERIOD_BINS, DEFAULT_SNR_BINS, campaign_rates, summarize
from jaxvet.errors import JaxvetInputError

__all__ = [
    "run_campaign",
    "CampaignConfig",
    "add_campaign_arguments",
    "run_campaign_command",
    "campaign_rates",
    "read_results",
    "summarize",
    "DEFAULT_SNR_BINS",
    "DEFAULT_PERIOD_BINS",
    "DEFAULT_CHECKS",
]


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------
_PARAM_ARGS = (
    (
        "--period",
        "period_days",
        "orbital period [d]: LO:HI[:log], a grid a,b,c, or a value (default 1:20:log)",
    ),
    ("--duration-hours", "duration_hours", "total duration [h] (default 1:6)"),
    ("--snr", "snr", "target SNR (default 5:100:log); ignored when --depth-ppm is given"),
    ("--depth-ppm", "depth_ppm", "mid-transit depth [ppm] instead of a target SNR"),
    ("--impact", "impact", "impact parameter (default 0:0.9)"),
    ("--eb-depth-ratio", "eb_depth_ratio", "EB odd/even depth factor (default 0.3:0.7)"),
    ("--eb-secondary-ratio", "eb_secondary_ratio", "EB secondary depth / primary depth (default 0.05:0.3)"),
    ("--eb-secondary-phase", "eb_secondary_phase", "EB secondary eclipse phase (default 0.48:0.52)"),
)


def add_campaign_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``jaxvet campaign`` arguments to ``parser``."""
    parser.description = (
        "Inject synthetic planets and eclipsing binaries into light curves, vet every one, and "
        "aggregate the checks' recovery/rejection rates (resumable; parquet output)."
    )
    parser.add_argument(
        "lc_files",
        nargs="*",
        metavar="LC_FILE",
        help="light-curve files of one target (several = sectors); none = the simulated demo light curve",
    )
    parser.add_argument("--n-injections", type=int, default=1000, help="number of injections (default 1000)")
    parser.add_argument(
        "--kinds",
        default="planet,eb",
        help="comma-separated kinds: planet, eb, inverted, scrambled (default planet,eb; docs/campaigns.md)",
    )
    parser.add_argument("--kind-weights", help="relative frequency of each kind, e.g. 1,1")
    parser.add_argument(
        "--checks",
        default=",".join(DEFAULT_CHECKS),
        help="check ids, or 'all' light-curve checks (default V01,V04,V05)",
    )
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--chunk-size", type=int, help="injections per device batch (default: automatic)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted campaign in DIR")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing campaign in DIR")
    parser.add_argument(
        "--process-index", type=int, help="this job's index when N independent jobs share DIR (see docs)"
    )
    parser.add_argument("--process-count", type=int, help="number of independent jobs sharing DIR")
    parser.add_argument(
        "--record-errors",
        action="store_true",
        help="record a check's exception per chunk (error column) and go on, instead of stopping",
    )
    g = parser.add_argument_group("injected signals")
    for flag, _, help_ in _PARAM_ARGS:
        g.add_argument(flag, help=help_)
    g.add_argument(
        "--shape", choices=("trapezoid", "limb_darkened"), default="trapezoid", help="transit shape"
    )
    g.add_argument("--limb-darkening", help="quadratic limb darkening u1,u2 (default 0.4,0.26)")
    g.add_argument("--stellar-radius", type=float, help="stellar radius [R_sun] given to the checks")
    g.add_argument("--stellar-mass", type=float, help="stellar mass [M_sun] given to the checks")
    g.add_argument("--sectors", help="only use these sectors of the light curve, e.g. 82,83")
    g.add_argument("--search-max-periods", type=int, help="false-alarm kinds: at most N periods (20000)")
    g.add_argument("--search-durations", type=int, help="false-alarm kinds: trial durations (default 4)")
    g.add_argument("--scramble-block-days", type=float, help="scrambled kind: block length [d] (default 1)")
    from jaxvet.masking import add_mask_arguments

    add_mask_arguments(parser, others=False, before="out of the base light curve before injecting")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="CHECK.KEY=VALUE",
        help="a check option, e.g. V05.n_bootstrap=20 (repeatable)",
    )
    s = parser.add_argument_group("summary")
    s.add_argument("--snr-bins", help="SNR bin edges, e.g. 0,5,10,20,inf")
    s.add_argument("--period-bins", help="period bin edges [d]")
    s.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _injection_from_args(args) -> dict:
    kw: dict[str, Any] = {"kinds": args.kinds, "shape": args.shape}
    for flag, name, _ in _PARAM_ARGS:
        v = getattr(args, flag.lstrip("-").replace("-", "_"))
        if v is not None:
            kw[name] = v
    if args.kind_weights:
        kw["kind_weights"] = args.kind_weights
    if args.limb_darkening:
        kw["limb_darkening"] = args.limb_darkening
    if args.stellar_radius is not None:
        kw["stellar_radius"] = args.stellar_radius
    if args.stellar_mass is not None:
        kw["stellar_mass"] = args.stellar_mass
    for name in ("search_max_periods", "search_durations", "scramble_block_days"):
        if getattr(args, name, None) is not None:
            kw[name] = getattr(args, name)
    return kw


def _parse_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["V05.n_bootstrap=20", ...]`` -> ``{"V05": {"n_bootstrap": 20}}`` (JSON values, else strings)."""
    from jaxvet.checks import canonical_id

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        cid, dot, name = key.strip().partition(".")
        if not sep or not dot or not cid or not name:
            raise JaxvetInputError(f"--option must look like CHECK.KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(canonical_id(cid), {})[name.strip()] = value
    return out


def _print_rates(summary: dict) -> None:
    rows = summary["overall"]
    print(f"{'kind':<8} {'check':<6} {'n':>7} {'insuff':>7} {'fail':>7}", file=sys.stderr)
    for r in rows:
        ff = "-" if r["fail_fraction"] is None else f"{r['fail_fraction']:.3f}"
        print(f"{r['kind']:<8} {r['check']:<6} {r['n']:>7} {r['n_insufficient']:>7} {ff:>7}", file=sys.stderr)


def run_campaign_command(args) -> int:
    """Entry point of ``jaxvet campaign`` (called by :mod:`jaxvet.cli`)."""
    lcs = load_lightcurves(args.lc_files or None)
    if getattr(args, "sectors", None):
        from jaxvet.io import parse_sector_list

        wanted = parse_sector_list(args.sectors)
        lcs = [lc.select_sectors(wanted) for lc in lcs]
    inj = InjectionConfig.create(**_injection_from_args(args))
    masks = None
    if getattr(args, "mask", None):
        from jaxvet.cli.ephemeris import data_missions
        from jaxvet.cli.main import parse_masks

        masks, _ = parse_masks(args.mask, None, data_missions(lcs[0]))
    print(
        f"jaxvet {__version__} campaign: {args.n_injections} injections ({', '.join(inj.kinds)}) into "
        f"{', '.join(lc.target or lc.source or '?' for lc in lcs)}; checks {args.checks}; "
        f"{len(jax.local_devices())} {jax.default_backend()} device(s)",
        file=sys.stderr,
    )
    t = run_campaign(
        lcs,
        n_injections=args.n_injections,
        checks=args.checks,
        seed=args.seed,
        chunk_size=args.chunk_size,
        out=args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        injection=inj,
        options=_parse_options(getattr(args, "option", None) or []),
        snr_bins=args.snr_bins,
        period_bins=args.period_bins,
        plots=not args.no_plots,
        progress=not args.no_progress,
        process_index=getattr(args, "process_index", None),
        process_count=getattr(args, "process_count", None),
        record_errors=getattr(args, "record_errors", False),
        mask=masks,
        mask_pad=getattr(args, "mask_pad", None),
    )
    summary = t.meta.get("summary") if hasattr(t, "meta") else None
    if summary:
        _print_rates(summary)
        tm = summary["timing"]
        rate = tm.get("injections_per_s")
        print(
            f"wrote {args.out}/results ({summary['n_rows']} rows), summary.json"
            + ("" if args.no_plots else ", rates_vs_snr.png, rates_vs_period.png")
            + (f"; {rate:.1f} injections/s" if rate else ""),
            file=sys.stderr,
        )
    return 0



class _CallableModule(types.ModuleType):
    """``jaxvet.campaign(...)`` runs :func:`run_campaign`; ``jaxvet.campaign.*`` stays this module.

    ``jaxvet/__init__.py`` binds this module as ``jaxvet.campaign``; giving the module object
    this subclass makes it callable while its attributes (``run_campaign``, ``summarize``...)
    stay reachable as ``jaxvet.campaign.<name>``.
    """

    def __call__(self, *args, **kwargs):
        return run_campaign(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
