"""docs/predictions.md's answer to "does the optimizer change the answer?" is true to results/optimizer: every row
of its table, and every difference with its CI quoted in its sentences, is in the committed cells.csv (a
regenerated sweep that moves a number fails here until the section is rewritten)."""

import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Does the optimizer change the answer?"


def section() -> str:
    text = (ROOT / "docs" / "predictions.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end > 0 else len(text)]


def cells() -> dict:
    out = {}
    with open(ROOT / "results" / "optimizer" / "cells.csv", newline="") as f:
        for r in csv.DictReader(f):
            out.setdefault((r["target.optimizer"], r["target.n_train"]), {})[r["arm"]] = r
    return out


def diff(r) -> str:
    return (
        f"{float(r['diff_mean']):+.3f} [{float(r['diff_ci_low']):.3f}, {float(r['diff_ci_high']):.3f}] {r['verdict']}"
    )


def test_the_table_is_the_committed_sweep():
    table = section().split("<!-- optimizer table")[1].split("<!-- end of optimizer table -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| optimizer")]
    expected = []
    for (optimizer, n_train), arms in cells().items():
        s = arms["standalone"]
        expected.append(
            f"| {optimizer} | {n_train} | {float(s['mean']):.3f} | {diff(arms['transfer fixed=0'])} | "
            f"{diff(arms['transfer fixed=1'])} | {diff(arms['transfer fixed=2'])} | "
            f"{s['cell_best_arm']} ({float(s['cell_best_p']):.2f}) |"
        )
    assert rows == expected


def test_every_quoted_difference_is_in_the_sweep():
    prose = section().split("<!-- end of optimizer table -->")[1]
    quoted = re.findall(r"([+-]\d\.\d{3}) \[(-?\d\.\d{3}), (-?\d\.\d{3})\]", prose)
    assert len(quoted) >= 4
    known = {
        (f"{float(r['diff_mean']):+.3f}", f"{float(r['diff_ci_low']):.3f}", f"{float(r['diff_ci_high']):.3f}")
        for arms in cells().values()
        for r in arms.values()
        if r["diff_mean"]
    }
    assert set(quoted) <= known, set(quoted) - known
    standalone = {f"{float(arms['standalone']['mean']):.3f}" for arms in cells().values()}
    assert re.search(r"standalone reaches only (\d\.\d{3})", prose).group(1) in standalone
