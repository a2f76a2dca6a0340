"""Compare disposition policies on the rows of light-curve campaigns (docs/disposition.md).

Re-disposes every row of each campaign directory (``jaxvet campaign ... --out DIR``) under a
baseline policy and the shipped default (:func:`jaxvet.disposition.rows.redispose`: from the
rows' metric columns, no re-vetting), and writes, per campaign and policy, the classes per kind,
the effectiveness on the false-alarm kinds, how often each rule fires per kind and the deciding
reasons of the rows the policy gets wrong.  The first campaign is the one the policy was tuned
on, the others are held out.  With ``--results-prefix``, each campaign's ``summary.json`` is also
written again with the shipped policy's ``disposition_*`` fields (``PREFIX_seedS_nN.json``).

Usage: ``python benchmarks/disposition_policy_study.py DIR_TUNE DIR_VALIDATE --baseline OLD.toml
[--also OTHER.toml] --out study.json [--results-prefix benchmarks/results/disposition_campaign_toi5807_v4]``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from jaxvet.campaigns.parts import read_results
from jaxvet.campaigns.summary import FALSE_ALARM_KINDS, disposition_effectiveness, disposition_rates
from jaxvet.disposition import default_policy, load_policy
from jaxvet.disposition.evaluate import _fires
from jaxvet.disposition.rows import redispose, row_results

#: the class each kind should get
WANTED = {"planet": "PC", "eb": "FP", "inverted": "not PC", "scrambled": "not PC"}


def _ok(kind: str, klass: str) -> bool:
    want = WANTED[kind]
    return klass != "PC" if want == "not PC" else klass == want


def _has_columns(table, policy) -> bool:
    names = set(table.column_names)
    return all(f"{r.check}_{m}" in names for r in policy.rules if r.check != "run" for m in r.metric_names()
               if f"{r.check}_status" in names)


def from_stored(table, baseline, policy) -> list[dict]:
    """Exact dispositions under ``policy`` of rows disposed under ``baseline`` by a campaign
    whose rows lack some metric columns: the stored reasons of the rules both policies share
    with the same predicate, plus the rules of ``policy`` that are new (evaluated from the
    columns), ordered as :func:`jaxvet.disposition.dispose` orders them."""
    old = {r.code: r for r in baseline.rules}
    same = {r.code for r in policy.rules if r.code in old and old[r.code].to_dict() == r.to_dict()}
    new = [r for r in policy.rules if r.code not in old]
    if {r.code for r in policy.rules} - same - {r.code for r in new} or set(old) - same:
        raise SystemExit(f"{policy.id} changes or removes rules of {baseline.id}: re-run the campaign")
    names = set(table.column_names)
    unmeasured = [r.code for r in new if any(f"{r.check}_{m}" not in names for m in r.metric_names())]
    if unmeasured:
        print(f"{policy.id}: rules {unmeasured} have no columns in these rows (never fire here)")
    results, flags = row_results(table, {r.check for r in new if r.check != "run"})
    order = {r.code: k for k, r in enumerate(policy.rules)}
    rank = {r.code: (-r.priority, {"FP": 0, "FA": 1}.get(r.klass, 2), order[r.code]) for r in policy.rules}
    klass = {r.code: r.klass for r in policy.rules}
    out = []
    for i, (stored, reasons) in enumerate(zip(table.column("disposition").to_pylist(),
                                              table.column("disposition_reasons").to_pylist(), strict=True)):
        fired = [c for c in (reasons or "").split(";") if c in same]
        fired += [r.code for r in new if _fires(r, results[i], flags[i])]
        fired.sort(key=rank.__getitem__)
        deciding = [c for c in fired if klass[c] != "flag"]
        out.append({"class": klass[deciding[0]] if deciding else stored, "reasons": fired,
                    "policy": policy.id})
    return out


def _with_v05_ceiling(table, config):
    """Rows of a campaign run before V05's ``t_total_max_hours`` was a column get it from V05's
    options of that campaign (its ceiling ``t_hi`` times the candidate's duration)."""
    import pyarrow as pa

    from jaxvet.checks.v05_transit_shape import V05Options

    if "V05_t_total_hours" not in table.column_names or "V05_t_total_max_hours" in table.column_names:
        return table
    t_hi = V05Options(**config.get("options", {}).get("V05", {})).fit_bounds().t_hi
    d = np.asarray(table.column("duration_hours").to_pylist(), float)
    return table.append_column("V05_t_total_max_hours", pa.array(t_hi * d))


def evaluate(table, policy, baseline) -> dict:
    """Classes per kind, effectiveness, rule firings per kind and the reasons of the misses."""
    disp = redispose(table, policy) if _has_columns(table, policy) else from_stored(table, baseline, policy)
    kind = np.asarray(table.column("kind").to_pylist(), dtype=object)
    cls = np.asarray([d["class"] for d in disp], dtype=object)
    out: dict = {"policy": policy.id, "method": "redispose" if _has_columns(table, policy) else "from_stored",
                 "kinds": {}}
    for k in WANTED:
        sel = np.nonzero(kind == k)[0]
        if not sel.size:
            continue
        counts = {c: int(np.sum(cls[sel] == c)) for c in ("PC", "FP", "FA", "undetermined")}
        n_ok = sum(_ok(k, cls[i]) for i in sel)
        fired = Counter(code for i in sel for code in disp[i]["reasons"])
        missed = Counter(f"{cls[i]}:{disp[i]['reasons'][0] if disp[i]['reasons'] else '-'}"
                         for i in sel if not _ok(k, cls[i]))
        out["kinds"][k] = {"n": int(sel.size), **counts, "wanted": WANTED[k], "n_wanted": int(n_ok),
                           "fraction_wanted": round(n_ok / sel.size, 4),
                           "rule_fires": dict(sorted(fired.items())),
                           "missed_by": dict(sorted(missed.items()))}
    fa = np.isin(kind, FALSE_ALARM_KINDS)
    out["effectiveness"] = round(float(np.mean(cls[fa] != "PC")), 4) if fa.any() else None
    out["distinct_false_alarm_candidates_called_pc"] = len({
        (round(float(p), 5), round(float(t), 4))
        for p, t, c, f in zip(table.column("period_days").to_pylist(), table.column("t0_btjd").to_pylist(),
                              cls, fa, strict=True) if f and c == "PC"
    })
    return out, cls


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaigns", nargs="+", help="campaign directories: the tuning one first")
    ap.add_argument("--baseline", required=True, help="the policy file to compare with")
    ap.add_argument("--also", action="append", default=[], help="another policy to evaluate (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--results-prefix", default=None)
    args = ap.parse_args()
    policies = [load_policy(args.baseline), *[load_policy(p) for p in args.also], default_policy()]
    rows = []
    for j, d in enumerate(args.campaigns):
        table = read_results(d)
        sp = Path(d) / "summary.json"
        config = json.loads((Path(d) / "config.json").read_text())
        summary = json.loads(sp.read_text()) if sp.exists() else {"config": config}
        table = _with_v05_ceiling(table, config)
        entry = {"role": "tune" if j == 0 else "validate", "seed": summary["config"]["seed"],
                 "n_rows": table.num_rows, "checks": summary["config"]["checks"],
                 "wall_s": summary.get("timing", {}).get("wall_s"), "policies": []}
        for pol in policies:
            ev, cls = evaluate(table, pol, policies[0])
            entry["policies"].append(ev)
        rows.append(entry)
        if args.results_prefix:
            import pyarrow as pa

            t = table.set_column(table.column_names.index("disposition"), "disposition",
                                 pa.array(list(cls), type=pa.string()))
            kinds = summary["config"]["injection"]["kinds"]
            bins = [float("inf") if b is None else b for b in summary["config"]["snr_bins"]]
            pbins = [float("inf") if b is None else b for b in summary["config"]["period_bins"]]
            summary.update({
                "disposition_policy": policies[-1].id,
                "disposition_rates": disposition_rates(t, kinds, bins, by="snr"),
                "disposition_rates_by_period": disposition_rates(t, kinds, pbins, by="period"),
                "disposition_effectiveness": disposition_effectiveness(t),
            })
            n_planned = config.get("n_injections")
            summary["rows_done"] = {"n": table.num_rows, "of": n_planned,
                                    "complete": table.num_rows == n_planned}
            path = Path(f"{args.results_prefix}_seed{entry['seed']}_n{table.num_rows}.json")
            path.write_text(json.dumps(summary, indent=1))
    Path(args.out).write_text(json.dumps({"campaigns": rows}, indent=1))
    for e in rows:
        for ev in e["policies"]:
            line = ", ".join(f"{k} {v['n_wanted']}/{v['n']} {v['wanted']}" for k, v in ev["kinds"].items())
            print(f"{e['role']} seed {e['seed']} {ev['policy']}: {line}; E={ev['effectiveness']}")


if __name__ == "__main__":
    main()
