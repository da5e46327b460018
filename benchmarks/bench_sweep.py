"""A sweep against one `compare` training the same networks: the cost of running a study as a grid of cells.

Runs `blobs-transfer sweep --config configs/sweep.toml` (30 cells x (100 standalone + 3 transfer arms x 20
sources x 5 repeats) = 12,000 networks, and 20 source models) and one `compare` of the same networks on the
tutorial's target (20 source models; 150 repeats per source and transfer arm; 3,000 standalone runs), each
a fresh process under `/usr/bin/time -v`, and prints the ratio of their whole-command wall times (target at
most 1.3x). Half the sweep's cells have small train splits, so its networks are cheaper on average than the
compare's (500 rows each); the like-for-like check is the second pair: the sweep's five similarities at the
full train size (5 cells, 2,000 networks, every one as costly as a compare's) against a compare of the same
2,000 networks. It is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_sweep.py        # about 4 minutes
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_command import ROOT, timed  # noqa: E402

TARGET = 1.3
ARMS = """
[[arms]]
name = "transfer fixed=0"
weights = "source"
fixed = 0

[[arms]]
name = "transfer fixed=1"
weights = "source"
fixed = 1

[[arms]]
name = "transfer fixed=2"
weights = "source"
fixed = 2
"""
SAME_NETWORKS = (
    """
[study]
source_repeats = 20
repeats = {repeats}

[[arms]]
name = "standalone"
weights = "fresh"
repeats = {standalone}
"""
    + ARMS
)
FULL_SIZE_SWEEP = (
    """
[study]
source_repeats = 20
repeats = 5

[[arms]]
name = "standalone"
weights = "fresh"
repeats = 100
"""
    + ARMS
    + """
[sweep]
"target.similarity_t" = [0.0, 0.25, 0.5, 0.75, 1.0]
"""
)


def pair(tmp: str, sweep_config: Path, repeats: int, standalone: int, env: dict[str, str]) -> tuple:
    """(sweep networks, wall, GiB), (compare networks, wall, GiB, training seconds)."""
    config = Path(tmp) / f"same_networks_{repeats}.toml"
    config.write_text(SAME_NETWORKS.format(repeats=repeats, standalone=standalone))
    wall, gib, out = timed(["sweep", "--config", str(sweep_config), "--results-dir", tmp], env)
    meta = json.loads((Path(out.strip().splitlines()[-1]) / "metadata.json").read_text())
    print(
        f"sweep {sweep_config.name}: {meta['cells']} cells, {meta['networks']} networks: {wall:.1f} s, "
        f"peak {gib:.2f} GiB",
        flush=True,
    )
    sweep = (meta["networks"], wall, gib)
    wall, gib, out = timed(["compare", "--config", str(config), "--results-dir", tmp], env)
    run = json.loads((Path(out.strip().splitlines()[-1]) / "metadata.json").read_text())
    print(
        f"compare: {run['replicas']} networks: {wall:.1f} s, peak {gib:.2f} GiB "
        f"(training {run['training_seconds']:.1f} s)",
        flush=True,
    )
    return sweep, (run["replicas"], wall, gib)


def main() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full_size_sweep.toml"
        full.write_text(FULL_SIZE_SWEEP)
        rows = [
            ("configs/sweep.toml (30 cells)", *pair(tmp, ROOT / "configs" / "sweep.toml", 150, 3000, env)),
            ("t only, 500 train rows (5 cells)", *pair(tmp, full, 25, 500, env)),
        ]
    print()
    print("| sweep | networks | sweep | compare, the same networks | sweep / compare | peak RSS (sweep, compare) |")
    print("|---|---|---|---|---|---|")
    for name, (n, s_wall, s_gib), (_, c_wall, c_gib) in rows:
        print(
            f"| {name} | {n} | {s_wall:.1f} s | {c_wall:.1f} s | {s_wall / c_wall:.2f}x "
            f"| {s_gib:.2f}, {c_gib:.2f} GiB |"
        )
    print()
    for name, (_, s_wall, _), (_, c_wall, _) in rows:
        ratio = s_wall / c_wall
        print(f"target sweep / compare <= {TARGET}x, {name}: {ratio:.2f}x: {'MET' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
