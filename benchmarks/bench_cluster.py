"""A sweep in-process, on a local Dask cluster of 1 worker, and of 2 workers: the whole command, side by side.

Each variant is `blobs-transfer sweep --config CONFIG` under /usr/bin/time -v (wall time, peak RSS of the
driver process), in a fresh temporary results folder; the scores of every variant are checked to be
byte-identical to the in-process sweep's. It is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_cluster.py                        # configs/sweep.toml, about 6 minutes
    .venv/bin/python benchmarks/bench_cluster.py --config my_sweep.toml
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("blobs-transfer")
VARIANTS = {
    "in-process": [],
    "1 worker (--workers 1)": ["--workers", "1"],
    "2 workers (--workers 2)": ["--workers", "2"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "sweep.toml"))
    args = parser.parse_args()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}; sweep {args.config}")
    rows, reference = [], None
    for name, extra in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                ["/usr/bin/time", "-v", str(EXE), "sweep", "--config", args.config, "--results-dir", tmp, *extra],
                capture_output=True,
                text=True,
                env=env,
            )
            if done.returncode:
                raise SystemExit(done.stderr[-3000:])
            h, m, s = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr).groups()
            wall = float(h or 0) * 3600 + float(m) * 60 + float(s)
            rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 2**20
            sweep_dir = Path(done.stdout.strip().splitlines()[-1])
            meta = json.loads((sweep_dir / "metadata.json").read_text())
            scores = (sweep_dir / "runs.csv").read_bytes()
            reference = reference or scores
            rows.append((name, wall, rss, meta["networks"], scores == reference))
            print(f"{name}: {wall:.1f} s", flush=True)
    print("\n| where the cells run | whole command | networks/s | driver peak RSS | scores identical to in-process |")
    print("|---|---|---|---|---|")
    for name, wall, rss, networks, same in rows:
        print(f"| {name} | {wall:.1f} s | {networks / wall:.0f} | {rss:.2f} GiB | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
