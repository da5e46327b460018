"""Reports (blobs_transfer.render.report) lead with what was found: the generated finding, then the figures under
titles in words, then the tables, in the terminal, Markdown and HTML alike (one list of sections). Hand-built
summaries, no training."""

import html
import re

import pytest

from blobs_transfer.render import report
from tests.helpers import summary


@pytest.mark.parametrize("k", [1, 100])
def test_sections_lead_with_the_finding_then_figures_then_tables(k):
    blocks = report.sections(summary(k=k))
    kinds = [b.kind for b in blocks]
    assert blocks[0].title == "What this run found" and blocks[0].body == report.finding(summary(k=k))
    figures = [i for i, kind in enumerate(kinds) if kind == "figure"]
    tables = [i for i, kind in enumerate(kinds) if kind in ("table", "lines")]
    several = ["sources.png"] if k > 1 else []  # each source model's mean: only with several source models
    assert [blocks[i].body for i in figures] == ["boxplot.png", "forest.png", *several, "curves.png", "train_test.png"]
    assert max(figures) < min(tables)
    for i in figures:  # titles in words, never a file name
        assert not blocks[i].title.endswith(".png") and not blocks[i].terminal
    level = "over 100 source models" if k > 1 else "conditional on one source model"
    assert any(b.title and b.title.startswith("Benefits of transfer") and level in b.title for b in blocks)


def test_terminal_markdown_and_html_follow_the_same_order():
    blocks = report.sections(summary())
    text = report.terminal(blocks)
    assert text.startswith("What this run found:\nAcross 100 source models") and ".png" not in text
    md = report.markdown(blocks, "t")
    assert (
        md.index("## What this run found")
        < md.index("![Every run's test accuracy, per arm](boxplot.png)")
        < md.index("![Learning curves on the target problem's test split](curves.png)")
        < md.index("| arm |")
    )
    page = report.html(blocks, "t", {"boxplot.png": b"png1", "forest.png": b"png2"})  # curves.png not drawn
    assert page.index('<p class="finding">Across 100') < page.index("<img") < page.index("<table")
    alts = [html.unescape(a) for a in re.findall(r'<img alt="([^"]+)"', page)]
    assert alts == [report.FIGURES["boxplot.png"], report.FIGURES["forest.png"]]
    assert report.FIGURES["curves.png"] not in page  # no title over a figure that is not there


def test_long_tables_fold_under_their_title():
    rows = [[str(i), "x"] for i in range(25)]
    blocks = [report.Section("Per cell", "table", (["cell", "v"], rows), folded=True)]
    page = report.html(blocks, "t", {})
    assert page.count("<details>") == 1 and '<summary><h2 id="per-cell">Per cell (25 rows)</h2></summary>' in page
    assert page.index("<summary><h2") < page.index("<table") < page.rindex("</details>")
    md = report.markdown(blocks, "t")
    assert "<details><summary>Per cell (25 rows)</summary>" in md and md.count("| 24 | x |") == 1
    assert "Per cell:" in report.terminal(blocks)  # the terminal shows the table itself


def test_sources_table_uses_each_arms_effective_n():
    header, rows = report.sources_table(summary(k=100))
    assert [r[-1] for r in rows] == ["100.0"] * 3


def test_a_list_of_figures_is_still_drawn_each_under_a_title():
    blocks = [report.Section("Figures", "figures", ["forest.png", "other.png"], terminal=False)]
    page = report.html(blocks, "t", {"forest.png": b"1", "other.png": b"2"})
    assert [html.unescape(a) for a in re.findall(r'<img alt="([^"]+)"', page)] == [
        report.FIGURES["forest.png"],
        "other.png",
    ]
    assert "![other.png](other.png)" in report.markdown(blocks, "t") and report.terminal(blocks) == ""


def test_a_page_says_what_made_it_lists_its_contents_and_links_its_glossary():
    meta = {
        "command": "blobs-transfer compare --config configs/headline.toml",
        "created_utc": "2026-12-04T17:25:31+00:00",
        "versions": {"blobs-transfer": "0.1.0"},
        "git_commit": "bd6b3782243a3d9569c4d8d31d184c096f6d4caa",
    }
    about = report.about_line(meta)
    assert about == (
        "Made by `blobs-transfer compare --config configs/headline.toml` on 2026-12-04 17:25:31 UTC "
        "with blobs-transfer 0.1.0, commit bd6b3782243a."
    )
    title = report.title_of(summary(), meta["command"])
    assert title == "configs/headline.toml (compare): 4 arms on Problem 2 from 100 source models"
    assert report.title_of(summary(k=1), "blobs-transfer compare --repeats 30 --results-dir out") == (
        "blobs-transfer compare --repeats 30: 4 arms on Problem 2 from one source model"
    )
    assert report.title_of(summary()).startswith("A compare made from Python:")
    blocks = report.sections(summary())
    page = report.html(blocks, title, {"boxplot.png": b"1"}, about)
    assert f"<title>{html.escape(title)}</title>" in page
    assert "<code>blobs-transfer compare --config configs/headline.toml</code>" in page
    contents = re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', page)
    headings = re.findall(r'<h2 id="([^"]+)">([^<]+?)(?: <a|</h2>)', page)
    assert [c[0] for c in contents] == [h[0] for h in headings] and len(contents) >= 6  # one entry per heading
    assert html.unescape(contents[0][1]) == "What this run found"
    links = set(re.findall(r'href="([^"]+)"', page))
    assert not any(link.startswith("../../") for link in links)  # no repository path: the page works anywhere
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert {"#glossary", "#contents"} <= links and {link[1:] for link in links if link.startswith("#")} <= ids
    assert page.count('class="doc"') >= 5  # the sections link the page that explains them
    glossary_heading = 1  # the glossary's own heading links nothing
    assert page.count('class="doc"') == len(headings) - glossary_heading - sum(
        1 for b in blocks if b.title and not b.doc
    )
    md = report.markdown(blocks, title, about)
    assert md.startswith(f"# {title}\n\n{about}\n")
