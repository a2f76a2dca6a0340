"""Per-candidate cost of the light-curve checks V11b ... V19 against the reference, in one run.

    python benchmarks/bench_new_checks.py --n 1000 --n-ref 20

Workload: the four TOI-5807 sectors (``--data-dir``, else ``$JAXVET_DATA_DIR/tic188646744``,
else ``../shared/data/tic188646744``) and ``--n`` random candidates from
``candidates.draw_candidates(n, seed, t_first)`` (P ~ U[1, 20) d, D ~ U[1, 6) h), depth 250 ppm.

* **jaxvet**: each check alone through ``jaxvet.vet(lc, cands, [check], seed=0,
  estimate_depth=False)`` (``--n-for V17=200`` runs a slow check on the first 200 only):
  one first call (trace + compile + run), then ``--reps`` warm calls;
  the fastest warm call / n is the per-candidate cost (wall and process CPU time);
  ``compile_s`` = first call - fastest warm call.
* **reference** (tess-vetter 0.3.20), in a subprocess of the same invocation
  (``--reference-python``, default ``$JAXVET_REFERENCE_PYTHON``, else this Python), on the
  first ``--n-ref`` of the same candidates, one candidate at a time, with the inputs
  ``benchmarks/reference_golden_v*.py`` use: the light curve stitched by
  ``btv.stitch_lightcurves``, a fresh ``VettingSession.from_api(preset='extended',
  network=False, stellar, tic_id)`` per candidate and check (its set-up is timed apart), then
  ``session.run(id)`` timed; V18 through ``EphemerisSensitivitySweepCheck().run`` (the session
  skips it without celerite2).  One untimed warm-up candidate first.
* ratio = reference mean per-candidate wall time / jaxvet warm wall time per candidate.

A check is one entry of :data:`CHECKS`; ids the installed jaxvet does not register are
skipped (and listed in the JSON).  Writes ``benchmarks/results/new_checks_cpu.json`` (``--out``)
with the command, date, load averages before and after each stage, versions and the ratios.
No timing is asserted anywhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from candidates import TOI5807_SECTORS, cpu_model, data_dir, draw_candidates  # noqa: E402

#: check id -> how the reference runs it ("session": VettingSession.run; "v18": the wrapper)
CHECKS = {
    "V11": "session",
    "V11b": "session",
    "V12": "session",
    "V13": "session",
    "V15": "session",
    "V16": "session",
    "V17": "session",
    "V18": "v18",
    "V19": "session",
}
DEPTH_PPM = 250.0
TARGET_RATIO = 30.0
DEFAULT_OUT = HERE / "results" / "new_checks_cpu.json"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _time(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


# ----------------------------------------------------------------------------------------------
# reference worker (run in a subprocess: imports tess_vetter, never jax)
# ----------------------------------------------------------------------------------------------
def reference_worker(args) -> int:
    import numpy as np
    import tess_vetter
    import tess_vetter.api as btv
    from reference_golden import STELLAR_KW, TIC_ID, stitch_sectors

    ds = btv.load_local_dataset(data_dir(args.data_dir))
    lc, _ = stitch_sectors(ds, tuple(TOI5807_SECTORS))
    stellar = btv.StellarParams(**STELLAR_KW)
    cs = draw_candidates(args.n, args.seed, float(np.asarray(lc.time)[0])).as_list()[: args.n_ref]

    def run_one(cid, c):
        eph = btv.Ephemeris(**c)
        cand = btv.Candidate(ephemeris=eph, depth_ppm=DEPTH_PPM)
        t_setup = time.perf_counter()
        if CHECKS[cid] == "v18":
            from tess_vetter.domain.detection import TransitCandidate
            from tess_vetter.validation.checks_extended_wrapped import EphemerisSensitivitySweepCheck
            from tess_vetter.validation.registry import CheckConfig, CheckInputs

            tc = TransitCandidate(period=c["period_days"], t0=c["t0_btjd"],
                                  duration_hours=c["duration_hours"], depth=DEPTH_PPM * 1e-6, snr=0.0)
            inputs = CheckInputs(lc=lc.to_internal(), candidate=tc)
            setup = time.perf_counter() - t_setup
            w, cpu = _time(lambda: EphemerisSensitivitySweepCheck().run(inputs, CheckConfig()))
        else:
            session = btv.VettingSession.from_api(lc=lc, candidate=cand, stellar=stellar, network=False,
                                                  preset="extended", tic_id=TIC_ID)
            setup = time.perf_counter() - t_setup
            w, cpu = _time(lambda: session.run(cid))
        return setup, w, cpu

    out = {"tess_vetter_version": tess_vetter.__version__, "numpy_version": np.__version__, "checks": {}}
    for cid in args.ref_checks.split(","):
        run_one(cid, cs[0])  # warm-up (imports, caches)
        rows = [run_one(cid, c) for c in cs]
        walls, cpus = [1e3 * r[1] for r in rows], [1e3 * r[2] for r in rows]
        out["checks"][cid] = {
            "n": len(rows),
            "mean_ms": statistics.fmean(walls),
            "median_ms": statistics.median(walls),
            "min_ms": min(walls),
            "max_ms": max(walls),
            "mean_cpu_ms": statistics.fmean(cpus),
            "mean_setup_ms": statistics.fmean(1e3 * r[0] for r in rows),
            "load_after": _load(),
        }
        print(f"reference {cid}: {out['checks'][cid]['mean_ms']:.2f} ms/candidate", file=sys.stderr,
              flush=True)
    json.dump(out, sys.stdout)
    return 0


def run_reference(args, ids) -> dict:
    py = args.reference_python or os.environ.get("JAXVET_REFERENCE_PYTHON") or sys.executable
    cmd = [py, str(Path(__file__).resolve()), "--reference-worker", "--n", str(args.n),
           "--n-ref", str(args.n_ref), "--seed", str(args.seed), "--ref-checks", ",".join(ids)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the reference needs no jaxvet
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:], "python": Path(py).name}
    return {**json.loads(p.stdout), "python": Path(py).name}


# ----------------------------------------------------------------------------------------------
# jaxvet
# ----------------------------------------------------------------------------------------------
def run_jaxvet(args, ids) -> dict:
    import jaxvet
    from jaxvet.data import Candidate

    d = data_dir(args.data_dir)
    lc = jaxvet.read_lightcurves([str(d / f"sector{s}_pdcsap.csv") for s in TOI5807_SECTORS])
    cs = draw_candidates(args.n, args.seed, float(lc.time[0]))
    cands = [Candidate(**c, depth_ppm=DEPTH_PPM) for c in cs.as_list()]
    out = {}
    for cid in ids:
        n = min(args.n_for.get(cid, args.n), args.n)

        def run(cid=cid, n=n):
            if args.check_only:
                return _check_only(lc, cands[:n], cid)
            return jaxvet.vet(lc, cands[:n], [cid], seed=0, estimate_depth=False)

        load0 = _load()
        first, _ = _time(run)
        warm = [_time(run) for _ in range(args.reps)]
        wall, cpu = min(w for w, _ in warm), min(c for _, c in warm)
        out[cid] = {
            "n": n,
            "first_call_s": round(first, 3),
            "compile_s": round(first - wall, 3),
            "warm_s": [round(w, 4) for w, _ in warm],
            "warm_ms_per_candidate": 1e3 * wall / n,
            "warm_cpu_ms_per_candidate": 1e3 * cpu / n,
            "load_before": load0,
            "load_after": _load(),
        }
        print(f"jaxvet {cid} (n={n}): first {first:.1f} s, warm {1e3 * wall / n:.3f} ms/candidate",
              flush=True)
    return out


def _check_only(lc, cands, cid: str, chunk_size: int = 1024) -> list:
    """One check through the engine as :func:`jaxvet.vet` runs it (contexts of ``chunk_size``
    candidates, one run segment, the check's formatting), without vet's report-level steps (the
    variability assessment and the disposition), which the reference's ``session.run`` lacks."""
    import numpy as np

    from jaxvet.checks import get_check
    from jaxvet.data import CandidateBatch, LightCurveBatch, bucket_size
    from jaxvet.engine.context import RunCache, ShapeLadder, VetContext
    from jaxvet.engine.runner import resolve_options, run_contexts

    lcb = LightCurveBatch.from_lightcurves([lc])
    cache, shapes = RunCache(), ShapeLadder()
    pad = bucket_size(min(chunk_size, len(cands)), 8)
    ctxs = []
    for a in range(0, len(cands), chunk_size):
        chunk = cands[a : a + chunk_size]
        cb = CandidateBatch.from_candidates(chunk, lc_index=np.zeros(len(chunk), np.int64), pad_to=pad)
        ctxs.append(VetContext(lightcurves=[lc], lcb=lcb, candidates=chunk, cb=cb, seed=0,
                               candidate_ids=np.arange(a, a + len(chunk)), cache=cache, chunk_key=a,
                               shapes=shapes))
    opts = resolve_options([cid], None)
    host = run_contexts(ctxs, [cid], opts)
    spec = get_check(cid)
    return [r for ctx, h in zip(ctxs, host[cid], strict=True)
            for r in spec.finish(ctx, h, opts[cid])[: len(ctx.candidates)]]


def _versions() -> dict:
    import jax
    import numpy as np

    import jaxvet

    return {"jaxvet": getattr(jaxvet, "__version__", "?"), "jax": jax.__version__,
            "jaxlib": getattr(jax.lib, "__version__", jax.__version__), "numpy": np.__version__,
            "python": platform.python_version(), "devices": [str(x) for x in jax.devices()]}


def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=HERE).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jaxvet"], capture_output=True,
                               text=True, cwd=HERE.parent).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except OSError:
        return "unknown"


def _n_for(text: str) -> dict[str, int]:
    return {k.strip(): int(v) for k, v in (item.split("=") for item in text.split(",") if item.strip())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="jaxvet batch size")
    ap.add_argument("--n-ref", type=int, default=20, help="reference candidates (the first of the n)")
    ap.add_argument("--checks", default=",".join(CHECKS), help="comma-separated ids (of CHECKS)")
    ap.add_argument(
        "--n-for", type=_n_for, default={}, help="smaller batches for slow checks, e.g. V17=200,V18=200"
    )
    ap.add_argument("--reps", type=int, default=2, help="warm jaxvet calls per check (fastest kept)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--reference-python", default=None)
    ap.add_argument("--skip-reference", action="store_true")
    ap.add_argument("--check-only", action="store_true",
                    help="time each check through the engine without vet's variability and disposition steps")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--reference-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ref-checks", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.reference_worker:
        return reference_worker(args)

    from jaxvet.checks import available_checks

    wanted = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        ap.error(f"no benchmark entry for {unknown}; known: {', '.join(CHECKS)}")
    registered = set(available_checks())
    ids = [c for c in wanted if c in registered]
    skipped = [c for c in wanted if c not in registered]
    command = " ".join(["python benchmarks/bench_new_checks.py", *(sys.argv[1:] if argv is None else argv)])
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    load_start = _load()
    ref = {"skipped": True} if args.skip_reference else run_reference(args, ids)
    jv = run_jaxvet(args, ids)
    rows = {}
    for cid in ids:
        r = (ref.get("checks") or {}).get(cid)
        row = {"jaxvet": jv[cid], "reference": r}
        if r:
            row["ratio_mean"] = r["mean_ms"] / jv[cid]["warm_ms_per_candidate"]
            row["ratio_median"] = r["median_ms"] / jv[cid]["warm_ms_per_candidate"]
            row["ratio_cpu_mean"] = r["mean_cpu_ms"] / jv[cid]["warm_cpu_ms_per_candidate"]
            row["meets_target"] = row["ratio_mean"] >= TARGET_RATIO
        rows[cid] = row
    out = {
        "generator": "benchmarks/bench_new_checks.py",
        "command": command,
        "date_utc": started,
        "git": _git_rev(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_start": load_start,
        "load_end": _load(),
        "versions": _versions(),
        "reference": {k: v for k, v in ref.items() if k != "checks"},
        "workload": {"n": args.n, "n_for": args.n_for, "n_ref": args.n_ref, "seed": args.seed,
                     "reps": args.reps, "depth_ppm": DEPTH_PPM, "sectors": list(TOI5807_SECTORS),
                     "jaxvet_timed": "check only (engine)" if args.check_only else "jaxvet.vet"},
        "target_ratio": TARGET_RATIO,
        "skipped_unregistered": skipped,
        "checks": rows,
    }
    print(f"\n{'check':<6}{'n':>6}{'ref ms':>10}{'jaxvet ms':>11}{'ratio':>8}{'compile s':>11}")
    for cid, row in rows.items():
        r = row["reference"]
        ref_ms = f"{r['mean_ms']:.2f}" if r else "-"
        ratio = f"{row['ratio_mean']:.1f}" if r else "-"
        print(f"{cid:<6}{row['jaxvet']['n']:>6}{ref_ms:>10}{row['jaxvet']['warm_ms_per_candidate']:>11.3f}{ratio:>8}"
              f"{row['jaxvet']['compile_s']:>11.1f}")
    if skipped:
        print("skipped (not registered):", ", ".join(skipped))
    if "error" in ref:
        print("reference failed:", ref["error"][-500:])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
