"""The numbers the README and docs/ quote from committed results, generated from those results.

Every quoted span sits between `<!-- n:KEY -->` and `<!-- /n -->` (invisible on GitHub). KEY either names one
function below (NUMBERS), which computes the span's text from the files under results/ (and sentences through
`blobs_transfer.render.findings`, the one place words about verdicts come from), or names one field of one
committed result (`field`):

    sweep/10/0.25/transfer_fixed=0/diff    results/sweep/cells.csv, the row with the axes 10 and 0.25 (in the
                                           order of its columns) and arm "transfer fixed=0": "+0.163 [0.125, 0.202]"
    budget/5/10/standalone/mean            the same in results/budget/cells.csv: "0.403"
    headline/arm/standalone/std            results/headline/summary.json, "arms", that arm's std
    sources/cmp/transfer_fixed=2/diff_mean+   ... "comparisons", signed
    example/source/test_accuracy           results/example/source/problem1.json

A field is printed with 3 decimals, signed when the key ends in "+"; `diff` is the difference of means with its
CI ("+0.163 [0.125, 0.202]"), `diff+` the same with signed CI ends ("+0.163 [+0.125, +0.202]"). Every number with
3 decimals in the README and docs/ sits in such a span, or in `<!-- not a committed result -->...<!-- /not -->`
(a timing, a simulation, a run that is not committed, the tutorial's published numbers): tests/test_docs.py fails
on a number outside both, and on any span that differs from what its result gives. After a result is regenerated:

    .venv/bin/python benchmarks/docs_numbers.py           # every span the new results invalidate, every
                                                          # number in no span (exit 1 if any)
    .venv/bin/python benchmarks/docs_numbers.py --write   # rewrite them (benchmarks/regenerate_results.sh does)

"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import re
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from statistics import median, stdev

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from blobs_transfer.render import findings  # noqa: E402

RESULTS = ROOT / "results"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SPAN = re.compile(r"<!-- n:(?P<key>[\w.=+/-]+) -->(?P<body>.*?)<!-- /n -->", re.S)
# numbers the docs quote from elsewhere (a timing, a run that is not committed, the tutorial's published numbers)
NOT_COMMITTED = re.compile(r"<!-- not a committed result(?:: [^>]*)? -->.*?<!-- /not -->", re.S)
THREE = re.compile(r"(?<![\w.])[+-]?\d+\.\d{3}(?!\d)")  # a number with 3 decimals: 0.760, +0.073, -0.002


def summary(run: str) -> dict:
    return json.loads((RESULTS / run / "summary.json").read_text())


def scores(run: str) -> list[dict]:
    with open(RESULTS / run / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def cells(run: str) -> list[dict]:
    with open(RESULTS / run / "cells.csv", newline="") as f:
        return list(csv.DictReader(f))


def tutorial_published() -> dict[str, tuple[str, str]]:
    """The tutorial's published mean and SD per arm, from docs/protocol.md section 3 (the one place they are)."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    return {
        arm: (m, s)
        for arm, m, s in re.findall(r"^\| ((?:standalone|transfer fixed=\d)) \| (0\.\d+) \| (0\.\d+) \|$", text, re.M)
    }


def block(text: str) -> str:
    """A span that is a block of its own (a table, a quote): blank lines between it and its markers."""
    return "\n\n" + text + "\n\n"


def quote(text: str) -> str:
    return "\n".join("> " + line for line in textwrap.wrap(text, 114))


# --- README ---------------------------------------------------------------------------------------------


def headline_quote() -> str:
    return block(quote(findings.finding(summary("headline")).split(" " + findings.EXPLAIN_CHANCE)[0]))


def headline_table() -> str:
    s = summary("headline")
    rows = {c["arm"]: c for c in s["comparisons"]}
    out = [
        "| arm | mean [95% CI] | difference to standalone [95% CI] | chance a run beats standalone [95% CI] "
        "| verdict |",
        "|---|---|---|---|---|",
    ]
    for a in s["arms"]:
        row = f"| {a['arm']} | {a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] |"
        c = rows.get(a["arm"])
        row += (
            f" {c['diff_mean']:+.3f} [{c['diff_ci_low']:.3f}, {c['diff_ci_high']:.3f}] | {c['a12']:.2f} "
            f"[{c['a12_ci_low']:.2f}, {c['a12_ci_high']:.2f}] | {c['verdict']} |"
            if c
            else " | | |"
        )
        out.append(row)
    return block("\n".join(out))


def per_source(run: str) -> dict[str, dict[int, list[float]]]:
    """arm -> source index -> that source model's runs' test accuracies ({-1: all} for an arm without sources)."""
    out: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in scores(run):
        if r["diverged"] == "0":
            out[r["arm"]][int(r["source_index"]) if r["source_index"] else -1].append(float(r["test_accuracy"]))
    return out


def tutorial_table() -> str:
    """The tutorial's mean (SD) beside the example (one source model) and the headline (100 source models):
    pooled SD and the median SD within one source model."""
    published = tutorial_published()
    ex, head = per_source("example"), per_source("headline")
    k = len(head["transfer fixed=0"])
    out = [
        "| arm | the tutorial (one source model, 30 runs) | `results/example` (one source model, 30 runs) "
        f"| `results/headline`, all runs ({k} source models) | `results/headline`, median SD within one source "
        "model |",
        "|---|---|---|---|---|",
    ]
    for arm, (m, sd) in published.items():
        e = [x for runs in ex[arm].values() for x in runs]
        h = [x for runs in head[arm].values() for x in runs]
        within = "" if arm == "standalone" else f"{median(stdev(v) for v in head[arm].values()):.3f}"
        out.append(
            f"| {arm} | {m} ({sd}) | {sum(e) / len(e):.3f} ({stdev(e):.3f}) | {sum(h) / len(h):.3f} "
            f"({stdev(h):.3f}) | {within} |"
        )
    return block("\n".join(out))


def variance_sentence() -> str:
    """The tutorial's reading, source model by source model, in the headline's numbers."""
    s, head = summary("headline"), per_source("headline")
    arms = [a for a in tutorial_published() if a != "standalone"]
    k = len(head[arms[0]])
    base = [x for runs in head["standalone"].values() for x in runs]
    base_sd = stdev(base)
    within = [median(stdev(v) for v in head[a].values()) for a in arms]
    below = min(sum(stdev(v) < base_sd for v in head[a].values()) for a in arms)
    pooled = [stdev([x for runs in head[a].values() for x in runs]) for a in arms]
    iccs = sorted(v["icc"] for v in s["sources"]["variance"].values())
    best = defaultdict(int)
    for r in s["sources"]["ranking"]:
        best[r["best_arm"]] += 1
    side = "higher" if min(pooled) > base_sd else "lower" if max(pooled) < base_sd else "about as high"
    return (
        f"Within one source model, a transfer arm's runs barely differ (median SD {min(within):.3f}-"
        f"{max(within):.3f} across the {k} source models, against standalone's {base_sd:.3f}), so the "
        f'tutorial\'s "transfer cuts the variance" holds within at least {below} of {k} source models. '
        f"Pooled over source models, transfer's SD is {min(pooled):.3f}-{max(pooled):.3f}, {side} than "
        f"standalone's: which source model a run starts from decides most of its score (intraclass correlation "
        f'{iccs[0]:.2f}-{iccs[-1]:.2f}). "fixed=1 is best" (the highest mean of the three transfer arms) holds for '
        f"{best['transfer fixed=1']} of {k} source "
        f"models (fixed=0 is best for {best['transfer fixed=0']}, fixed=2 for {best['transfer fixed=2']})."
    )


def example_source() -> str:
    """Where the example's one source model sits among the headline's 100 (the same seed is source model 0)."""
    ex_meta = json.loads((RESULTS / "example" / "metadata.json").read_text())
    head_meta = json.loads((RESULTS / "headline" / "metadata.json").read_text())
    seed = next(iter(ex_meta["source_models"].values()))["seeds"][0]
    seeds = next(iter(head_meta["source_models"].values()))["seeds"]
    head = per_source("headline")
    arm = "transfer fixed=1"
    means = {g: sum(v) / len(v) for g, v in head[arm].items()}
    g = seeds.index(seed)
    below = sum(m < means[g] for m in means.values())
    lo, hi = min(means.values()), max(means.values())
    return (
        f"The example's one source model (seed {seed}) is the headline's source model {g}: from it, "
        f"transfer fixed=1 averages {means[g]:.3f}, and {below} of the {len(means)} source models do worse. "
        f"Across the {len(means)} source models, transfer fixed=1's mean runs from {lo:.3f} to {hi:.3f}."
    )


def headline_k() -> str:
    return str(summary("headline")["run"]["source_repeats"])


# --- docs/sweeps.md and docs/tracking.md ---------------------------------------------------------------


def sweep_meta() -> dict:
    return json.loads((RESULTS / "sweep" / "metadata.json").read_text())


def sweep_wall() -> str:
    return f"{sweep_meta()['wall_seconds']:.1f} s"


def sweep_rate() -> str:
    m = sweep_meta()
    return f"about {round(m['networks'] / m['wall_seconds'], -1):.0f} networks a second"


def sweep_borderline() -> str:
    """Comparisons whose verdict is better or worse while the difference of means' CI reaches past 0."""
    rows = [r for r in cells("sweep") if r["verdict"]]
    n = sum(
        r["verdict"] in ("better", "worse") and float(r["diff_ci_low"]) <= 0 <= float(r["diff_ci_high"]) for r in rows
    )
    return f"{n} of the sweep's {len(rows)} comparisons"


def example_printed() -> str:
    """What `compare` prints for results/example/, the tutorial's way (a code block: no spans inside it)."""
    from blobs_transfer.render.report import tutorial_lines

    return block("```\n" + "\n".join(tutorial_lines(summary("example"))) + "\n```")


def sweep_diff_table() -> str:
    """docs/sweeps.md: transfer fixed=1 minus standalone per cell of results/sweep/, signed CI ends."""
    rows = cells("sweep")
    ns = list(dict.fromkeys(r["target.n_train"] for r in rows))
    ts = list(dict.fromkeys(r["target.similarity_t"] for r in rows))
    names = {ts[0]: "0 (source's centres)", ts[-1]: "1 (Problem 2)"}
    out = [
        "| target rows \\ similarity t | " + " | ".join(names.get(t, f"{float(t):g}") for t in ts) + " |",
        "|---|" + "---|" * len(ts),
    ]
    for n in ns:
        out.append(f"| {n} | " + " | ".join(field(f"sweep/{n}/{t}/transfer_fixed=1/diff+") for t in ts) + " |")
    return block("\n".join(out))


def optimizer_table() -> str:
    """docs/predictions.md: results/optimizer/ per optimizer and train size (tests/test_optimizer_answer.py reads
    the table between its two comments)."""
    rows = cells("optimizer")
    out = [
        "<!-- optimizer table: checked against results/optimizer/cells.csv by tests/test_optimizer_answer.py -->",
        "| optimizer | train rows | standalone mean | transfer fixed=0 | transfer fixed=1 | transfer fixed=2 "
        "| best arm (P(best)) |",
        "|---|---|---|---|---|---|---|",
    ]
    for o, n in dict.fromkeys((r["target.optimizer"], r["target.n_train"]) for r in rows):
        s = cell_row("optimizer", [o, n, "standalone"])
        arms = [cell_row("optimizer", [o, n, f"transfer_fixed={i}"]) for i in range(3)]
        out.append(
            f"| {o} | {n} | {s['mean']:.3f} | "
            + " | ".join(
                f"{field(f'optimizer/{o}/{n}/transfer_fixed={i}/diff')} {a['verdict']}" for i, a in enumerate(arms)
            )
            + f" | {s['cell_best_arm']} ({s['cell_best_p']:.2f}) |"
        )
    out.append("<!-- end of optimizer table -->")
    return block("\n".join(out))


def adam_slow() -> str:
    """Standalone's mean under Adam with the fewest rows (tests/test_optimizer_answer.py reads this phrase)."""
    rows = cells("optimizer")
    n = min((r["target.n_train"] for r in rows), key=int)
    return f"standalone reaches only {field(f'optimizer/adam/{n}/standalone/mean')}"


def control_verdicts() -> str:
    """docs/predictions.md: the weight-statistics control's verdicts over results/transfusion/'s cells."""
    rows = [r for r in cells("transfusion") if r["arm"].startswith("weight stats")]
    n = {v: sum(r["verdict"] == v for r in rows) for v in ("better", "worse")}
    top = max(float(r["diff_mean"]) for r in rows)
    return (
        f'The control is "better" in {n["better"]} of {len(rows)} cells (worse in {n["worse"]}, largest mean '
        f"difference {top:+.3f})"
    )


def runs_listing() -> str:
    from blobs_transfer import api

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        table = api.runs_table(api.list_runs("results"))
    finally:
        os.chdir(here)
    return block(
        "```\n$ blobs-transfer runs results\n" + "\n".join(line.rstrip() for line in table.splitlines()) + "\n```"
    )


# --- docs/statistics.md: the source-model level against runs as independent ------------------------------


@functools.lru_cache(maxsize=1)
def sources_both() -> tuple[dict, dict]:
    """results/sources/'s summary (nested), and the same `stats` functions on the same runs without the source
    index (pooled: the runs as independent), seeded as `summarise` seeds them."""
    from blobs_transfer.rundir.run import run_summary
    from blobs_transfer.seeds import statistic_seed
    from blobs_transfer.stats import compare_arms, describe
    from blobs_transfer.stats.summary import arm_accuracies

    cfg, records, _, nested = run_summary(RESULTS / "sources")
    by_arm = arm_accuracies(cfg, records)
    root = cfg.study.seed
    pooled_arms = {n: describe(d["accuracy"], seed=statistic_seed(root, "describe", n)) for n, d in by_arm.items()}
    pooled_cmp = compare_arms(
        {n: d["accuracy"] for n, d in by_arm.items()},
        {n: d["correct"] for n, d in by_arm.items()},
        cfg.study.baseline,
        seed=root,
        n_test=cfg.target_spec.n_test,
    )
    return nested, {"arms": pooled_arms, "comparisons": {c["arm"]: c for c in pooled_cmp}}


def sources_table() -> str:
    nested, pooled = sources_both()
    out = [
        "| arm | n | effective n | mean | 95% CI of mean, nested (pooled) | diff of means, nested 95% CI (pooled) "
        "| chance a run beats standalone, nested 95% CI | verdict nested (pooled) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    cmp = {c["arm"]: c for c in nested["comparisons"]}

    def p(v):
        return f"{v:.0e}".replace("e-0", "e-") if v < 0.001 else f"{v:.3f}"

    for a in nested["arms"]:
        name, pa = a["arm"], pooled["arms"][a["arm"]]
        if name not in cmp:
            out.append(f"| {name} | {a['n']} | | {a['mean']:.3f} | [{a['ci_low']:.3f}, {a['ci_high']:.3f}] | | | |")
            continue
        c, pc = cmp[name], pooled["comparisons"][name]
        verdict = (
            f"{c['verdict']}, p = {p(c['verdict_p_holm'])} ({pc['verdict']}, p = {p(pc['verdict_p_holm'])})"
            if c["verdict"] != "no evidence" or pc["verdict"] != "no evidence"
            else f"{c['verdict']} ({pc['verdict']})"
        )
        out.append(
            f"| {name} | {a['n']} | {a['n_effective']:.1f} | {a['mean']:.3f} | [{a['ci_low']:.3f}, "
            f"{a['ci_high']:.3f}] ([{pa['ci_low']:.3f}, {pa['ci_high']:.3f}]) | {c['diff_mean']:+.3f} "
            f"[{c['diff_ci_low']:.3f}, {c['diff_ci_high']:.3f}] ([{pc['diff_ci_low']:.3f}, "
            f"{pc['diff_ci_high']:.3f}]) | {c['a12']:.2f} [{c['a12_ci_low']:.2f}, {c['a12_ci_high']:.2f}] "
            f"| {verdict} |"
        )
    return block("\n".join(out))


def sources_ratios() -> str:
    nested, pooled = sources_both()
    cmp = {c["arm"]: c for c in nested["comparisons"]}
    arms = [a for a in nested["arms"] if a["arm"] in cmp]
    iccs = sorted(v["icc"] for v in nested["sources"]["variance"].values())
    k = nested["run"]["source_repeats"]
    n = arms[0]["n"]
    diff = [
        (cmp[a["arm"]]["diff_ci_high"] - cmp[a["arm"]]["diff_ci_low"])
        / (pooled["comparisons"][a["arm"]]["diff_ci_high"] - pooled["comparisons"][a["arm"]]["diff_ci_low"])
        for a in arms
    ]
    mean = [
        (a["ci_high"] - a["ci_low"]) / (pooled["arms"][a["arm"]]["ci_high"] - pooled["arms"][a["arm"]]["ci_low"])
        for a in arms
    ]
    return (
        f"intraclass correlation {iccs[0]:.2f}-{iccs[-1]:.2f}), so {n} runs are worth about {k} independent ones: "
        f"the nested CIs of the difference are {min(diff):.1f}-{max(diff):.1f}x wider than the pooled ones, and the "
        f"pooled CIs of the transfer arms' means are {min(mean):.2f}-{max(mean):.2f}x too narrow"
    )


def sources_fold() -> str:
    """How much the pooled p of the one arm with a verdict overstated the evidence against the nested p."""
    nested, pooled = sources_both()
    c = next(c for c in nested["comparisons"] if c["verdict"] != "no evidence")
    ratio = c["verdict_p_holm"] / pooled["comparisons"][c["arm"]]["verdict_p_holm"]
    return f"about {float(f'{ratio:.1g}'):.0f}-fold"


# --- one field of one committed result -------------------------------------------------------------------


def arm_of(slug: str) -> str:
    return slug.replace("_", " ")


def cell_row(run: str, where: list[str]) -> dict:
    """The row of results/RUN/cells.csv with these axis values (in column order) and this arm, the last of where."""
    rows = cells(run)
    axes = list(rows[0])[: list(rows[0]).index("arm")]
    if len(where) != len(axes) + 1:
        raise KeyError(f"{run}: give {axes} and an arm, not {where}")
    found = [r for r in rows if [r[a] for a in axes] == where[:-1] and r["arm"] == arm_of(where[-1])]
    if len(found) != 1:
        raise KeyError(f"{run}: {len(found)} rows for {where}")
    return {k: float(v) if re.fullmatch(r"[+-]?[\d.e+-]+", v) else v for k, v in found[0].items()}


def record(run: str, where: list[str]) -> dict:
    """The dict that a key's middle part names in results/RUN."""
    if where[0] == "source":
        return json.loads((RESULTS / run / "source" / "problem1.json").read_text())
    if where[0] in ("arm", "cmp") and (RESULTS / run / "summary.json").exists():
        (slug,) = where[1:]
        return next(a for a in summary(run)["arms" if where[0] == "arm" else "comparisons"] if a["arm"] == arm_of(slug))
    return cell_row(run, where)


def field(key: str) -> str:
    """The text of a key that names one field of one committed result (see the module's docstring)."""
    run, *where, name = key.split("/")
    signed = name.endswith("+")
    name = name.rstrip("+")
    r = record(run, where)
    f = "+.3f" if signed else ".3f"
    if name == "diff":
        return f"{r['diff_mean']:+.3f} [{r['diff_ci_low']:{f}}, {r['diff_ci_high']:{f}}]"
    return f"{r[name]:{f}}"


def generate(key: str) -> str:
    """A span's text: its function's, or its field's."""
    return NUMBERS[key]() if key in NUMBERS else field(key)


# --- docs/predictions.md: which score to trust, across setups ------------------------------------------------


def setups_study() -> dict:
    """The study across setups that rank-sources wrote into results/transferability/transferability.json."""
    return json.loads((RESULTS / "transferability" / "transferability.json").read_text(encoding="utf-8"))["study"]


def setups_findings() -> str:
    """Its sentences (`render.setups.findings`), as written there, one quoted paragraph each."""
    return block("\n>\n".join(quote(f) for f in setups_study()["findings"]))


def setups_table() -> str:
    """Its win rates over every transfer arm (`render.setups.rates_table`), as transferability.html shows them."""
    from blobs_transfer.render import report, setups

    return block(report.markdown_table(*setups.rates_table(setups_study())))


# --- docs/predictions.md: which source model will transfer -------------------------------------------------


def scores_finding() -> str:
    """The headline's transferability finding per transfer arm (`render.transferability.arm_finding`)."""
    from blobs_transfer.render import transferability

    b = summary("headline")["transferability"]
    return " ".join(transferability.arm_finding(a, r, b["reference"]) for a, r in b["arms"].items())


def scores_table() -> str:
    """The headline's table of every score per transfer arm (`render.transferability.table`)."""
    from blobs_transfer.render import report, transferability

    return block(report.markdown_table(*transferability.table(summary("headline")["transferability"])))


def targets_table() -> str:
    """Each score's rho across results/targets/'s targets (`render.transferability.targets_table`)."""
    from blobs_transfer.render import report, transferability

    result = json.loads((RESULTS / "targets" / "transferability.json").read_text(encoding="utf-8"))
    return block(report.markdown_table(*transferability.targets_table(result)))


NUMBERS = {
    "scores-finding": scores_finding,
    "scores-table": scores_table,
    "targets-table": targets_table,
    "setups-findings": setups_findings,
    "setups-table": setups_table,
    "sources-fold": sources_fold,
    "sources-table": sources_table,
    "sources-ratios": sources_ratios,
    "headline-quote": headline_quote,
    "headline-table": headline_table,
    "headline-k": headline_k,
    "tutorial-table": tutorial_table,
    "variance": variance_sentence,
    "example-source": example_source,
    "sweep-wall": sweep_wall,
    "sweep-rate": sweep_rate,
    "sweep-borderline": sweep_borderline,
    "runs-listing": runs_listing,
    "example-printed": example_printed,
    "sweep-diff-table": sweep_diff_table,
    "optimizer-table": optimizer_table,
    "adam-slow": adam_slow,
    "control-verdicts": control_verdicts,
}


def spans() -> list[tuple[Path, str, str]]:
    """(page, key, text as written) of every quoted span in the README and docs/."""
    return [(page, m["key"], m["body"]) for page in PAGES for m in SPAN.finditer(page.read_text())]


def stale() -> list[tuple[Path, str, str, str]]:
    """(page, key, written, generated) of every span whose text is not what its result gives now."""
    out = []
    for page, key, body in spans():
        try:
            new = generate(key)
        except (KeyError, ValueError, StopIteration, OSError) as e:
            new = f"(no result for {key}: {e!r})"
        if body != new:
            out.append((page, key, body, new))
    return out


def unbound() -> list[tuple[Path, int, str]]:
    """(page, line, number) of every number with 3 decimals outside both a span and a not-committed mark."""
    out = []
    for page in PAGES:
        text = page.read_text()
        keep = NOT_COMMITTED.sub(
            lambda m: re.sub(r"[^\n]", " ", m[0]), SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)
        )
        out += [(page, keep.count("\n", 0, m.start()) + 1, m[0]) for m in THREE.finditer(keep)]
    return out


def write() -> int:
    changed = 0
    for page in PAGES:
        text = page.read_text()
        new = SPAN.sub(lambda m: f"<!-- n:{m['key']} -->{generate(m['key'])}<!-- /n -->", text)
        if new != text:
            page.write_text(new)
            changed += 1
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite every span from the results")
    args = parser.parse_args()
    if args.write:
        print(f"rewrote the quoted numbers in {write()} page(s)")
        return 0
    found = stale()
    for page, key, body, new in found:
        print(f"{page.relative_to(ROOT)}: {key}: {body.strip()[:80]!r} -> {new.strip()[:80]!r}")
    free = unbound()
    for page, line, number in free:
        print(
            f"{page.relative_to(ROOT)}:{line}: {number} is in no span (give it a key) and not marked as not committed"
        )
    return 1 if found or free else 0


if __name__ == "__main__":
    sys.exit(main())
