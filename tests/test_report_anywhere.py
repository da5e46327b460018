"""Issue 33's "done when", on a real run written under a temporary folder (4 source models, 2 repeats), from an
empty current folder: no heading calls the run's numbers the tutorial's, no "2 repeats per arm", every link of
report.html resolves, `rank-sources RUN` recommends with the run's realised means and writes nothing into the
current folder, and the glossary defines every column and score the report and `rank-sources` print."""

import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from blobs_transfer.render import glossary, recommendation
from blobs_transfer.stats.transferability import SCORES
from tests.helpers import ROOT, invoke

K, R = 4, 2


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """compare with 4 source models and 2 runs each, written under --results-dir in a temporary folder, run
    from another empty folder (`here`), which must stay empty."""
    results = tmp_path_factory.mktemp("anywhere") / "my results"
    here = tmp_path_factory.mktemp("here")
    before = Path.cwd()
    os.chdir(here)
    try:
        done = invoke(
            "compare", "--source-repeats", K, "--repeats", R, "--epochs", 3, "--seed", 3, "--results-dir", results
        )
        assert done.exit_code == 0, done.output
        run = Path(done.output.strip().splitlines()[-1])
        ranked = invoke("rank-sources", run)
        assert ranked.exit_code == 0, ranked.output
        every = invoke("rank-sources", run, "--all")
        as_json = invoke("rank-sources", run, "--json")
        keras = invoke("rank-sources", *sorted((run / "source_models").glob("*.keras")))
    finally:
        os.chdir(before)
    return {
        "run": run,
        "here": here,
        "compare": done.output,
        "ranked": ranked.output,
        "all": every.output,
        "json": as_json.output,
        "keras": keras.output,
    }


def test_no_heading_calls_the_runs_numbers_the_tutorials_and_no_count_is_repeats_per_arm(study):
    for text in (
        study["compare"],
        (study["run"] / "summary.md").read_text(),
        (study["run"] / "report.html").read_text(),
    ):
        assert "The tutorial's numbers" not in text
        assert "repeats per arm" not in text
    md = (study["run"] / "summary.md").read_text()
    assert f"{K * R} runs each, {R} from each of {K} source models" in md
    assert "This run's numbers: mean (SD) per arm" in md
    assert "The tutorial's published numbers" not in md  # 3 epochs: not the tutorial's protocol


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])


def test_every_link_of_the_report_resolves_where_the_run_was_written(study):
    page = Links()
    page.feed((study["run"] / "report.html").read_text())
    assert len(page.hrefs) >= 10
    for href in page.hrefs:
        if href.startswith("#"):
            assert href[1:] in page.ids, href
        else:
            assert not re.match(r"[a-z]+:", href), href  # nothing off the machine
            assert (study["run"] / href).exists(), href


def test_rank_sources_recommends_with_the_runs_realised_means_and_writes_nothing_here(study):
    out = study["ranked"]
    assert list(study["here"].iterdir()) == []
    assert "realised mean, transfer fixed=0" in out and f"{K} source models scored" in out
    assert f"Why H-score (plain): {recommendation.REASON}" in out
    assert "Spearman's rho [95% CI]" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Pick source_") or last.startswith(f"Pick {study['run']}")
    assert re.search(r"stays first in \d+% of 1000 resamples", last)
    assert "ranks first:" not in out  # each score's pick only with --all
    assert study["all"].count("ranks first:") == len(SCORES)
    answer = json.loads(study["json"])
    assert answer["score"] == recommendation.RELIABLE_SCORE and not answer["prediction"]
    assert len(answer["rows"]) == K and 0.0 <= answer["pick"]["first_rate"] <= 1.0
    assert "This is a prediction" in study["keras"] and "realised mean" not in study["keras"]


def glossary_terms() -> set[str]:
    terms = set()
    for term, _ in glossary.entries():
        for alias in re.split(r",\s*(?![^()]*\))", term):
            terms |= {alias.strip(), alias.split(" (")[0].strip()}
    return terms


def normalise(name: str) -> str:
    name = name.replace(" [95% CI]", "").strip()
    name = re.sub(r"\d+%", "X%", name) if name.startswith("top pick in best") else name
    name = re.sub(r"^rho minus .*'s$", "rho minus a score's", name)
    return re.sub(r"^realised mean, .*$", "realised mean", name)


def defined(name: str, terms: set[str]) -> bool:
    return any(t == name or t.startswith(name + " ") for t in terms)


def printed_names(study) -> set[str]:
    """Every column header of every table of summary.md and of rank-sources' output, the score names in the
    transferability table, and the test names in the verdict column."""
    names = set()
    md = (study["run"] / "summary.md").read_text()
    tables = re.findall(r"^(\| .+ \|)\n\|(?:---\|)+\n((?:\|.*\|\n)*)", md, re.M)
    for header, body in tables:
        cols = [html.unescape(c.strip()) for c in header.strip("|").split(" | ")]
        names |= set(cols)
        for col in ("score", "verdict test"):
            if col in cols:
                i = cols.index(col)
                names |= {line.strip("|").split(" | ")[i].strip() for line in body.splitlines()}
    for out in (study["ranked"], study["all"]):
        lines = out.splitlines()
        for i, line in enumerate(lines[1:], 1):
            if set(line) <= {"-", " "} and line.strip():
                names |= set(re.split(r"\s{2,}", lines[i - 1].strip()))
    names |= set(re.findall(r"(?:, |: )([A-Za-z][\w\- ()]*?) -?\d\.\d\d \[", study["ranked"]))
    return {normalise(n) for n in names if n}


def test_the_glossary_defines_every_column_and_score_printed(study):
    terms = glossary_terms()
    names = printed_names(study)
    assert {"IQM", "Hedges' g", "diverged", "rho", "weighted tau", "LEEP", "realised mean", "rank"} <= names
    assert sorted(n for n in names if not defined(n, terms)) == []
    for named in ("LEEP", "NCE", "LogME", "H-score", "logistic probe", "Spearman rho", "weighted tau", "IQM"):
        assert defined(named, terms), named
    assert defined("Hedges' g", terms) and defined("diverged", terms) and defined("source accuracy", terms)


def test_the_packaged_glossary_is_the_docs_glossary():
    assert (ROOT / "blobs_transfer" / "render" / "glossary.md").read_text() == (
        ROOT / "docs" / "glossary.md"
    ).read_text()


def test_the_reliable_score_is_the_committed_studys_best():
    """RELIABLE_SCORE is the score with the best win rate over every transfer arm in the committed study across
    setups (results/transferability/win_rates.csv, read here without the package), and REASON is what
    `render.setups.reason` says of that study."""
    import csv

    from blobs_transfer.render import setups

    with open(ROOT / "results" / "transferability" / "win_rates.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["arm"] == "all transfer arms"]
    best = max(rows, key=lambda r: (float(r["win_rate"]), -float(r["mean_rank"])))
    assert best["score"] == recommendation.RELIABLE_SCORE
    block = json.loads((ROOT / "results" / "transferability" / "transferability.json").read_text())["study"]
    assert recommendation.REASON == setups.reason(block)
    assert f"{100 * float(best['win_rate']):.0f}%" in recommendation.REASON
