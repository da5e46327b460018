"""What a result found, in words: every sentence about a run's or a sweep's verdicts is generated here, from its numbers.

Pure: summaries (dicts) in, sentences out. The report, the sweep report and the README's generated parts all take
their findings from this one module, so words cannot drift from the tables beside them.
"""

from __future__ import annotations

from typing import Any

from blobs_transfer.sweep.grid import Sweep


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def join_words(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


VERDICT_WORDS = {"better": "better than", "worse": "worse than", "no evidence": "not distinguishable from"}


def finding(summary: dict[str, Any]) -> str:
    """What the run found, in words and numbers: each verdict with its arms and their P(arm beats baseline),
    said at the level the study supports (across K source models, or conditional on one), then the means."""
    run = summary["run"]
    base = run["baseline"]
    source = run.get("source_model") or {}
    k = source.get("count", 0)
    arms = [a for a in summary["arms"] if a["n"]]
    means = "Mean test accuracy: " + ", ".join(f"{a['arm']} {fmt(a['mean'])}" for a in arms) + "."
    if not summary["comparisons"]:
        return means
    clauses = []
    for verdict, words in VERDICT_WORDS.items():
        rows = [c for c in summary["comparisons"] if c["verdict"] == verdict]
        if rows:
            verb = "is" if len(rows) == 1 else "are"
            ps = join_words([fmt(c["a12"], 2) for c in rows])
            clauses.append(f"{join_words([c['arm'] for c in rows])} {verb} {words} {base} (P = {ps})")
    if k > 1:
        lead = f"Across {k} source models, "
        unit = "tested with the source model as the unit"
    elif k == 1:
        seed = (source.get("seeds") or [None])[0]
        lead = f"With one source model (seed {seed if seed is not None else 'unknown'}), "
        unit = "conditional on that one source model: another can rank the arms differently"
    else:
        lead, unit = "", "runs independent"
    first = lead + "; ".join(clauses) + "."
    return (f"{first[0].upper()}{first[1:]} P is the probability that a run of the arm beats a run of {base} "
            f"(A12; verdicts Holm-adjusted at alpha 0.05, {unit}). {means}")


def transfer_arms(summaries) -> list[str]:
    """The arms a sweep compares with its baseline, in config order."""
    return [c["arm"] for c in summaries[0]["summary"]["comparisons"]]


def _axis_pattern(sweep: Sweep, summaries) -> str:
    """Per swept axis, the values at which most of the arms' cells say better, and those at which most say worse."""
    parts = []
    for a, (key, values) in enumerate(sweep.axes):
        better, worse = [], []
        for value in values:
            verdicts = [c["verdict"] for item in summaries if item["cell"].values[a][1] == value
                        for c in item["summary"]["comparisons"]]
            if sum(v == "better" for v in verdicts) * 2 > len(verdicts):
                better.append(str(value))
            elif sum(v == "worse" for v in verdicts) * 2 > len(verdicts):
                worse.append(str(value))
        if better and worse:
            parts.append(f"mostly better at {key} = {join_words(better)} and mostly worse at "
                         f"{join_words(worse)}")
        elif better or worse:
            parts.append(f"mostly {'better' if better else 'worse'} at {key} = {join_words(better or worse)}")
    if not parts:
        return ""
    return "Transfer is " + "; ".join(parts) + " (in most of the cells with that value, over all arms). "


def sweep_finding(sweep: Sweep, summaries) -> str:
    """What the sweep found, in words and numbers: per transfer arm how many cells it wins and loses, the values
    of each axis where most cells agree, and the cell where P(arm beats baseline) is highest."""
    run = summaries[0]["summary"]["run"]
    baseline, k = run["baseline"], run["source_repeats"]
    arms = transfer_arms(summaries)
    found = [(item["cell"], c) for item in summaries for c in item["summary"]["comparisons"]]
    if not found:
        return f"{len(summaries)} cells over {', '.join(sweep.keys)}; no arm was compared with {baseline}."
    wins = " / ".join(str(sum(c["verdict"] == "better" for _, c in found if c["arm"] == arm)) for arm in arms)
    losses = " / ".join(str(sum(c["verdict"] == "worse" for _, c in found if c["arm"] == arm)) for arm in arms)
    cell, best = max(found, key=lambda cc: cc[1]["a12"])
    where = ", ".join(f"{key}={v}" for key, v in cell.values)
    unit = f"{k} source models each" if k > 1 else "one source model each, so conditional on it"
    plural = len(arms) > 1
    return (f"Across {len(summaries)} cells ({' x '.join(sweep.keys)}, {unit}), {' / '.join(arms)} "
            f"{'beat' if plural else 'beats'} {baseline} in {wins} cells and {'lose' if plural else 'loses'} in "
            f"{losses}. {_axis_pattern(sweep, summaries)}"
            f"The highest P is {fmt(best['a12'], 2)} ({best['arm']} at {where}, difference of means "
            f"{best['diff_mean']:+.3f}). P is the probability that a run of the arm beats a run of {baseline} (A12); "
            "each cell's verdict tests it with the source model as the unit.")
