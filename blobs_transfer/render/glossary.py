"""The glossary a report carries inside itself, so that a report's words are explained wherever it is opened.

`glossary.md` beside this module is docs/glossary.md, shipped in the package (tests/render/test_report_links.py
holds the two equal): `entries()` reads its table, `html_section()` lays it out as a list whose every term has
an anchor. A report links to its own glossary, never to ../../docs/, which exists only in a clone of the
repository and only for a run written in its results/ folder.
"""

from __future__ import annotations

import html as html_lib
import re
from functools import cache
from importlib import resources

ID = "glossary"
TITLE = "Glossary: every word and column of this report"


def _plain(markdown: str) -> str:
    """A table cell's Markdown as plain words: links keep their text, emphasis and code marks go."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown)
    text = re.sub(r"<!--.*?-->", "", text)  # the docs' markers (a number that is not a committed result)
    return re.sub(r"\*\*|`", "", text).strip()


@cache
def entries() -> tuple[tuple[str, str], ...]:
    """(term, meaning) for every row of the glossary's table, in its order."""
    text = resources.files("blobs_transfer.render").joinpath("glossary.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")] if line.startswith("| ") else []
        if len(cells) == 2 and cells != ["word", "what it means here"]:
            rows.append((_plain(cells[0]), _plain(cells[1])))
    return tuple(rows)


def term_anchor(term: str) -> str:
    return "g-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")[:50]


def html_section() -> str:
    """The glossary as an HTML section with id "glossary", one <dt id="g-..."> per term."""
    esc = html_lib.escape
    items = "".join(
        f'<dt id="{term_anchor(term)}">{esc(term)}</dt><dd>{esc(meaning)}</dd>' for term, meaning in entries()
    )
    return f'<h2 id="{ID}">{esc(TITLE)}</h2><dl class="glossary">{items}</dl>'
