"""A summary rendered three ways, the terminal, Markdown and HTML, from one list of sections so they cannot drift.

Pure: `sections(summary)` decides what is said; `terminal`, `markdown` and `html` only lay it out. Figures are
referred to by file name; `html` is handed their bytes to embed. No TensorFlow, no files.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blobs_transfer.render import glossary, transferability
from blobs_transfer.render.findings import best_arm_line, counts_phrase, finding, fmt, sources_phrase

# the run's figures in the order a reader meets them, each under a title in words
FIGURES = {
    "boxplot.png": "Every run's test accuracy, per arm",
    "forest.png": "Each arm against the baseline: difference of means and the chance a run beats the baseline",
    "sources.png": "Each source model's mean, per arm",
    "curves.png": "Learning curves on the target problem's test split",
    "train_test.png": "Train against test, per arm, as the tutorial draws them",
}
# the docs page behind each kind of section, relative to the repository (a report links them from its run folder)
STATISTICS = "docs/statistics.md"
DOC_OF = {
    "What this run found": "docs/glossary.md",
    "What this sweep found": "docs/glossary.md",
    "boxplot.png": STATISTICS + "#per-arm-and-against-the-baseline",
    "forest.png": STATISTICS + "#per-arm-and-against-the-baseline",
    "sources.png": STATISTICS + "#the-source-model-is-the-unit-of-replication",
    "curves.png": STATISTICS + "#benefits-of-transfer-torrey-and-shavlik",
    "train_test.png": "docs/protocol.md#3-the-tutorials-steps-and-the-numbers-it-published",
    "tutorial": "docs/protocol.md#3-the-tutorials-steps-and-the-numbers-it-published",
}
# the header's links: all in the page itself or beside it, so that they resolve wherever the run is written (inside
# the repository, under --results-dir anywhere, from an installed wheel); the docs pages stay repository paths in
# each Section's `doc`, for Markdown readers in a clone
LINKS = (
    ("glossary", "#" + glossary.ID),
    ("contents", "#contents"),
    ("this run's files", "./"),
    ("all runs in this results folder", "../"),
)
FOLD_ROWS = 20  # a table longer than this is folded (<details>) under its title


@dataclass(frozen=True)
class Section:
    """One block of a report: kind "lines" (preformatted), "text" (a paragraph), "table" ((header, rows)) or
    "figure" (a file name, shown under the section's title in words; never in the terminal). `terminal=False`
    keeps a block out of the terminal output; `folded=True` folds a long table into <details> in HTML and
    Markdown, with the title as the line a reader clicks."""

    title: str | None
    kind: str
    body: Any
    terminal: bool = True
    folded: bool = False
    doc: str | None = None  # the docs page (repository path, with an anchor) that explains this section


def tutorial_label(arm: str) -> str:
    """'transfer fixed=1' -> 'Transfer (fixed=1)', the tutorial's way of printing its arms; others unchanged."""
    if arm == "standalone":
        return "Standalone"
    match = re.fullmatch(r"transfer (fixed=\d+)", arm)
    return f"Transfer ({match.group(1)})" if match else arm


def _e(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2e}"


def _p(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def tutorial_lines(summary: dict[str, Any]) -> list[str]:
    """'Standalone 0.787 (0.101)' per arm, as the tutorial prints them."""
    return [
        f"{tutorial_label(a['arm'])} {fmt(a.get('mean'))} ({fmt(a.get('std'))})"
        if a["n"]
        else f"{tutorial_label(a['arm'])} no runs finished"
        for a in summary["arms"]
    ]


# the numbers the tutorial published (docs/protocol.md section 3: 30 unseeded runs per arm, one source model), shown
# beside a run's own only where the run follows its protocol (tests/render/test_labels.py reads them from the doc)
PUBLISHED = {
    "standalone": (0.787, 0.101),
    "transfer fixed=0": (0.805, 0.004),
    "transfer fixed=1": (0.817, 0.005),
    "transfer fixed=2": (0.750, 0.014),
}
THIS_RUN_TITLE = "This run's numbers: mean (SD) per arm, printed as the tutorial prints its own"
PUBLISHED_TITLE = "The tutorial's published numbers, for comparison (30 unseeded runs per arm from one source model)"


def follows_tutorial(summary: dict[str, Any]) -> bool:
    """Whether the run is the tutorial's protocol (Problem 1 to Problem 2 as catalogued, 100 epochs), so that the
    tutorial's published numbers are the ones to set beside it."""
    run = summary["run"]
    return (
        run.get("source", f"Problem {run.get('source_problem')}") == "Problem 1"
        and run.get("target", f"Problem {run.get('target_problem')}") == "Problem 2"
        and run.get("epochs") == 100
    )


def published_lines(summary: dict[str, Any]) -> list[str]:
    """'Standalone 0.787 (0.101)' per arm of this run that the tutorial also ran, as it printed them."""
    return [
        f"{tutorial_label(a['arm'])} {PUBLISHED[a['arm']][0]:.3f} ({PUBLISHED[a['arm']][1]:.3f})"
        for a in summary["arms"]
        if a["arm"] in PUBLISHED
    ]


def arm_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    nested = any(a.get("n_sources") for a in summary["arms"])
    header = [
        "arm",
        "n",
        *(["sources", "effective n"] if nested else []),
        "mean",
        "95% CI of mean",
        "std",
        "median",
        "IQR",
        "IQM",
        "min",
        "max",
        "diverged",
    ]
    rows = []
    for a in summary["arms"]:
        if not a["n"]:
            rows.append([a["arm"], "0", *(["n/a", "n/a"] if nested else []), *["n/a"] * 8, str(a["n_diverged"])])
            continue
        rows.append(
            [
                a["arm"],
                str(a["n"]),
                *([str(a.get("n_sources") or ""), fmt(a.get("n_effective"), 1)] if nested else []),
                fmt(a["mean"]),
                f"[{fmt(a['ci_low'])}, {fmt(a['ci_high'])}]",
                fmt(a["std"]),
                fmt(a["median"]),
                fmt(a["iqr"]),
                fmt(a["iqm"]),
                fmt(a["min"]),
                fmt(a["max"]),
                str(a["n_diverged"]),
            ]
        )
    return header, rows


def comparison_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    nested = any(c.get("n_sources", 0) and c["n_sources"] > 1 for c in summary["comparisons"])
    header = [
        "arm",
        *(["sources", "design effect"] if nested else []),
        "diff of means [95% CI]",
        "P(arm > base) [95% CI]",
        "Hedges' g",
        "verdict test",
        "p (Holm)",
        "verdict",
    ]
    rows = [
        [
            c["arm"],
            *([str(c.get("n_sources") or ""), fmt(c.get("design_effect"), 1)] if nested else []),
            f"{c['diff_mean']:+.3f} [{fmt(c['diff_ci_low'])}, {fmt(c['diff_ci_high'])}]",
            f"{fmt(c['a12'], 2)} [{fmt(c['a12_ci_low'], 2)}, {fmt(c['a12_ci_high'], 2)}]",
            fmt(c["hedges_g"], 2),
            "clustered Brunner-Munzel" if c.get("verdict_test", "").startswith("clustered") else "Mann-Whitney",
            _p(c.get("verdict_p_holm", c.get("mwu_p_holm"))),
            c["verdict"],
        ]
        for c in summary["comparisons"]
    ]
    return header, rows


def benefits_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["arm", "start (epoch 0)", "epochs to 95% of final", "area under curve", "asymptote (final)"]

    def cell(d, digits=3):
        return f"{fmt(d['mean'], digits)} [{fmt(d['ci_low'], digits)}, {fmt(d['ci_high'], digits)}]"

    rows = [
        [arm, cell(b["start"]), cell(b["epochs_to_95"], 1), cell(b["auc"]), cell(b["asymptote"])]
        for arm, b in summary["benefits"].items()
    ]
    return header, rows


def sources_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Between- vs within-source variance per transfer arm (only when several source models were trained)."""
    header = ["arm", "sources", "between-source var", "within-source var", "ICC", "effective n"]
    rows = []
    n_effective = {a["arm"]: a.get("n_effective") for a in summary["arms"]}
    for arm, v in summary["sources"]["variance"].items():
        # the arm's own effective n (n / design effect, the size-weighted runs per source): one formula everywhere
        n_eff = n_effective.get(arm)
        rows.append(
            [arm, str(v["n_groups"]), _e(v["between_var"]), _e(v["within_var"]), fmt(v["icc"], 2), fmt(n_eff, 1)]
        )
    return header, rows


NESTING_NOTE = (
    "Runs of a transfer arm are nested in source models, and the source model is the unit of replication: "
    "the CIs of such arms come from a two-stage bootstrap (source models, then runs within them) and "
    "their verdict from a clustered Brunner-Munzel test of P(arm > base) with the source model as the unit, "
    "so an arm of K x R runs counts as about its effective n (K when the ICC is near 1), never as K x R "
    "independent runs."
)
VERDICT_NOTE = (
    "P(arm > base) is the Vargha-Delaney A12 on correct counts; p-values are Holm-adjusted across arms, at "
    "alpha 0.05. An arm from one source model (or none) is tested by the tie-corrected Mann-Whitney U test "
    "on correct counts; an arm from several source models by the clustered Brunner-Munzel test of A12 = 1/2 "
    "(each source model one unit). Either way the verdict is about P(arm > base), and its direction is "
    "that of A12; the difference of means can point the other way when a few runs collapse."
)


def se_note(summary: dict[str, Any]) -> str:
    run = summary["run"]
    return (
        f"One accuracy on {run['n_test']} test rows has a binomial standard error of about "
        f"{run['binomial_se']:.3f} near {run['typical_accuracy']:.2f}, so differences smaller than that between "
        "single runs are noise."
    )


def run_line(summary: dict[str, Any]) -> str:
    run = summary["run"]
    source = run.get("source", f"Problem {run['source_problem']:d}")
    target = run.get("target", f"Problem {run['target_problem']:d}")
    return (
        f"{counts_phrase(summary)}; {run['epochs']} epochs, engine {run['engine']}, root seed {run['seed']}; "
        f"source {source}, target {target}."
    )


GENERALISE_LINE = (
    "These transfer results hold for this one source model only; to generalise over source models, "
    "rerun with --source-repeats K (K source models from recorded seeds; 30 or more for a verdict)."
)


def one_source(summary: dict[str, Any]) -> bool:
    source = summary["run"].get("source_model")
    return bool(source) and source["count"] == 1


def benefits_title(summary: dict[str, Any]) -> str:
    """The benefits table's title, saying at which level its intervals are."""
    source = summary["run"].get("source_model") or {}
    k = source.get("count", 0)
    level = (
        f"transfer arms' CIs over {k} source models"
        if k > 1
        else "transfer arms' CIs conditional on one source model"
        if k == 1
        else "CIs over runs"
    )
    return f"Benefits of transfer (Torrey and Shavlik): mean [95% CI]; {level}"


BENEFITS_NOTE = (
    "Start: test accuracy before any training on the target; epochs to 95%: the first epoch a run reaches "
    "95% of its final accuracy (fewer is a steeper slope); area under curve: the mean accuracy over all "
    "epochs; asymptote: the final accuracy. For an arm whose runs come from several source models each "
    "interval is the mean -+ t (K - 1 df) x a two-stage bootstrap SE (source models, then runs), because "
    "runs of one source share its start and nearly all of the rest; the bands in the learning curves use "
    "the cluster-robust SE per epoch for the same reason."
)


def sections(summary: dict[str, Any]) -> list[Section]:
    """Everything a report says, in order: the finding, the figures under titles in words, then the tables."""
    run = summary["run"]
    phrase = sources_phrase(summary)
    out = [
        Section("What this run found", "text", finding(summary), doc=DOC_OF["What this run found"]),
        Section(None, "text", run_line(summary), terminal=False),
        *(
            Section(title, "figure", name, terminal=False, doc=DOC_OF.get(name))
            for name, title in FIGURES.items()
            if name != "sources.png" or "sources" in summary
        ),  # per-source means: only with several source models
        Section(THIS_RUN_TITLE, "lines", tutorial_lines(summary), doc=DOC_OF["tutorial"]),
        *(
            [Section(PUBLISHED_TITLE, "lines", published_lines(summary), doc=DOC_OF["tutorial"])]
            if follows_tutorial(summary) and published_lines(summary)
            else []
        ),
        Section(
            "Per arm (test accuracy" + (f"; {phrase}" if phrase else "") + ")",
            "table",
            arm_table(summary),
            doc=STATISTICS + "#per-arm-and-against-the-baseline",
        ),
        Section(None, "text", se_note(summary)),
    ]
    if summary["comparisons"]:
        out += [
            Section(
                f"Against the baseline ({run['baseline']})",
                "table",
                comparison_table(summary),
                doc=STATISTICS + "#per-arm-and-against-the-baseline",
            ),
            Section(None, "text", VERDICT_NOTE, terminal=False),
        ]
    if summary["benefits"]:
        out += [
            Section(
                benefits_title(summary),
                "table",
                benefits_table(summary),
                terminal=False,
                doc=STATISTICS + "#benefits-of-transfer-torrey-and-shavlik",
            ),
            Section(None, "text", BENEFITS_NOTE, terminal=False),
        ]
    if "sources" in summary:
        out += [
            Section(
                "Across source models",
                "table",
                sources_table(summary),
                doc=STATISTICS + "#the-source-model-is-the-unit-of-replication",
            ),
            Section(None, "text", NESTING_NOTE),
            Section(None, "text", best_arm_line(summary)),
        ]
    out += [Section(*block) for block in transferability.sections(summary)]  # which source model will transfer
    if one_source(summary):
        out.append(Section(None, "text", GENERALISE_LINE))
    return out


# --- renderers -----------------------------------------------------------------------------------


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """An aligned plain-text table for the terminal."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows)]
    )


def terminal(blocks: list[Section]) -> str:
    parts = []
    for s in (b for b in blocks if b.terminal):
        if s.title:
            parts.append(f"{s.title}:")
        if s.kind == "lines":
            parts.append("\n".join(s.body))
        elif s.kind == "table":
            parts.append(format_table(*s.body))
        elif s.kind == "text":
            parts.append(s.body)
        parts.append("")
    return "\n".join(parts).rstrip()


def _expand(blocks: list[Section]) -> list[Section]:
    """A "figures" section (a list of file names, as sections were written before figures had titles) becomes one
    "figure" section per name, titled in words where the name is known, so that no figure is ever dropped."""
    out = []
    for s in blocks:
        if s.kind == "figures":
            out += [Section(FIGURES.get(name, name), "figure", name, terminal=False) for name in s.body]
        else:
            out.append(s)
    return out


def about_line(meta: Mapping[str, Any]) -> str:
    """Which command made a result, when, with which version and commit (from its metadata.json)."""
    version = (meta.get("versions") or {}).get("blobs-transfer", "unknown")
    commit = (meta.get("git_commit") or "unknown")[:12]
    when = str(meta.get("created_utc", "unknown")).replace("T", " ").replace("+00:00", " UTC")
    made_by = meta.get("command") or "the Python library"
    return f"Made by `{made_by}` on {when} with blobs-transfer {version}, commit {commit}."


def config_label(command: str | None, kind: str) -> str:
    """What a title names a result by: its --config file ('configs/headline.toml (compare)'), else the command
    itself without its results folder, else that it came from Python."""
    if not command:
        return f"A {kind} made from Python"
    from_config = re.search(r"--config[ =](\S+)", command)
    return f"{from_config.group(1)} ({kind})" if from_config else re.sub(r" --results-dir[ =]\S+", "", command)


def anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


def markdown(blocks: list[Section], title: str, about: str = "") -> str:
    parts = [f"# {title}", ""] + ([about, ""] if about else [])
    for s in _expand(blocks):
        if s.folded and s.kind == "table":
            parts += [
                f"<details><summary>{s.title} ({len(s.body[1])} rows)</summary>",
                "",
                markdown_table(*s.body),
                "",
                "</details>",
                "",
            ]
            continue
        if s.title:
            parts += [f"## {s.title}", ""]
        if s.kind == "lines":
            parts += ["```", *s.body, "```"]
        elif s.kind == "table":
            parts.append(markdown_table(*s.body))
        elif s.kind == "text":
            parts.append(s.body)
        elif s.kind == "figure":
            parts.append(f"![{s.title or s.body}]({s.body})")
        parts.append("")
    return "\n".join(parts)


def html(blocks: list[Section], title: str, figures: Mapping[str, bytes], about: str = "") -> str:
    """A self-contained page: a header (what made it, its links), a contents list, tables as HTML, the figures
    (name -> PNG bytes) embedded as base64, and the glossary, which every section's "what the words mean" links
    to. Every link is an anchor of the page or a folder beside it: the page works wherever it is written."""
    esc = html_lib.escape
    shown = [s for s in _expand(blocks) if not (s.kind == "figure" and s.body not in figures)]
    header = "".join(f'<a href="{esc(path)}">{esc(name)}</a> ' for name, path in LINKS)
    about_html = re.sub(r"`([^`]*)`", lambda m: f"<code>{m.group(1)}</code>", esc(about))
    contents = "".join(f'<li><a href="#{anchor(s.title)}">{esc(s.title)}</a></li>' for s in shown if s.title)
    parts = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="about">{about_html}</p>' if about else "",
        f'<nav><p class="links">See: {header}</p><details open id="contents"><summary>Contents</summary>'
        f'<ol>{contents}<li><a href="#{glossary.ID}">{esc(glossary.TITLE)}</a></li></ol></details></nav>',
    ]
    for i, s in enumerate(shown):
        more = f' <a class="doc" href="#{glossary.ID}">what the words mean</a>' if s.doc else ""
        if s.title and not s.folded:
            parts.append(f'<h2 id="{anchor(s.title)}">{esc(s.title)}{more}</h2>')
        if s.kind == "lines":
            parts.append("<pre>" + esc("\n".join(s.body)) + "</pre>")
        elif s.kind == "table":
            header, rows = s.body
            head = "".join(f"<th>{esc(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
            table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            if s.folded:
                table = (
                    f'<details><summary><h2 id="{anchor(s.title or "")}">{esc(s.title or "")} ({len(rows)} '
                    f"rows)</h2></summary>{table}</details>"
                )
            parts.append(table)
        elif s.kind == "text":
            parts.append(f'<p class="finding">{esc(s.body)}</p>' if i == 0 else f"<p>{esc(s.body)}</p>")
        elif s.kind == "figure":
            data = base64.b64encode(figures[s.body]).decode("ascii")
            parts.append(
                f'<figure><img alt="{esc(s.title or s.body)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(s.body)}</figcaption></figure>"
            )
    parts.append(glossary.html_section())
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}figure{margin:0 0 1.5em}"
        "figcaption{color:#666;font-size:small}p.finding{font-size:1.15em;line-height:1.5}"
        "summary h2{display:inline;cursor:pointer}p.about{color:#444}nav{margin:1em 0;padding:0.5em 1em;"
        "background:#f6f6f6}nav ol{margin:0.3em 0;columns:2}a.doc{font-size:small;font-weight:normal;"
        "margin-left:0.5em}code{background:#f0f0f0;padding:0 3px}dl.glossary dt{font-weight:bold;margin-top:0.5em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def title_of(summary: dict[str, Any], command: str | None = None) -> str:
    """'configs/headline.toml (compare): 4 arms on Problem 2 from 100 source models'."""
    run = summary["run"]
    k = (run.get("source_model") or {}).get("count", 0)
    sources = f" from {k} source models" if k > 1 else " from one source model" if k == 1 else ""
    target = run.get("target", f"Problem {run['target_problem']:d}")
    return f"{config_label(command, 'compare')}: {len(summary['arms'])} arms on {target}{sources}"
