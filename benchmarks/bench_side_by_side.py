"""Whole commands, side by side: this checkout against another commit, in one run, on the same machine.

Each command runs as a user runs it from the shell (`python -m blobs_transfer ...` in a fresh process under
`/usr/bin/time -v`: wall time and peak RSS, start-up included), alternating between the two checkouts so that
a change in the machine's load hits both alike; the median of the runs is reported with the ratio. The other
commit is checked out with `git worktree` into a temporary folder and imported from there (PYTHONPATH), with
this environment's libraries, so only the package's code differs. Each checkout trains its source model and
compiles its kernel once before anything is timed. It is a benchmark, not a test: run it on a quiet machine.

    .venv/bin/python benchmarks/bench_side_by_side.py                     # issue 35's four, against 05656fe
    .venv/bin/python benchmarks/bench_side_by_side.py --base HEAD~3 --runs 5
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# command name -> (arguments after the results folder is added, target wall seconds); a config is each checkout's
# own (the command runs in its folder), as a user of that checkout types it: 05656fe's gate scores its 200 source
# models, this one's does not (`score_sources = false`)
COMMANDS = {
    "compare --repeats 30": (["compare", "--repeats", "30"], 2.0),
    "compare --config configs/gate.toml": (["compare", "--config", "configs/gate.toml"], 5.0),
    "sweep --config configs/sweep.toml": (["sweep", "--config", "configs/sweep.toml"], 10.0),
    "compare --repeats 5000": (["compare", "--repeats", "5000"], 20.0),
}


def timed(tree: Path, args: list[str], results: Path) -> tuple[float, float, float]:
    """(wall seconds, peak RSS GiB, CPU seconds: user + system, children included) of one command of the
    package in `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "blobs_transfer", *args, "--results-dir", str(results)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: {' '.join(args)} failed\n{done.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    h, m, s = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    cpu = sum(
        float(re.search(rf"{kind} time \(seconds\): ([\d.]+)", done.stderr).group(1)) for kind in ("User", "System")
    )
    return h * 3600 + m * 60 + s, rss / 2**20, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="05656fe", help="the commit to compare against [05656fe]")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command and checkout [3]")
    args = parser.parse_args()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; this checkout ({head}, "
        f"uncommitted changes included) against {args.base}; {args.runs} runs each, median"
    )
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True, capture_output=True
        )
        try:
            trees = {"base": base, "this": ROOT}
            results = {name: Path(tmp) / f"results-{name}" for name in trees}
            for name, tree in trees.items():  # a source model each, and each kernel compiled before timing
                timed(tree, ["train-source", "--epochs", "100"], results[name])
                timed(tree, ["compare", "--repeats", "2"], results[name])
            print(
                "| command | base wall s | this wall s | ratio (this / base) | base peak GiB | this peak GiB "
                "| target | status | CPU s (base; this) | runs, wall s (base; this) |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|")
            for label, (command, target) in COMMANDS.items():
                walls: dict[str, list[float]] = {n: [] for n in trees}
                peaks: dict[str, list[float]] = {n: [] for n in trees}
                cpus: dict[str, list[float]] = {n: [] for n in trees}
                for _ in range(args.runs):
                    for name, tree in trees.items():
                        wall, gib, cpu = timed(tree, command, results[name])
                        walls[name].append(wall)
                        peaks[name].append(gib)
                        cpus[name].append(cpu)
                b, t = statistics.median(walls["base"]), statistics.median(walls["this"])
                status = "met" if t <= target else "NOT met"
                if max(peaks["this"]) > max(peaks["base"]) * 1.02:  # peak RSS may not rise (2%: the allocator's noise)
                    status += ", peak RSS rose"
                runs = "; ".join(", ".join(f"{w:.2f}" for w in walls[n]) for n in trees)
                print(
                    f"| `{label}` | {b:.1f} | {t:.1f} | {t / b:.2f} | {max(peaks['base']):.2f} | "
                    f"{max(peaks['this']):.2f} | <= {target:g} s | {status} | {statistics.median(cpus['base']):.1f}; "
                    f"{statistics.median(cpus['this']):.1f} | {runs} |",
                    flush=True,
                )
            print(f"load average at the end {os.getloadavg()[0]:.2f}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)


if __name__ == "__main__":
    main()
