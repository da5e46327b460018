"""Calibrate the regression gate: false alarms at other seeds, detections of injected changes.

Runs the gate study (configs/gate.toml) at N root seeds other than the baseline's, each as it is and with
each injected change (learning rate halved, epochs halved, batch size 64), and checks every run against the
baseline (results/baseline.json by default). Prints, per condition, at how many seeds the gate raised an
alarm and which statistics moved. Targets: no false alarm at any seed; each change detected at >= 19 of 20.

    .venv/bin/python benchmarks/calibrate_gate.py                 # 20 seeds (1..20), about 20 minutes
    .venv/bin/python benchmarks/calibrate_gate.py --seeds 3       # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blobs_transfer import api as study
from blobs_transfer.cli import quiet_tensorflow  # noqa: E402

CHANGES = {
    "none (other seeds)": {},
    "learning rate halved": {"training.learning_rate": 0.005},
    "epochs halved": {"training.epochs": 50},
    "batch size 64": {"training.batch_size": 64},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of root seeds (1..N) [20]")
    parser.add_argument("--config", default=str(ROOT / "configs" / "gate.toml"))
    parser.add_argument("--baseline", default=str(ROOT / "results" / "baseline.json"))
    parser.add_argument("--json", default=None, help="also write the per-run outcomes here")
    args = parser.parse_args()
    quiet_tensorflow()
    outcomes = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, change in CHANGES.items():
            for seed in range(1, args.seeds + 1):
                cfg = study.load_config(args.config, **{"study.seed": seed, **change})
                done = study.compare(cfg, Path(tmp) / f"{len(outcomes)}")
                rows = study.check(done.run_dir, args.baseline, require_same_study=False)  # the changes are other studies
                moved = [f"{r['arm']} {r['statistic']}" for r in rows if not r["ok"]]
                outcomes.append({"change": name, "seed": seed, "alarm": bool(moved), "moved": moved})
                print(f"{name:22s} seed {seed:2d}: {'ALARM ' + ', '.join(moved) if moved else 'pass'}", flush=True)
    print(f"\n{len(outcomes)} gate studies in {time.perf_counter() - started:.0f} s\n")
    print("| condition | alarms | target | status | statistics that moved (count of seeds) |")
    print("|---|---|---|---|---|")
    for name in CHANGES:
        runs = [o for o in outcomes if o["change"] == name]
        alarms = sum(o["alarm"] for o in runs)
        moved = Counter(m for o in runs for m in o["moved"])
        if name.startswith("none"):
            target, ok = "0 false alarms", alarms == 0
        else:
            need = -(-19 * len(runs) // 20)
            target, ok = f">= {need} of {len(runs)} detected", alarms >= need
        top = ", ".join(f"{m} ({c})" for m, c in moved.most_common(4))
        print(f"| {name} | {alarms} of {len(runs)} | {target} | {'MET' if ok else 'MISSED'} | {top} |")
    if args.json:
        Path(args.json).write_text(json.dumps(outcomes, indent=1))


if __name__ == "__main__":
    main()
