"""``jaxvet search``: the strongest box least squares peak of a light curve (see jaxvet.search)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from jaxvet.errors import JaxvetInputError

__all__ = ["add_search_arguments", "run_search_command"]


def add_search_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.description = "Box least squares search (batched, astropy BoxLeastSquares semantics); prints the peak."
    p.add_argument("lc_files", nargs="+", metavar="LC_FILE", help="light-curve files of one target")
    p.add_argument(
        "--min-period", type=float, help="shortest trial period [d] (default 2 x longest duration)"
    )
    p.add_argument("--max-period", type=float, help="longest trial period [d] (default half the baseline)")
    p.add_argument("--durations-hours", default="1,2,4,8", help="trial durations [h] (default 1,2,4,8)")
    p.add_argument("--frequency-factor", type=float, default=1.0, help="grid spacing factor (astropy's)")
    p.add_argument("--max-periods", type=int, help="coarsen the period grid to at most N periods")
    p.add_argument("--objective", choices=("likelihood", "snr"), default="likelihood")
    p.add_argument("--json", metavar="FILE", help="also write the peak as JSON")
    return p


def run_search_command(args) -> int:
    from jaxvet.campaigns.config import load_lightcurves
    from jaxvet.search import box_search, period_grid

    (lc,) = load_lightcurves(args.lc_files)
    try:
        durations = np.array([float(x) for x in str(args.durations_hours).split(",") if x.strip()]) / 24.0
    except ValueError:
        raise JaxvetInputError(f"--durations-hours must be numbers, got {args.durations_hours!r}") from None
    v = lc.valid
    base = float(np.ptp(lc.time[v])) if v.sum() > 1 else 0.0
    lo = 2.0 * float(durations.max()) if args.min_period is None else args.min_period
    hi = 0.5 * base if args.max_period is None else args.max_period
    periods = period_grid(
        base,
        lo,
        hi,
        float(durations.min()),
        frequency_factor=args.frequency_factor,
        max_periods=args.max_periods,
    )
    r = box_search(lc, periods=periods, durations=durations, objective=args.objective)
    peak = {
        "target": lc.target,
        "n_periods": int(periods.size),
        "period_days": float(r["period"][0]),
        "t0_btjd": float(r["t0"][0]),
        "duration_hours": float(r["duration"][0] * 24.0),
        "depth_ppm": float(r["depth"][0] * 1e6),
        "depth_snr": float(r["depth_snr"][0]),
        "power": float(r["power"][0]),
        "objective": args.objective,
    }
    print(
        f"{lc.target or 'light curve'}: P = {peak['period_days']:.6f} d, t0 = {peak['t0_btjd']:.5f}, "
        f"duration {peak['duration_hours']:.2f} h, depth {peak['depth_ppm']:.1f} ppm, "
        f"SNR {peak['depth_snr']:.1f} ({peak['n_periods']} periods)"
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(peak, f, indent=2)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
