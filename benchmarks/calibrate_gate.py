"""Calibrate the regression gate: false alarms at other seeds, detections of injected changes.

Runs the gate study (configs/gate.toml) on one engine at N root seeds other than the baseline's, each as it is
and with each injected change (learning rate halved, epochs halved, batch size 64; the frozen layers trained, which
moves the findings more than the means; and the source models trained for half their epochs, which moves
nothing measurably, reported without a target), and checks every run against
that engine's baseline (results/baseline.json for numba, results/baseline-tensorflow.json for tensorflow).
Prints, per condition, at how many seeds the gate raised an alarm, how many of those alarms the arms' own
statistics alone and the findings alone would have raised, which checks moved, and how often a verdict
changed to or from "no evidence" (reported by `check`, not a failure). Targets: no false alarm at any seed;
each change detected at every seed.

    .venv/bin/python benchmarks/calibrate_gate.py                       # numba, 20 seeds (1..20): 120 studies, 16 min
    .venv/bin/python benchmarks/calibrate_gate.py --engine tensorflow   # 18 min (both: 2 cores shared with other jobs)
    .venv/bin/python benchmarks/calibrate_gate.py --seeds 3             # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blobs_transfer import api  # noqa: E402
from blobs_transfer.cli import quiet_tensorflow  # noqa: E402

CHANGES = {
    "none (other seeds)": {},
    "learning rate halved": {"training.learning_rate": 0.005},
    "epochs halved": {"training.epochs": 50},
    "batch size 64": {"training.batch_size": 64},
    "frozen layers trained": "unfreeze",  # every transfer arm trains all its layers: a lost `trainable = False`
    "source epochs halved": {"source.epochs": 50},
}
MEASURED_ONLY = ("source epochs halved",)  # moves no statistic measurably (docs/gate.md): reported, no target
BASELINES = {"numba": ROOT / "results" / "baseline.json", "tensorflow": ROOT / "results" / "baseline-tensorflow.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of root seeds (1..N) [20]")
    parser.add_argument("--config", default=str(ROOT / "configs" / "gate.toml"))
    parser.add_argument("--engine", default="numba", choices=sorted(BASELINES))
    parser.add_argument("--baseline", default=None, help="[the engine's committed baseline]")
    parser.add_argument("--json", default=None, help="also write the per-run outcomes here")
    args = parser.parse_args()
    quiet_tensorflow()
    baseline = args.baseline or str(BASELINES[args.engine])
    outcomes = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, change in CHANGES.items():
            for seed in range(1, args.seeds + 1):
                overrides = change if isinstance(change, dict) else {}
                cfg = api.load_config(args.config, **{"study.seed": seed, "study.engine": args.engine, **overrides})
                if change == "unfreeze":  # arms keep their names, so the gate compares them with the frozen ones
                    cfg = dataclasses.replace(
                        cfg, arms=tuple(dataclasses.replace(a, fixed=0) if a.uses_source else a for a in cfg.arms)
                    )
                done = api.compare(cfg, Path(tmp) / f"{len(outcomes)}")
                rows = api.check(done.run_dir, baseline, require_same_study=False)  # the changes are other studies
                moved = [r for r in rows if not r["ok"]]
                outcomes.append(
                    {
                        "change": name,
                        "seed": seed,
                        "alarm": bool(moved),
                        "moved": [f"{r['arm']} {r['statistic']}" for r in moved],
                        "arm_alarm": any(r["finding"] is None for r in moved),
                        "finding_alarm": any(r["finding"] is not None for r in moved),
                        "changed": [f"{r['arm']} {r['note']}" for r in rows if r["ok"] and r["note"]],
                    }
                )
                shown = "ALARM " + ", ".join(outcomes[-1]["moved"]) if moved else "pass"
                print(
                    f"{name:22s} seed {seed:2d}: {shown}"
                    + (f" (changed: {', '.join(outcomes[-1]['changed'])})" if outcomes[-1]["changed"] else ""),
                    flush=True,
                )
                shutil.rmtree(done.run_dir)
    print(f"\n{len(outcomes)} gate studies on the {args.engine} engine in {time.perf_counter() - started:.0f} s\n")
    print(
        "| condition | alarms | target | by arm statistics alone | by findings alone | verdicts changed, not failed "
        "| checks that moved (count of seeds) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in CHANGES:
        runs = [o for o in outcomes if o["change"] == name]
        alarms = sum(o["alarm"] for o in runs)
        moved = Counter(m for o in runs for m in o["moved"])
        if name.startswith("none"):
            target, ok = "0 false alarms", alarms == 0
        elif name in MEASURED_ONLY:
            target, ok = "measured, no target", True
        else:
            target, ok = f"{len(runs)} of {len(runs)} detected", alarms == len(runs)
        top = ", ".join(f"{m} ({c})" for m, c in moved.most_common(4))
        verdict = "" if name in MEASURED_ONLY else " MET" if ok else " MISSED"
        print(
            f"| {name} | {alarms} of {len(runs)} | {target}{verdict} "
            f"| {sum(o['arm_alarm'] for o in runs)} | {sum(o['finding_alarm'] for o in runs)} "
            f"| {sum(bool(o['changed']) for o in runs)} | {top} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main()
