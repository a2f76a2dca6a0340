"""Command-line interface: ``jaxvet vet``, ``jaxvet demo``, ``jaxvet campaign``, ``jaxvet pixel-campaign``,
``jaxvet checks``.

The ``vet`` contract (other tools depend on it)::

    jaxvet vet LC_FILE [LC_FILE ...] (--period D --t0 T0 --duration-hours H [--depth-ppm X]
                                       | --candidates TABLE.csv) [--time-system btjd|bkjd|bjd|mjd]
               [--tpf TPF_FILE ... [--ra DEG --dec DEG] [--allow-pickle]]
               [--checks V21,... | all] [--stellar-radius R --stellar-mass M]
               [--mask P,T0,D ...] [--mask-others] [--mask-pad PAD]
               [--detrend biweight|median [--detrend-window DAYS]] [--variability-threshold X]
               [--seed N] [--json PATH | -] [--plots DIR]

Bad input (missing/unreadable files, a non-positive period, an unknown check id, an ``--ra``/``--dec``
out of range or given alone) prints one ``jaxvet: error: ...`` line naming the file/field/option/id
and exits with status 2 -- no traceback.

``--ra``/``--dec`` (the target's ICRS position, degrees) are given to every ``--tpf`` stamp
(:func:`jaxvet.pixels.read_tpf` ``ra_deg``/``dec_deg``; for TPF FITS files they override the
header's ``RA_OBJ``/``DEC_OBJ``), so V09 places the target through the stamp's WCS.
``--allow-pickle`` lets the npz reader unpickle a stamp's ``wcs_header`` (trusted files only).
With ``--json -`` only JSON goes to stdout; progress and the human-readable summary go to stderr.

``--t0`` is BKJD for Kepler/K2 data and BTJD otherwise unless ``--time-system`` says otherwise;
conversions are printed and recorded in the JSON (``"conversions"``), next to a ``"light_curve"``
record (missions, sectors / quarters / campaigns).  Reader warnings are printed as
``jaxvet: warning: ...`` lines.  See docs/io.md.

``--mask P,T0,D`` (repeatable; T0 in the time system of ``--t0``) masks another planet's
transits, ``--mask-others`` (with ``--candidates``) vets each row with the other rows masked;
the JSON records them under ``"masking"``.  See docs/masking.md.

``--detrend biweight|median`` vets each candidate on its light curve divided by a sliding trend
computed with its transits masked (``--detrend-window`` days, default max(3 x duration, 0.25 d));
the JSON records it under ``"detrending"``.  Every candidate's out-of-transit variability is
recorded under ``"variability"``, and V02/V04 get the flag ``OOT_VARIABILITY`` above
``--variability-threshold`` x the depth.  See docs/detrending.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

from jaxvet._config import enable_compilation_cache
from jaxvet._version import __version__
from jaxvet.cli.summary import format_summary
from jaxvet.detrending import add_detrend_arguments, detrend_from_args
from jaxvet.errors import JaxvetInputError, NoTransitWarning
from jaxvet.masking import add_mask_arguments
from jaxvet.outputs.report import dumps_report

__all__ = ["main", "build_parser", "format_summary", "parse_options"]

#: a ``vet`` run with at least this many candidates shows a progress bar on stderr (not --quiet)
PROGRESS_MIN_CANDIDATES = 100


def _add_vet(sub):
    p = sub.add_parser(
        "vet", help="vet candidates on light-curve files", description="Vet transit candidates."
    )
    p.add_argument(
        "lc_files", nargs="+", metavar="LC_FILE", help="light-curve files (one target; several = sectors)"
    )
    g = p.add_argument_group("candidate (one of --period/--t0/--duration-hours or --candidates)")
    g.add_argument("--period", type=float, help="orbital period [days]")
    g.add_argument(
        "--t0",
        type=float,
        help="mid-transit time, in BTJD (TESS data) or BKJD (Kepler/K2 data) unless --time-system says "
        "otherwise; values >= 2,400,000 are BJD and values in 40,000-100,000 MJD (converted, with a note)",
    )
    g.add_argument(
        "--time-system",
        choices=("btjd", "bkjd", "bjd", "mjd"),
        help="time system of --t0 (and of the t0_btjd column of --candidates): BTJD = BJD - 2457000, "
        "BKJD = BJD - 2454833, MJD = BJD - 2400000.5 (default: BKJD for Kepler/K2 data, else BTJD)",
    )
    g.add_argument("--duration-hours", type=float, help="transit duration [hours]")
    g.add_argument("--depth-ppm", type=float, help="transit depth [ppm] (optional)")
    g.add_argument(
        "--candidates", metavar="TABLE.csv", help="CSV: id,period_days,t0_btjd,duration_hours[,depth_ppm]"
    )
    add_mask_arguments(p, others=True)
    add_detrend_arguments(p)
    p.add_argument(
        "--tpf", action="append", default=[], metavar="TPF_FILE", help="target pixel file(s) for V08/V09/V25"
    )
    p.add_argument(
        "--ra",
        type=float,
        metavar="DEG",
        help="target right ascension [deg, 0 <= RA < 360] for the --tpf stamps (with --dec); V09 places "
        "the target with the stamp's WCS (overrides RA_OBJ of TPF FITS files)",
    )
    p.add_argument(
        "--dec",
        type=float,
        metavar="DEG",
        help="target declination [deg, -90 <= Dec <= 90] for the --tpf stamps (with --ra; overrides DEC_OBJ)",
    )
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="unpickle the wcs_header of npz stamps so their WCS can be used. WARNING: unpickling "
        "executes code from the file -- use only for files you trust (default: not unpickled)",
    )
    p.add_argument("--checks", default="all", help="comma-separated check ids, or 'all' (default)")
    p.add_argument("--stellar-radius", type=float, help="stellar radius [R_sun] (V03)")
    p.add_argument("--stellar-mass", type=float, help="stellar mass [M_sun] (V03)")
    p.add_argument("--seed", type=int, default=0, help="random seed for bootstraps (default 0)")
    p.add_argument("--json", metavar="PATH", help="write results as JSON to PATH, or '-' for stdout")
    p.add_argument("--plots", metavar="DIR", help="write one PNG per check and candidate into DIR")
    p.add_argument("--sectors", help="only use these sectors (Kepler: quarters, K2: campaigns), e.g. 82,83")
    p.add_argument(
        "--flux-err-placeholder",
        choices=("estimate", "keep"),
        default="estimate",
        help="a constant flux_err far above the flux scatter (such as 1.0) is replaced by the robust "
        "point-to-point scatter ('estimate', default) or kept ('keep')",
    )
    p.add_argument("--chunk-size", type=int, default=1024, help="candidates per batch (default 1024)")
    p.add_argument(
        "--policy",
        metavar="FILE",
        help="disposition policy, .toml or .json (default: the shipped jaxvet-default; docs/disposition.md)",
    )
    _add_outputs(p)
    p.set_defaults(func=cmd_vet)


def parse_masks(items: list[str], system: str | None, missions: list[str]) -> tuple[list, list[dict]]:
    """``--mask`` values -> ``([(P, t0_btjd, D), ...], conversion records)``; t0 is read like
    ``--t0`` (:func:`jaxvet.cli.ephemeris.resolve_t0`).  A malformed value raises
    :class:`JaxvetInputError` naming ``--mask`` and the value."""
    from jaxvet.cli.ephemeris import resolve_t0
    from jaxvet.masking import parse_mask_option

    masks, records = [], []
    for k, item in enumerate(items):
        p, t0, d = parse_mask_option(item, "--mask")
        t0_btjd, record = resolve_t0(t0, system, missions)
        masks.append((p, t0_btjd, d))
        if record is not None:
            records.append({"candidate": f"mask[{k}]", **record})
    return masks, records


def _mask_pad(value) -> float:
    from jaxvet.masking import DEFAULT_MASK_PAD

    if value is None:
        return DEFAULT_MASK_PAD
    if not (value == value and 0 <= value < float("inf")):
        raise JaxvetInputError(f"--mask-pad must be a finite number >= 0, got {value!r}")
    return float(value)


def _add_outputs(p):
    p.add_argument(
        "--json-raw",
        action="store_true",
        help="include each result's arrays and plot_data in the JSON (large; default: metrics only)",
    )
    p.add_argument(
        "--table",
        metavar="PATH",
        help="write one row per candidate: .parquet, .csv, .ecsv or .fits (see docs/outputs.md)",
    )
    p.add_argument(
        "--report",
        metavar="DIR",
        help="write a one-page vetting sheet per candidate (DIR/<id>.png, .pdf) and DIR/index.html",
    )
    p.add_argument(
        "--max-plots", type=int, default=50, help="plots and sheets for at most this many candidates (50)"
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="CHECK.NAME=VALUE",
        help="a check option, e.g. V05.n_bootstrap=200 or V01.oe_sigma_threshold=4 (repeatable; "
        "values are numbers, true/false or text)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no informational lines")


def parse_options(items: list[str]) -> dict[str, dict]:
    """``["V05.n_bootstrap=200", ...]`` -> ``{"V05": {"n_bootstrap": 200}}`` (values as JSON literals,
    else text); a malformed item raises :class:`JaxvetInputError` naming it."""
    from jaxvet.checks import canonical_id

    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        cid, dot, name = key.partition(".")
        if not (sep and dot and cid.strip() and name.strip()):
            raise JaxvetInputError(
                f"--option {item!r} must look like CHECK.NAME=VALUE, e.g. V05.n_bootstrap=200"
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out.setdefault(canonical_id(cid), {})[name.strip()] = parsed
    return out


def _add_demo(sub):
    p = sub.add_parser("demo", help="vet simulated (and, if found, real TOI-5807) data; needs no download")
    p.add_argument(
        "--out", default="jaxvet-demo-output", help="output directory (default ./jaxvet-demo-output)"
    )
    p.add_argument("--no-real-data", action="store_true", help="skip the real TOI-5807 data even if found")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)


def _add_checks(sub):
    p = sub.add_parser("checks", help="list the available checks")
    p.set_defaults(func=cmd_checks)


def _add_campaign(sub):
    try:
        from jaxvet.campaigns.lightcurve import add_campaign_arguments, run_campaign_command
    except ImportError:  # pragma: no cover - campaign module missing
        return
    p = sub.add_parser("campaign", help="injection-recovery campaign (resumable, parquet output)")
    add_campaign_arguments(p)
    p.set_defaults(func=run_campaign_command)


def _add_pixel_campaign(sub):
    from jaxvet.cli.pixel_campaign import add_pixel_campaign_arguments, run_pixel_campaign_command

    p = sub.add_parser("pixel-campaign", help="pixel-level injection-recovery campaign (V08/V09)")
    add_pixel_campaign_arguments(p)
    p.set_defaults(func=run_pixel_campaign_command)


def _add_search(sub):
    from jaxvet.cli.search import add_search_arguments, run_search_command

    p = sub.add_parser("search", help="box least squares search: the strongest periodic dip")
    add_search_arguments(p)
    p.set_defaults(func=run_search_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxvet", description="Batched JAX vetting of TESS transit candidates."
    )
    parser.add_argument("--version", action="version", version=f"jaxvet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_vet(sub)
    _add_demo(sub)
    _add_campaign(sub)
    _add_pixel_campaign(sub)
    _add_search(sub)
    _add_checks(sub)
    return parser


def _say(msg: str, to_stderr: bool) -> None:
    print(msg, file=sys.stderr if to_stderr else sys.stdout, flush=True)


def _target_position(ra, dec) -> tuple[float | None, float | None]:
    """Validate ``--ra``/``--dec``: both or neither, RA in [0, 360), Dec in [-90, 90] degrees."""
    if ra is None and dec is None:
        return None, None
    if ra is None or dec is None:
        given, absent = ("--ra", "--dec") if dec is None else ("--dec", "--ra")
        value = ra if dec is None else dec
        raise JaxvetInputError(
            f"{given} {value!r} given without {absent}: give both --ra and --dec, or neither"
        )
    if not 0.0 <= ra < 360.0:  # also rejects nan
        raise JaxvetInputError(f"--ra must be in [0, 360) degrees, got {ra!r}")
    if not -90.0 <= dec <= 90.0:
        raise JaxvetInputError(f"--dec must be in [-90, 90] degrees, got {dec!r}")
    return float(ra), float(dec)


#: Python keywords in reader messages -> the command-line words that do the same.
_CLI_WORDS = {
    "flux_err_placeholder='keep'": "--flux-err-placeholder keep",
    "flux_err_placeholder='estimate'": "--flux-err-placeholder estimate",
}


def _cli_words(msg: str) -> str:
    for py, cli in _CLI_WORDS.items():
        msg = msg.replace(py, cli)
    return msg


def _quietly(fn, *a, **kw):
    """``fn(*a, **kw)`` with its :class:`JaxvetDataWarning` s printed as ``jaxvet: warning: ...`` lines."""
    from jaxvet.io import JaxvetDataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JaxvetDataWarning)
        out = fn(*a, **kw)
    for w in caught:
        if issubclass(w.category, JaxvetDataWarning):
            _say(f"jaxvet: warning: {_cli_words(str(w.message))}", True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return out


def _candidates(args, missions) -> tuple[list, list[dict]]:
    """The candidates of ``--candidates`` or ``--period/--t0/--duration-hours``, t0 in BTJD."""
    from jaxvet.cli.ephemeris import resolve_t0, table_conversion
    from jaxvet.data import Candidate
    from jaxvet.io import read_candidates

    single = [args.period, args.t0, args.duration_hours]
    if args.candidates:
        if any(v is not None for v in single):
            raise JaxvetInputError("give either --candidates or --period/--t0/--duration-hours, not both")
        candidates = _quietly(read_candidates, args.candidates, t0_time_system=args.time_system or "btjd")
        if args.stellar_radius or args.stellar_mass:
            candidates = [
                dataclasses.replace(
                    c,
                    stellar_radius=c.stellar_radius or args.stellar_radius,
                    stellar_mass=c.stellar_mass or args.stellar_mass,
                )
                for c in candidates
            ]
        record = table_conversion(args.candidates, args.time_system)
        return candidates, [] if record is None else [record]
    missing = [n for n, v in zip(("--period", "--t0", "--duration-hours"), single, strict=True) if v is None]
    if missing:
        raise JaxvetInputError(f"missing {', '.join(missing)} (or give --candidates TABLE.csv)")
    t0, record = resolve_t0(args.t0, args.time_system, missions)
    cand = Candidate(
        period_days=args.period,
        t0_btjd=t0,
        duration_hours=args.duration_hours,
        depth_ppm=args.depth_ppm,
        stellar_radius=args.stellar_radius,
        stellar_mass=args.stellar_mass,
        id="candidate",
    )
    return [cand], [] if record is None else [{"candidate": cand.id, **record}]


def _say_conversions(conversions: list[dict]) -> None:
    for rec in conversions:
        who = f"the {rec['source']} table" if rec["candidate"] == "*" else rec["candidate"]
        _say(
            f"note: t0 of {who} read as {rec['time_system']} ({rec['reason']}; "
            f"see --time-system)"
            + (f": {rec['input']!r} = {rec['t0_btjd']!r} BTJD" if "input" in rec else ""),
            True,
        )


def _read_tpfs(args, ra_deg, dec_deg) -> list:
    if not args.tpf:
        if ra_deg is not None:
            _say("note: --ra/--dec are only used by the pixel checks (give --tpf)", True)
        return []
    from jaxvet.pixels import read_tpf

    tpfs = [read_tpf(p, allow_pickle=args.allow_pickle, ra_deg=ra_deg, dec_deg=dec_deg) for p in args.tpf]
    for p, s in zip(args.tpf, tpfs, strict=True):
        if s.has_wcs and s.ra_deg is None:
            _say(f"note: {p}: the stamp has a WCS but no target position; give --ra/--dec to use it", True)
        elif ra_deg is not None and not s.has_wcs:
            pickled = any("pickled header not loaded" in n for n in s.notes)
            hint = " (npz wcs_header not unpickled; see --allow-pickle)" if pickled else ""
            _say(f"note: {p}: no usable WCS{hint}, so --ra/--dec cannot place the target", True)
    return tpfs


def _file_records(lc) -> list[dict]:
    """What the readers did to each input file (time system, offset, sectors, notes)."""
    from jaxvet.io import read_info

    info = read_info(lc)
    if info is None:
        return []
    return [
        {
            "file": part.source,
            "format": part.format,
            "mission": part.mission,
            "time_system": part.time_system,
            "time_offset_days": part.time_offset_days,
            "sectors": list(part.sectors),
            "sector_source": part.sector_source,
            "notes": list(part.notes),
        }
        for part in (info.parts or (info,))
    ]


def _file_time_conversions(files: list[dict]) -> list[dict]:
    """One ``conversions`` record per file whose times were moved to BTJD; each is announced."""
    out = [
        {
            "file": f["file"],
            "field": "time",
            "time_system": f["time_system"],
            "offset_days": f["time_offset_days"],
        }
        for f in files
        if f["time_offset_days"]
    ]
    groups: dict[tuple, list[str]] = {}
    for rec in out:
        groups.setdefault((rec["time_system"], rec["offset_days"]), []).append(rec["file"])
    for (system, offset), names in groups.items():
        who = names[0] if len(names) == 1 else f"{len(names)} files ({Path(names[0]).name}, ...)"
        _say(f"note: {who}: times read as {system} and converted to BTJD (t {offset:+.10g} d)", True)
    return out


def _light_curve_record(lc, missions: list[str], files: list[dict]) -> dict:
    from jaxvet.cli.ephemeris import units_label

    return {
        "missions": missions,
        "units": units_label(missions),
        "sectors": lc.sectors,
        "n_valid": lc.n_valid,
        "files": files,
    }


def _write_outputs(args, report, extra: dict, json_stdout: bool) -> None:
    info = not args.quiet
    if args.json:
        doc = {**report.to_dict(include_raw=args.json_raw), **extra}
        text = dumps_report(doc)
        if json_stdout:
            sys.stdout.write(text + "\n")
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text)
    _say(format_summary(report), json_stdout)
    if args.plots:
        from jaxvet.plotting import save_check_plots

        n_plots = 0
        for i, (c, res) in enumerate(zip(report.candidates, report.results, strict=True)):
            if i >= args.max_plots:
                _say(f"(plots limited to the first {args.max_plots} candidates; use --max-plots)", True)
                break
            n_plots += len(save_check_plots(res, args.plots, prefix=f"{c.id or i}_"))
        _say(f"wrote {n_plots} plot(s) to {args.plots}", True)
    if args.table:
        report.write_table(args.table)
        if info:
            _say(f"wrote {args.table} ({len(report)} rows)", True)
    if args.report:
        from jaxvet.plotting.sheet import write_report

        index = write_report(report, args.report, max_sheets=args.max_plots)
        if info:
            _say(f"wrote {min(len(report), args.max_plots)} sheet(s) and {index}", True)
    if args.json and not json_stdout and info:
        _say(f"wrote {args.json}", True)


def _vet(vet, lc, candidates, checks, tpfs, args, options, masks, mask_pad, detrend, policy=None):
    """:func:`jaxvet.vet` with the command line's arguments."""
    return vet(
        lc,
        candidates,
        checks,
        tpfs=tpfs,
        seed=args.seed,
        options=options,
        chunk_size=args.chunk_size,
        progress=not args.quiet and len(candidates) >= PROGRESS_MIN_CANDIDATES,
        mask=masks or None,
        mask_others=args.mask_others,
        mask_pad=mask_pad,
        detrend=detrend,
        variability_threshold=args.variability_threshold,
        policy=policy,
    )


def cmd_vet(args) -> int:
    from jaxvet.checks import resolve_checks
    from jaxvet.cli.ephemeris import data_missions, period_hints, units_label
    from jaxvet.disposition import resolve_policy
    from jaxvet.engine.runner import resolve_options, vet
    from jaxvet.io import parse_sector_list, read_lightcurves
    from jaxvet.outputs.table import TABLE_FORMATS

    json_stdout = args.json == "-"
    t_start = time.perf_counter()
    checks = resolve_checks(args.checks)  # unknown ids and options fail before any file is read
    options = parse_options(args.option)
    resolve_options(sorted(set(checks) | set(options)), options)
    policy = resolve_policy(args.policy)  # a bad policy file fails before any file is read
    if args.table and Path(args.table).suffix.lower() not in TABLE_FORMATS:
        raise JaxvetInputError(
            f"--table {args.table!r}: unknown extension; use one of {', '.join(sorted(TABLE_FORMATS))}"
        )
    ra_deg, dec_deg = _target_position(args.ra, args.dec)
    detrend = detrend_from_args(args)
    lc = _quietly(
        read_lightcurves, args.lc_files, split_sectors=True, flux_err_placeholder=args.flux_err_placeholder
    )
    missions = data_missions(lc)
    files = _file_records(lc)
    file_conversions = _file_time_conversions(files)
    if args.sectors:
        lc = lc.select_sectors(parse_sector_list(args.sectors))
    candidates, conversions = _candidates(args, missions)
    masks, mask_conversions = parse_masks(args.mask, args.time_system, missions)
    mask_pad = _mask_pad(args.mask_pad)
    if args.mask_others and not args.candidates:
        raise JaxvetInputError("--mask-others needs --candidates TABLE.csv (it masks the other rows)")
    conversions = conversions + mask_conversions
    _say_conversions(conversions)
    for msg in period_hints(lc, candidates):
        _say(f"jaxvet: {msg}", True)
    tpfs = _read_tpfs(args, ra_deg, dec_deg)
    if not args.quiet:
        _say(
            f"jaxvet {__version__}: {len(candidates)} candidate(s), {lc.n_valid} points in "
            f"{units_label(missions)} {lc.sectors}, {len(tpfs)} pixel stamp(s)",
            True,
        )
    with warnings.catch_warnings():  # period_hints above already said it in CLI words
        warnings.simplefilter("ignore", NoTransitWarning)
        report = _vet(vet, lc, candidates, checks, tpfs, args, options, masks, mask_pad, detrend, policy)
    _say_detrending(report, args.quiet)
    if report.masking is not None and not args.quiet:
        n_pts = [r["n_masked_points"] for r in report.masking["candidates"]]
        what = [f"{len(masks)} --mask ephemeris(es)"] if masks else []
        what += ["the other candidates"] if args.mask_others else []
        _say(
            f"masked {' and '.join(what)}: {min(n_pts)}-{max(n_pts)} valid points per candidate "
            f"({report.masking['n_rows']} light-curve row(s))",
            True,
        )
    extra = {
        "conversions": file_conversions + conversions,
        "light_curve": _light_curve_record(lc, missions, files),
    }
    _write_outputs(args, report, extra, json_stdout)
    if not args.quiet:
        _say(f"done in {time.perf_counter() - t_start:.1f} s", True)
    return 0


def _say_detrending(report, quiet: bool) -> None:
    if report.detrending is not None and not quiet:
        d = report.detrending
        _say(f"detrended ({d['method']}, window {d['window_rule']}): {d['n_rows']} light-curve row(s)", True)
    flagged = [report.candidate_id(i) for i, v in enumerate(report.variability or []) if v["flag"]]
    if flagged and not quiet:
        shown = ", ".join(flagged[:5]) + (", ..." if len(flagged) > 5 else "")
        hint = "" if report.detrending is not None else " (consider --detrend biweight)"
        _say(
            f"note: large out-of-transit variability (OOT_VARIABILITY) for {len(flagged)} candidate(s): "
            f"{shown}{hint}",
            True,
        )


def cmd_demo(args) -> int:
    from jaxvet.cli.demo import run_demo

    return run_demo(out_dir=args.out, use_real_data=not args.no_real_data, seed=args.seed)


def cmd_checks(args) -> int:
    from jaxvet.checks import available_checks, get_check

    for cid in available_checks():
        spec = get_check(cid)
        print(f"{cid:<5} {spec.name:<28} {'(needs --tpf) ' if spec.needs_tpf else ''}{spec.description}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    enable_compilation_cache()
    try:
        return int(args.func(args) or 0)
    except JaxvetInputError as exc:
        print(f"jaxvet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxvet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
