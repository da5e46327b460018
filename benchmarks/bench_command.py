"""The whole `blobs-transfer compare` command as a user runs it, at 30, 1,000 and 5,000 repeats per arm.

Each size runs in a fresh process under `/usr/bin/time -v` (wall time and peak RSS of the whole command,
start-up included), in a temporary results folder holding a source model trained once beforehand. The
run's metadata.json gives the training time, so the rest (start-up, source loading, statistics, figures,
files) is the wall time minus it. Prints each target with its status. It is a benchmark, not a test.

    .venv/bin/python benchmarks/bench_command.py                    # 30, 1000, 5000 (about 3 minutes)
    .venv/bin/python benchmarks/bench_command.py --sizes 30,1000
    .venv/bin/python benchmarks/bench_command.py --base 05656fe --sizes 2500 --runs 3 --threads 2

With --base, the command runs alternately from this checkout and from the other commit (a `git worktree` in a
temporary folder, or --base-tree, imported with PYTHONPATH and this environment's libraries), in one results
folder with one source model, and prints a side-by-side table: the medians of the training seconds and training
networks/s (metadata.json's `training_seconds` and `replicas`) and the whole command's wall time, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("blobs-transfer")
TARGETS = {30: (5.0, None), 5000: (60.0, 2.0)}  # repeats: (max wall seconds, max peak GiB)
SHARE_OF_REST = 0.15  # statistics, figures and files: at most this share of the whole command


def timed(args: list[str], env: dict[str, str], exe: list[str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GiB, stdout) of one command under /usr/bin/time -v."""
    exe = exe or [str(EXE)]
    done = subprocess.run(["/usr/bin/time", "-v", *exe, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    h, m, s = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return h * 3600 + m * 60 + s, rss / 2**20, done.stdout


def side_by_side(base: Path, label: str, sizes: list[int], runs: int, env: dict[str, str]) -> None:
    """Each size's command from this checkout and from `base`, alternating, `runs` times each."""
    base_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(base), env.get("PYTHONPATH")]))}
    sides = {label: ([sys.executable, "-m", "blobs_transfer"], base_env), "this": ([str(EXE)], env)}
    measured: dict[tuple[int, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        timed(["train-source", "--results-dir", tmp], env)
        for exe, side_env in sides.values():  # each side's kernel compiled (or its cache read), untimed
            timed(["compare", "--repeats", "2", "--epochs", "2", "--results-dir", tmp], side_env, exe)
        for _ in range(runs):
            for n in sizes:
                for name, (exe, side_env) in sides.items():
                    wall, _, out = timed(["compare", "--repeats", str(n), "--results-dir", tmp], side_env, exe)
                    run_dir = Path(out.strip().splitlines()[-1])
                    meta = json.loads((run_dir / "metadata.json").read_text())
                    measured.setdefault((n, name), []).append((meta["training_seconds"], wall, meta["replicas"]))
                    print(f"{name} compare --repeats {n}: training {meta['training_seconds']:.1f} s", flush=True)
                    shutil.rmtree(run_dir)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    print()
    print(
        f"| repeats | networks | {label} training | this training | {label} networks/s | this networks/s "
        f"| this / {label} | whole command ({label}; this) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        row = {}
        for name in sides:
            values = measured[(n, name)]
            train = statistics.median(v[0] for v in values)
            row[name] = (train, statistics.median(v[1] for v in values), values[0][2] / train)
        (bt, bw, bn), (tt, tw, tn) = row[label], row["this"]
        networks = measured[(n, "this")][0][2]
        print(
            f"| {n} | {networks} | {bt:.1f} s | {tt:.1f} s | {bn:.0f} | {tn:.0f} | {tn / bn:.3f} "
            f"| {bw:.1f} s; {tw:.1f} s |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="30,1000,5000", help="repeats per arm, comma-separated")
    parser.add_argument("--runs", type=int, default=1, help="runs per size (the median is reported)")
    parser.add_argument("--base", default=None, help="another commit to run side by side (alternating)")
    parser.add_argument("--base-tree", type=Path, default=None, help="a folder holding that commit's blobs_transfer/")
    parser.add_argument("--threads", type=int, default=None, help="kernel threads ($BLOBS_TRANSFER_THREADS)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if args.threads:
        env["BLOBS_TRANSFER_THREADS"] = str(args.threads)
    if args.base or args.base_tree:
        label = args.base or args.base_tree.name
        print(
            f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}; "
            f"threads {env.get('BLOBS_TRANSFER_THREADS', 'default')}"
        )
        if args.base_tree:
            side_by_side(args.base_tree.resolve(), label, sizes, args.runs, env)
            return
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp) / "base"
            subprocess.run(["git", "worktree", "add", "--detach", str(base), args.base], cwd=ROOT, check=True)
            try:
                side_by_side(base, label, sizes, args.runs, env)
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
        return
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.2f}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        timed(["train-source", "--results-dir", tmp], env)
        for n in sizes:
            measured = []
            for _ in range(args.runs):
                wall, gib, out = timed(["compare", "--repeats", str(n), "--results-dir", tmp], env)
                run_dir = Path(out.strip().splitlines()[-1])
                meta = json.loads((run_dir / "metadata.json").read_text())
                measured.append(
                    (wall, gib, meta["training_seconds"], meta["replicas"], meta["statistics_and_files_seconds"])
                )
                shutil.rmtree(run_dir)
            wall, gib, train, networks, rest = sorted(measured)[len(measured) // 2]
            rows.append((n, networks, wall, gib, train, rest))
            print(f"compare --repeats {n}: {wall:.1f} s, peak {gib:.2f} GiB, training {train:.1f} s", flush=True)
    print()
    print(
        "| repeats | networks | whole command | peak RSS | training | statistics, figures, files | their share "
        "| networks/s in training |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n, networks, wall, gib, train, rest in rows:
        print(
            f"| {n} | {networks} | {wall:.1f} s | {gib:.2f} GiB | {train:.1f} s | {rest:.1f} s | {rest / wall:.0%} "
            f"| {networks / train:.0f} |"
        )
    print()
    for n, _, wall, gib, _, _ in rows:
        if n in TARGETS:
            max_wall, max_gib = TARGETS[n]
            ok = wall <= max_wall and (max_gib is None or gib <= max_gib)
            limit = f"<= {max_wall:g} s" + (f" and <= {max_gib:g} GiB" if max_gib else "")
            print(f"target compare --repeats {n}: {limit}: {wall:.1f} s, {gib:.2f} GiB: {'MET' if ok else 'MISSED'}")
    worst = max(rest / wall for *_, wall, _, _, rest in rows)
    print(
        f"target statistics, figures and files <= {SHARE_OF_REST:.0%} of the whole command at every size: "
        f"worst {worst:.0%}: {'MET' if worst <= SHARE_OF_REST else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
