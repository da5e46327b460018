"""What scoring source models costs: the gate's compare with and without `[study] score_sources`, side by side.

Each command runs as a user runs it from the shell (`python -m blobs_transfer compare --config ...` in a fresh
process under `/usr/bin/time -v`: wall time and peak RSS, start-up included), alternating between the gate's
config (score_sources = false) and a copy that scores its 200 source models, so that a change in the machine's
load hits both alike; the medians are reported with their ratio (issue 34's target: at most 1.25). Then scoring
200 source models alone (`api.transferability.score_models` on the saved models of the scored run): wall seconds
as it runs by default, over two processes (target: at most 1 s), and CPU and wall seconds in one process; the
medians of the runs. One untimed run of each warms the kernel cache first. It
is a benchmark, not a test: run it on a quiet machine.

    .venv/bin/python benchmarks/bench_scoring.py
    .venv/bin/python benchmarks/bench_scoring.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import bench_side_by_side  # benchmarks/, this script's folder, is first on sys.path

ROOT = Path(__file__).resolve().parents[1]
GATE = ROOT / "configs" / "gate.toml"


def timed(config: Path, results: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS GiB) of one compare with `config`, run as bench_side_by_side runs a command."""
    wall, rss, _ = bench_side_by_side.timed(ROOT, ["compare", "--config", str(config)], results)
    return wall, rss


def scoring_alone(run_dir: Path, runs: int) -> tuple[float, float, float, int]:
    """(median wall seconds as `score_models` runs by default, split over two processes; median CPU and wall
    seconds in one process, split=False; models) of scoring a run's saved source models."""
    from blobs_transfer.api.sources import load_source_model
    from blobs_transfer.api.transferability import score_models, source_files
    from blobs_transfer.config.load import load_config

    cfg = load_config(run_dir / "config.toml")
    weights = [load_source_model(p, cfg).weights for p in source_files([run_dir])]
    split, cpu, wall = [], [], []
    for _ in range(runs):
        w = time.perf_counter()
        score_models(cfg, weights)
        split.append(time.perf_counter() - w)
        c, w = time.process_time(), time.perf_counter()
        score_models(cfg, weights, split=False)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(split), statistics.median(cpu), statistics.median(wall), len(weights)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each [3]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scored = tmp / "gate_scored.toml"
        text = GATE.read_text(encoding="utf-8")
        if "score_sources = false" not in text:
            raise SystemExit(f"{GATE} no longer says score_sources = false")
        scored.write_text(text.replace("score_sources = false", "score_sources = true"), encoding="utf-8")
        configs = {"without scoring": GATE, "with scoring": scored}
        for name, config in configs.items():  # warm: the kernel cache and the file cache
            timed(config, tmp / f"warm {name}")
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
        for i in range(args.runs):
            for name, config in configs.items():
                results[name].append(timed(config, tmp / f"{name} {i}"))
        print(f"compare --config configs/gate.toml, {args.runs} runs each, alternating (median wall, peak RSS):")
        medians = {}
        for name, rows in results.items():
            medians[name] = statistics.median(w for w, _ in rows)
            print(f"  {name:16s} {medians[name]:6.2f} s  {statistics.median(r for _, r in rows):.2f} GiB")
        print(f"  ratio            {medians['with scoring'] / medians['without scoring']:6.2f}x  (target <= 1.25)")
        run_dir = next((tmp / "with scoring 0").glob("compare-*"))
        split, cpu, wall, k = scoring_alone(run_dir, args.runs)
        print(f"scoring {k} source models alone: {split:.2f} s wall over two processes (median; target <= 1 s)")
        print(f"  in one process: {cpu:.2f} s CPU, {wall:.2f} s wall (median)")


if __name__ == "__main__":
    main()
