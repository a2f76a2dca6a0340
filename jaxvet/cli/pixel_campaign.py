"""``jaxvet pixel-campaign``: the command line of :func:`jaxvet.campaigns.pixel.run_pixel_campaign`."""

from __future__ import annotations

import sys
from typing import Any

from jaxvet.campaigns.pixel import run_pixel_campaign
from jaxvet.errors import JaxvetInputError

__all__ = ["add_pixel_campaign_arguments", "run_pixel_campaign_command"]


def _range_arg(text: str):
    """``"1:10"`` -> (1.0, 10.0); ``"3"`` -> 3.0 (fixed)."""
    parts = [p for p in str(text).split(":") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise JaxvetInputError(f"a range must be LO:HI or a number, got {text!r}") from None
    if len(vals) == 1:
        return vals[0]
    if len(vals) == 2:
        return (vals[0], vals[1])
    raise JaxvetInputError(f"a range must be LO:HI or a number, got {text!r}")


_RANGE_FLAGS = (
    ("--period", "period_days", "orbital period [d], LO:HI (log-uniform) or a value (default 1:10)"),
    ("--duration-hours", "duration_hours", "duration [h] (default 1:5)"),
    ("--depth-ppm", "depth_ppm", "depth in the target aperture [ppm] (log-uniform, default 500:5000)"),
    ("--separation-px", "separation_px", 'neighbour separation [px, 21"/px] (default 1.5:4)'),
    ("--neighbour-flux-ratio", "neighbour_flux_ratio", "neighbour / target flux (default 0.3:1)"),
    ("--target-flux", "target_flux", "target flux [e-/s] (default 20000)"),
)


def add_pixel_campaign_arguments(parser):
    """Add the ``jaxvet pixel-campaign`` arguments to ``parser``."""
    parser.description = (
        "Simulate target-pixel stamps with a planet on the target or a diluted eclipsing binary on a "
        "neighbour, vet each with the pixel checks, and aggregate how often the signal is localized."
    )
    parser.add_argument("--n-injections", type=int, default=64, help="number of injections (default 64)")
    parser.add_argument("--kinds", default="planet,diluted_eb", help="planet, diluted_eb (default both)")
    parser.add_argument("--checks", default="V08,V09", help="check ids (default V08,V09)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument(
        "--chunk-size", type=int, default=16,
        help="injections per batched call and result part (the unit of resuming; default 16)",
    )
    parser.add_argument("--n-cadences", type=int, help="cadences per stamp (default 2000, 10-min)")
    parser.add_argument(
        "--out", metavar="DIR",
        help="write DIR/results/part-*.parquet (resumable), DIR/results.parquet and DIR/summary.json",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = parser.add_argument_group("injected signals")
    for flag, _, help_ in _RANGE_FLAGS:
        g.add_argument(flag, help=help_)
    return parser


def run_pixel_campaign_command(args) -> int:
    """Entry point of ``jaxvet pixel-campaign`` (called by :mod:`jaxvet.cli`)."""
    ranges: dict[str, Any] = {}
    for flag, name, _ in _RANGE_FLAGS:
        v = getattr(args, flag.lstrip("-").replace("-", "_"))
        if v is not None:
            ranges[name] = _range_arg(v)
    if args.n_cadences is not None:
        ranges["n_cadences"] = args.n_cadences
    t = run_pixel_campaign(
        args.n_injections,
        kinds=args.kinds,
        checks=args.checks,
        seed=args.seed,
        chunk_size=args.chunk_size,
        out=args.out,
        progress=not args.no_progress,
        **ranges,
    )
    s = t.meta["summary"]
    print(f"{'kind':<11} {'check':<5} {'n':>4} {'fail':>6} {'warn':>6} {'off-target':>10}", file=sys.stderr)

    def fmt(x):
        return "-" if x is None else f"{x:.3f}"

    for r in s["overall"]:
        print(
            f"{r['kind']:<11} {r['check']:<5} {r['n_total']:>4} {fmt(r.get('fail_fraction')):>6} "
            f"{fmt(r.get('warn_fraction')):>6} {fmt(r.get('off_target_fraction')):>10}",
            file=sys.stderr,
        )
    rate = s["timing"]["injections_per_s"]
    where = f"wrote {args.out}/results.parquet, summary.json; " if args.out else ""
    resumed = s["timing"].get("n_resumed") or 0
    speed = f"{rate:.2f} injections/s" if rate else "nothing left to vet"
    print(f"{where}{len(t)} injections ({resumed} resumed), {speed}", file=sys.stderr)
    return 0
