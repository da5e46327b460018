"""Compare two copies of results/ whose derived files were rebuilt by different code (benchmarks/rebuild_derived.sh):
what must not move (every verdict, best arm, generated finding, the data files) and how far each kind of interval
moved (the largest absolute change per key of summary.json).

    .venv/bin/python benchmarks/compare_derived.py OLD NEW     # exit 1 if a verdict, best arm or finding moved
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from blobs_transfer.render.findings import best_arm_line, finding

DATA = ("scores.csv", "runs.csv", "cells.csv", "config.toml", "sweep.toml", "transferability.csv")
FIXED = ("verdict", "verdict_test", "best_arm", "cell_best_arm")


def summaries(root: Path) -> dict[str, dict]:
    """results-relative path -> summary.json, for every compare run and every sweep cell."""
    return {str(p.relative_to(root)): json.loads(p.read_text()) for p in sorted(root.rglob("summary.json"))}


def leaves(x, path=""):
    """(path with list positions and arm names folded into the key kind, full path, value) of every number/string."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, f"{path}/{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, x


def kind(path: str) -> str:
    """A leaf's kind of statistic: its path without list positions or arm names (arms/ci_low, benefits/auc/ci_low)."""
    path = re.sub(r"\[\d+\]", "", path)
    parts = path.strip("/").split("/")
    if parts[0] == "benefits" and len(parts) == 4:
        parts = [parts[0], parts[2], parts[3]]  # benefits/<arm>/<benefit>/<key> -> benefits/<benefit>/<key>
    if parts[0] == "best" and len(parts) == 3 and parts[1] == "p_best_by_arm":
        parts = parts[:2]
    if parts[0] == "sources" and len(parts) >= 3:
        parts = [parts[0], parts[1], *parts[3:]]
    return "/".join(parts)


def main(old_root: Path, new_root: Path) -> int:
    old, new = summaries(old_root), summaries(new_root)
    problems = []
    if old.keys() != new.keys():
        problems.append(f"different summaries: {sorted(old.keys() ^ new.keys())}")
    moved: dict[str, float] = defaultdict(float)
    where: dict[str, str] = {}
    counted: dict[str, int] = defaultdict(int)
    for name in sorted(old.keys() & new.keys()):
        a, b = old[name], new[name]
        if finding(a) != finding(b):
            problems.append(f"{name}: finding moved:\n  {finding(a)}\n  {finding(b)}")
        if "best" in a and best_arm_line(a) != best_arm_line(b):
            problems.append(f"{name}: best arm line moved: {best_arm_line(a)!r} -> {best_arm_line(b)!r}")
        la, lb = dict(leaves(a)), dict(leaves(b))
        if la.keys() != lb.keys():
            problems.append(f"{name}: keys differ: {sorted(la.keys() ^ lb.keys())[:10]}")
        for path in la.keys() & lb.keys():
            va, vb = la[path], lb[path]
            if path.rsplit("/", 1)[-1] in FIXED and va != vb:
                problems.append(f"{name}{path}: {va!r} -> {vb!r}")
            if va == vb:
                continue
            k = kind(path)
            counted[k] += 1
            if isinstance(va, int | float) and isinstance(vb, int | float) and not isinstance(va, bool):
                if abs(vb - va) > moved[k]:
                    moved[k], where[k] = abs(vb - va), f"{name}{path}: {va!r} -> {vb!r}"
            else:
                problems.append(f"{name}{path}: {va!r} -> {vb!r}")
    for p in sorted(old_root.rglob("*")):
        if p.name in DATA:
            q = new_root / p.relative_to(old_root)
            if hashlib.sha256(p.read_bytes()).digest() != hashlib.sha256(q.read_bytes()).digest():
                what = "cells.csv (derived from the cells' summaries)" if p.name == "cells.csv" else "data file"
                print(f"changed {what}: {p.relative_to(old_root)}")
    print(f"{len(old)} summaries compared")
    print("values that moved, by kind: how many, the largest absolute change, and where")
    for k in sorted(moved):
        print(f"  {k}: {counted[k]} values, max |change| {moved[k]:.3g}  ({where[k]})")
    for k in sorted(set(counted) - set(moved)):
        print(f"  {k}: {counted[k]} values changed (not numbers)")
    print("unchanged: every verdict, verdict test, best arm and finding" if not problems else "MOVED:")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
