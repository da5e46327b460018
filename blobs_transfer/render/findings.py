"""What a result found, in words: every sentence about a run's or a sweep's verdicts is generated here, from its table.

Pure: summaries (dicts) in, sentences out. The report, the sweep report, the terminal and the README's quoted
finding all take their words from this one module, so words cannot drift from the tables beside them. Each arm is
named with its kind (`stats.summary.arm_kind`, recorded in the summary): a control is never called transfer.
"""

from __future__ import annotations

from typing import Any

from blobs_transfer.stats.compare import MWU_VERDICT
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

# a swept config key in words, for sentences and figure axes; an unlisted key is spelled out from its name
AXIS_WORDS = {
    "target.n_train": "target training rows",
    # the config key says "similarity", but t grows as the problems grow LESS alike: the words say which way it runs
    "target.similarity_t": (
        "shift t away from the source (0 = the source's own centres, 1 = the target problem; larger t = less alike)"
    ),
    "target.epochs": "target training epochs",
    "target.cluster_std": "target cluster spread",
    "source.n_train": "source training rows",
    "source.epochs": "source training epochs",
    "training.epochs": "training epochs",
    "training.learning_rate": "learning rate",
    "training.batch_size": "batch size",
    "study.repeats": "runs per source model",
    "study.source_repeats": "source models",
}


def axis_words(key: str) -> str:
    """'target.n_train' -> 'target training rows'; short forms drop the parenthesis."""
    if key in AXIS_WORDS:
        return AXIS_WORDS[key]
    section, _, name = key.rpartition(".")
    return " ".join([section, name.replace("_", " ")]).strip()


def short_axis(key: str) -> str:
    """The axis words without their explanation: 'similarity t to the source'."""
    return axis_words(key).split(" (")[0]


def kinds_of(summary: dict[str, Any]) -> dict[str, str]:
    """arm -> "baseline", "transfer" or "control", as the summary records it; "arm" for a summary written before
    kinds were recorded (its arms are then named without a kind, never guessed from their names)."""
    base = summary.get("run", {}).get("baseline")
    kinds = {a["arm"]: a.get("kind", "arm") for a in summary.get("arms", [])}
    for c in summary.get("comparisons", []):
        kinds.setdefault(c["arm"], "arm")
    if base:
        kinds[base] = "baseline"
    return kinds


def label(arm: str, kinds: dict[str, str]) -> str:
    """An arm's name, with '(control)' after a control's."""
    return f"{arm} (control)" if kinds.get(arm) == "control" else arm


def chance_words(base: str, values: list[str], many: bool) -> str:
    """'a run of it beats a run of standalone with probability 0.46', or '... of each ... 0.37 and 0.23'."""
    return f"a run of {'each' if many else 'it'} beats a run of {base} with probability {join_words(values)}"


def finding(summary: dict[str, Any]) -> str:
    """What the run found, in words and numbers: each verdict with its arms and the chance that a run of the arm
    beats a run of the baseline, said at the level the study supports (across K source models, or conditional
    on one), then the means."""
    run = summary["run"]
    base = run["baseline"]
    kinds = kinds_of(summary)
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
            chance = chance_words(base, [fmt(c["a12"], 2) for c in rows], len(rows) > 1)
            clauses.append(f"{join_words([label(c['arm'], kinds) for c in rows])} {verb} {words} {base} ({chance})")
    if k > 1:
        lead = f"Across {k} source models, "
        unit = "tested with the source model as the unit" + _without_source(summary["comparisons"], kinds)
    elif k == 1:
        seed = (source.get("seeds") or [None])[0]
        lead = f"With one source model (seed {seed if seed is not None else 'unknown'}), "
        unit = "conditional on that one source model: another can rank the arms differently"
    else:
        lead, unit = "", "runs independent"
    first = lead + "; ".join(clauses) + "."
    return f"{first[0].upper()}{first[1:]} {EXPLAIN_CHANCE} (verdicts Holm-adjusted at alpha 0.05, {unit}). {means}"


def source_arms_words(summary: dict[str, Any]) -> str:
    """'transfer arms', 'transfer arms and controls' or 'controls': the arms whose runs start from a source model."""
    kinds = kinds_of(summary)
    found = {kinds.get(a["arm"], "arm") for a in summary["arms"] if a.get("n_sources")}
    if found == {"control"}:
        return "controls"
    return "transfer arms and controls" if "control" in found else "transfer arms"


def sources_phrase(summary: dict[str, Any]) -> str:
    """How many source models the transfer arms (and controls) start from, said where every table and figure can
    show it; a saved model by its path as the run recorded it (relative to the results folder)."""
    source = summary["run"].get("source_model")
    if not source:
        return ""
    who = source_arms_words(summary)
    if source["count"] > 1:
        return f"{who}: {source['count']} source models (runs nested in them)"
    seed = (source.get("seeds") or [None])[0]
    where = source.get("path") or "trained in the run"
    return f"{who} conditional on ONE source model ({where}, seed {seed if seed is not None else 'unknown'})"


def counts_phrase(summary: dict[str, Any]) -> str:
    """The real count of runs per arm, never "N repeats per arm": 'standalone 300 runs; transfer fixed=0/1/2 300 runs
    each, 3 from each of 100 source models'. Arms with the same counts are said together."""
    groups: dict[tuple[int, int], list[str]] = {}
    for a in summary["arms"]:
        groups.setdefault((a["n"], a.get("n_sources") or 0), []).append(a["arm"])
    parts = []
    for (n, k), arms in groups.items():
        runs = f"{n} run{'s' if n != 1 else ''}" + (" each" if len(arms) > 1 else "")
        if k > 1 and n % k == 0:
            runs += f", {n // k} from each of {k} source models"
        elif k > 1:
            runs += f" from {k} source models"
        elif k == 1:
            runs += ", all from one source model"
        parts.append(f"{join_words(arms)}: {runs}")
    return "; ".join(parts)


def best_arm_line(summary: dict[str, Any]) -> str:
    """How often each arm is the best, source model by source model."""
    ranking = summary["sources"]["ranking"]
    best: dict[str, int] = {}
    for r in ranking:
        best[r["best_arm"]] = best.get(r["best_arm"], 0) + 1
    return "Best arm per source model: " + ", ".join(f"{arm} in {n} of {len(ranking)}" for arm, n in best.items()) + "."


EXPLAIN_CHANCE = "That probability is the Vargha-Delaney A12, 0.5 when neither arm is ahead"


def compared_arms(summaries) -> list[str]:
    """The arms a sweep compares with its baseline (transfer arms and controls), in config order."""
    return [c["arm"] for c in summaries[0]["summary"]["comparisons"]]


def _subject(kind: str, arms: list[str]) -> str:
    """The subject of a sentence about a group of arms of one kind, named: 'Transfer (transfer fixed=0) is'."""
    names = join_words(arms)
    if kind == "transfer":
        return f"Transfer ({names}) is"
    if kind == "control":
        return f"The control {names} is" if len(arms) == 1 else f"The controls ({names}) are"
    return f"{names[0].upper()}{names[1:]} is" if len(arms) == 1 else f"The arms {names} are"


def _axis_pattern(sweep: Sweep, summaries, arms: list[str]) -> str:
    """Per swept axis, the values at which most of these arms' cells say better, and those at which most say
    worse ('' when no value has a majority)."""
    parts = []
    for a, (key, values) in enumerate(sweep.axes):
        better, worse = [], []
        for value in values:
            verdicts = [
                c["verdict"]
                for item in summaries
                if item["cell"].values[a][1] == value
                for c in item["summary"]["comparisons"]
                if c["arm"] in arms
            ]
            if sum(v == "better" for v in verdicts) * 2 > len(verdicts):
                better.append(str(value))
            elif sum(v == "worse" for v in verdicts) * 2 > len(verdicts):
                worse.append(str(value))
        words = short_axis(key)
        if better and worse:
            parts.append(f"mostly better at {words} = {join_words(better)} and mostly worse at {join_words(worse)}")
        elif better or worse:
            parts.append(f"mostly {'better' if better else 'worse'} at {words} = {join_words(better or worse)}")
    return "; ".join(parts)


def _patterns(sweep: Sweep, summaries, kinds: dict[str, str]) -> str:
    """One sentence per kind of arm (transfer, then controls): where its cells mostly agree."""
    sentences = []
    arms = compared_arms(summaries)
    for kind in ("transfer", "control", "arm"):
        group = [a for a in arms if kinds.get(a, "arm") == kind]
        pattern = _axis_pattern(sweep, summaries, group) if group else ""
        if pattern:
            whose = "its" if len(group) == 1 else "their"
            sentences.append(f"{_subject(kind, group)} {pattern} (in most of {whose} cells with that value). ")
    return "".join(sentences)


def _highest(found, kinds: dict[str, str], base: str) -> str:
    """The cell where an arm's chance of beating a baseline run is highest, for transfer and for the controls."""
    out = []
    for kind, who in (("transfer", "a transfer arm"), ("control", "a control"), ("arm", "an arm")):
        rows = [(cell, c) for cell, c in found if kinds.get(c["arm"], "arm") == kind and c.get("a12") is not None]
        if rows:
            cell, best = max(rows, key=lambda cc: cc[1]["a12"])
            where = ", ".join(f"{short_axis(key)} = {v}" for key, v in cell.values)
            out.append(
                f"The highest chance that a run of {who} beats a run of {base} is {fmt(best['a12'], 2)} "
                f"({best['arm']} at {where}, difference of means {best['diff_mean']:+.3f}). "
            )
    return "".join(out)


def sweep_kinds(summaries) -> dict[str, str]:
    """Every compared arm's kind, from the cells' summaries (the first cell that records one)."""
    kinds: dict[str, str] = {}
    for item in summaries:
        for arm, kind in kinds_of(item["summary"]).items():
            if kinds.get(arm, "arm") == "arm":
                kinds[arm] = kind
    return kinds


def cells_words(n: int) -> str:
    """'1 cell', '4 cells'."""
    return f"{n} cell{'' if n == 1 else 's'}"


RUN_UNIT = "with the run as the unit (Mann-Whitney U, runs as independent)"


def _without_source(comparisons, kinds: dict[str, str]) -> str:
    """Where a study has K > 1 source models, the arms whose verdict still treats runs as independent (they start
    from no source model: stats.compare gives them Mann-Whitney U), as a clause; "" where there are none."""
    arms = list(dict.fromkeys(c["arm"] for c in comparisons if c.get("verdict_test") == MWU_VERDICT))
    if not arms:
        return ""
    which = f"{join_words([label(a, kinds) for a in arms])}, which {'starts' if len(arms) == 1 else 'start'}"
    return f", and {which} from no source model, {RUN_UNIT}"


def _sweep_sources(counts: list[int]) -> tuple[str, str]:
    """The source models of a sweep's cells (counts: one per cell) in words, and the unit each cell's verdict tests
    with: the source model where a cell has K > 1 of them (stats.compare: clustered Brunner-Munzel), the run where it
    has one (Mann-Whitney U on its runs as independent, conditional on that model). Cells can differ (a sweep over
    study.source_repeats): then the range, and which cells have one."""
    ones = sum(k <= 1 for k in counts)
    if ones == len(counts):
        return "one source model each, so conditional on it", f"{RUN_UNIT}, conditional on the cell's one source model"
    low, high = min(counts), max(counts)
    many = f"{high} source models each" if low == high else f"{low} to {high} source models per cell"
    if not ones:
        return many, "with the source model as the unit"
    which = "the cell" if ones == 1 else f"the {ones} cells"
    return (
        f"{many}; {which} with one {'is' if ones == 1 else 'are'} conditional on it",
        f"with the source model as the unit, or, in {which} with one source model, {RUN_UNIT}, conditional on that "
        "model",
    )


def sweep_finding(sweep: Sweep, summaries) -> str:
    """What the sweep found, in words and numbers: per compared arm how many cells it wins and loses, per kind of
    arm the values of each axis where most of its cells agree, and the cell where an arm's chance of beating a
    baseline run is highest; each cell's number of source models says what its verdict tests."""
    baseline = summaries[0]["summary"]["run"]["baseline"]
    axes = ", ".join(short_axis(key) for key in sweep.keys)
    arms = compared_arms(summaries)
    kinds = sweep_kinds(summaries)
    found = [(item["cell"], c) for item in summaries for c in item["summary"]["comparisons"]]
    if not found:
        return f"{cells_words(len(summaries))} over {axes}; no arm was compared with {baseline}."
    wins = " / ".join(str(sum(c["verdict"] == "better" for _, c in found if c["arm"] == arm)) for arm in arms)
    losses = " / ".join(str(sum(c["verdict"] == "worse" for _, c in found if c["arm"] == arm)) for arm in arms)
    sources, unit = _sweep_sources([item["summary"]["run"]["source_repeats"] for item in summaries])
    many = [
        c for item in summaries if item["summary"]["run"]["source_repeats"] > 1 for c in item["summary"]["comparisons"]
    ]
    unit += _without_source(many, kinds)
    plural = len(arms) > 1
    return (
        f"Across {cells_words(len(summaries))} ({' x '.join(short_axis(key) for key in sweep.keys)}, {sources}), "
        f"{' / '.join(label(a, kinds) for a in arms)} {'beat' if plural else 'beats'} {baseline} in {wins} "
        f"{'cell' if wins == '1' else 'cells'} and {'lose' if plural else 'loses'} in {losses}. "
        f"{_patterns(sweep, summaries, kinds)}{_highest(found, kinds, baseline)}{EXPLAIN_CHANCE}; each cell's verdict "
        f"tests it {unit}."
    )
