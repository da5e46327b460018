"""The regression gate: a run's per-arm statistics against a committed baseline, within stated bands.

Pure functions over `summary.json` contents; no TensorFlow, no files. A band says how far a statistic may
move before the gate calls it a change, and each band records why it is that wide.

Why the bands are what they are. With the same seed, library versions and platform, a run reproduces
its baseline exactly, so any band passes. What the bands must tolerate is a run whose repeats are *other
draws from the same distributions* (a different CPU's float rounding, a patch release of TensorFlow), and
what they must catch is a change of the distributions themselves. For each arm with baseline SD s over n
runs, a new run's statistic differs from the baseline's by a difference of two independent estimates:
  mean:   SE = s * sqrt(2 / n)
  median: SE = 1.2533 * s * sqrt(2 / n)     (normal approximation of the median's sampling error)
  std:    SE = s * sqrt(2 / (2 * (n - 1)))  (normal approximation of the SD's sampling error)
The band is Z_BAND = 4 such SEs: two-sided, a false alarm has probability 6.3e-5 per statistic under
normality, so below 1e-3 for all 12 statistics of the 4 tutorial arms together (Bonferroni). Accuracies
are multiples of 1/500, so no band is narrower than FLOOR = 2 test rows (0.004): otherwise a single-row
change of an arm with near-zero spread (transfer from one source model) would fail the gate.
The count of runs and of diverged runs must match exactly.
"""

from __future__ import annotations

import math
from typing import Any

Z_BAND = 4.0
FLOOR = 0.004
STATISTICS = {
    "mean": lambda s, n: s * math.sqrt(2.0 / n),
    "median": lambda s, n: 1.2533 * s * math.sqrt(2.0 / n),
    "std": lambda s, n: s * math.sqrt(2.0 / (2.0 * (n - 1))),
}


def make_baseline(summary: dict[str, Any], source: str) -> dict[str, Any]:
    """Baseline bands from one run's summary (`source` says which run, for the record)."""
    arms = {}
    for arm in summary["arms"]:
        n, sd = arm["n"], arm.get("std") or 0.0
        entry: dict[str, Any] = {"n": n, "n_diverged": arm["n_diverged"]}
        for stat, se in STATISTICS.items():
            if n < 2:
                continue
            raw = Z_BAND * se(sd, n)
            entry[stat] = {
                "value": arm[stat],
                "tolerance": round(max(FLOOR, raw), 4),
                "why": f"{Z_BAND:g} x SE of a difference of two {stat}s (s={sd:.4f}, n={n}) = {raw:.4f}"
                + (f"; raised to the floor of {FLOOR} (2 test rows)" if raw < FLOOR else ""),
            }
        arms[arm["arm"]] = entry
    return {
        "about": " ".join(__doc__.split("\n\n")[2].split()),
        "source_run": source,
        "run": {k: summary["run"][k] for k in ("target_problem", "repeats", "epochs", "seed", "source_repeats")},
        "z_band": Z_BAND,
        "floor": FLOOR,
        "arms": arms,
    }


def check(summary: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (arm, statistic): baseline value, run value, tolerance, and whether it is within."""
    rows = []
    by_arm = {a["arm"]: a for a in summary["arms"]}
    for name, entry in baseline["arms"].items():
        arm = by_arm.get(name)
        if arm is None:
            rows.append(_row(name, "present", "yes", "missing", None, False))
            continue
        for count in ("n", "n_diverged"):
            rows.append(_row(name, count, entry[count], arm[count], 0, entry[count] == arm[count]))
        for stat in STATISTICS:
            if stat not in entry:
                continue
            want, tol, got = entry[stat]["value"], entry[stat]["tolerance"], arm.get(stat)
            ok = got is not None and abs(got - want) <= tol + 1e-12
            rows.append(_row(name, stat, want, got, tol, ok))
    return rows


def _row(arm, statistic, baseline, value, tolerance, ok) -> dict[str, Any]:
    return {"arm": arm, "statistic": statistic, "baseline": baseline, "value": value, "tolerance": tolerance, "ok": ok}


def gate_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    def f(v):
        return "n/a" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    header = ["arm", "statistic", "baseline", "this run", "change", "tolerance", "result"]
    out = []
    for r in rows:
        numbers = all(isinstance(r[k], (int, float)) and not isinstance(r[k], bool) for k in ("value", "baseline"))
        change = f"{r['value'] - r['baseline']:+.4g}" if numbers else ""
        out.append([r["arm"], r["statistic"], f(r["baseline"]), f(r["value"]), change,
                    "exact" if r["tolerance"] == 0 else f(r["tolerance"]), "ok" if r["ok"] else "MOVED"])
    return header, out
