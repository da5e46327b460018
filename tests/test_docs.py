"""The README is a front page and the docs stay true: the README's two commands are the ones CI runs, every
relative link in README.md and docs/*.md resolves (anchors included), and every shell or Python example in docs/
either runs here, as written, or says why it is too expensive to."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e . -c constraints.txt && "
    ".venv/bin/blobs-transfer train-source && .venv/bin/blobs-transfer compare --repeats 30"
)
TEST_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" -c constraints.txt && .venv/bin/python -m pytest'
)
FENCE = re.compile(r"(?:<!-- example: (?P<marker>[^>]*?) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)```", re.S)
LANGUAGES = {"bash", "sh", "shell", "python"}


def test_readme_is_a_front_page_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 180
    assert f"```bash\n{RUN_COMMAND}\n```" in text and f"```bash\n{TEST_COMMAND}\n```" in text
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == TEST_COMMAND  # CI runs it word for word, last (after the formatter and the linter)


def slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def relative_links():
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # links inside code are not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if not re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                yield pytest.param(page, target, id=f"{page.relative_to(ROOT)} -> {target}")


@pytest.mark.parametrize("page, target", list(relative_links()))
def test_relative_link_resolves(page, target):
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
    assert resolved.exists(), f"{page.name}: {target} does not exist"
    if anchor:
        headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", resolved.read_text(), flags=re.S), re.M)
        assert anchor in {slug(h) for h in headings}, f"{page.name}: no heading #{anchor} in {resolved.name}"


def examples():
    for page in sorted((ROOT / "docs").glob("*.md")):
        for i, m in enumerate(FENCE.finditer(page.read_text())):
            if m["lang"] in LANGUAGES:
                yield pytest.param(page, m["lang"], m["marker"], m["body"], id=f"{page.stem}-{i}")


def test_every_example_in_docs_is_run_or_says_why_not():
    found = list(examples())
    assert len(found) >= 10
    for param in found:
        page, _, marker, body = param.values
        assert marker == "runs" or re.fullmatch(r"too expensive: \S.{10,}", marker or ""), (page.name, body[:60])


# what each runnable example must print (stdout and stderr together), beyond exiting with 0
EXPECTED = {
    "commands-0": ["What this run found", "report.html"],
    "commands-1": ["clustered Brunner-Munzel", "'ci_low'"],
    "reproducibility-0": ["byte-identical"],
    "bad-input-0": ["exit code 2", "repeat", "Error: "],
    "sweeps-0": ["What this sweep found", "Across 2 cells (target training rows, 2 source models each)"],
}


def run_shell(body: str, folder: Path) -> subprocess.CompletedProcess:
    """A docs shell block as a user runs it from the repository root, in a fresh folder: `blobs-transfer` and
    `.venv/bin/...` call this checkout with this interpreter."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    for name, module in (("blobs-transfer", "-m blobs_transfer"), ("python", "")):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{sys.executable}" {module} "$@"\n')
        (bin_dir / name).chmod(0o755)
    (folder / "configs").symlink_to(ROOT / "configs")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    script = body.replace(".venv/bin/", "")
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=600
    )


def runnable():
    """The examples marked `runs`; shell ones are marked slow (each command starts Python and TensorFlow anew:
    about 2 minutes in all on 2 busy cores, 1 quiet)."""
    for p in examples():
        if p.values[2] == "runs":
            yield pytest.param(*p.values, id=p.id, marks=[pytest.mark.slow] if p.values[1] != "python" else [])


@pytest.mark.parametrize("page, lang, marker, body", list(runnable()))
def test_docs_example_runs_as_written(page, lang, marker, body, tmp_path, monkeypatch, capsys, request):
    if lang == "python":
        monkeypatch.chdir(tmp_path)
        exec(compile(body, str(page), "exec"), {})
        output = capsys.readouterr().out
    else:
        done = run_shell(body, tmp_path)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
    key = request.node.callspec.id  # "<page>-<n>": the n-th code block of docs/<page>.md
    assert key in EXPECTED, f"say what {key} must print"
    for needle in EXPECTED[key]:
        assert needle in output, (key, needle, output[-3000:])


def docs_numbers():
    """benchmarks/docs_numbers.py, the generator of every quoted span (a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_numbers", ROOT / "benchmarks" / "docs_numbers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_quoted_number_is_what_its_committed_result_gives():
    """Each `<!-- n:KEY -->` span of the README and docs/ is what benchmarks/docs_numbers.py computes from the
    committed results now, by its function or from the field its key names (a key that names no field is stale
    too): a regenerated result flags every span it invalidates (fix: docs_numbers.py --write)."""
    numbers = docs_numbers()
    used = [key for _, key, _ in numbers.spans()]
    assert set(numbers.NUMBERS) <= set(used), "every function quoted somewhere"
    stale = [(page.name, key, new.strip()[:200]) for page, key, _, new in numbers.stale()]
    assert not stale, f"run `.venv/bin/python benchmarks/docs_numbers.py --write`: {stale}"


def test_readme_headline_is_the_committed_run():
    """The README's headline quotes results/headline/ as its report says it (through the generated spans)."""
    import json

    from blobs_transfer.render import findings

    summary = json.loads((ROOT / "results" / "headline" / "summary.json").read_text())
    text = " ".join((ROOT / "README.md").read_text().split())
    quote = findings.finding(summary).split(" " + findings.EXPLAIN_CHANCE)[0]
    assert quote in text.replace(" > ", " ")  # the quote's lines each start with "> "
    iccs = sorted(v["icc"] for v in summary["sources"]["variance"].values())
    assert f"intraclass correlation {iccs[0]:.2f}-{iccs[-1]:.2f}" in text
    assert f"across {summary['run']['source_repeats']} source models" in text.lower()


def test_every_three_decimal_number_in_the_docs_is_bound_to_the_result_it_quotes():
    """Every number with 3 decimals in the README and docs/ (prose, tables and code blocks alike) sits in a
    `<!-- n:KEY -->` span, whose KEY names the one field of one committed result it quotes (or the function that
    computes it), or is marked as not a committed result (a timing, a run that is not committed, the tutorial's
    published numbers). With the test above, a quoted number that moves fails: inside a span it is no longer what
    its field gives, outside one it is unbound."""
    numbers = docs_numbers()
    free = [f"{page.relative_to(ROOT)}:{line}: {number}" for page, line, number in numbers.unbound()]
    assert not free, f"give each a key (see benchmarks/docs_numbers.py): {free}"
    bound = [number for _, _, body in numbers.spans() for number in numbers.THREE.findall(body)]
    fields = [key for _, key, _ in numbers.spans() if key not in numbers.NUMBERS]
    assert len(bound) > 600 and len(fields) > 100  # the check sees the docs' numbers (691 and 133 when written)


def test_a_moved_number_fails_the_binding(tmp_path, monkeypatch):
    """The two checks above on a copy of a page: one quoted number changed inside its span is stale, and the same
    number outside any span is unbound."""
    numbers = docs_numbers()
    page = ROOT / "docs" / "sweeps.md"
    text = page.read_text()
    span = "<!-- n:sweep/10/0.25/transfer_fixed=1/diff_mean+ -->+0.164<!-- /n -->"
    assert span in text
    copy = tmp_path / "sweeps.md"
    monkeypatch.setattr(numbers, "PAGES", [copy])
    copy.write_text(text)
    assert not numbers.stale() and not numbers.unbound()
    copy.write_text(text.replace(span, span.replace("+0.164", "+0.165")))
    assert [key for _, key, _, _ in numbers.stale()] == ["sweep/10/0.25/transfer_fixed=1/diff_mean+"]
    copy.write_text(text.replace(span, "+0.164"))
    assert [number for _, _, number in numbers.unbound()] == ["+0.164"]


def test_sweep_tables_in_docs_are_the_committed_sweep():
    """docs/sweeps.md's two tables of transfer fixed=1 are results/sweep/'s cells, as the sweep computed them."""
    import json

    from blobs_transfer.sweep.grid import load_sweep

    sweep_dir = ROOT / "results" / "sweep"
    grid = load_sweep(sweep_dir / "sweep.toml")
    (_, rows_values), (_, t_values) = grid.axes
    cells = {}
    for cell in grid.cells():
        summary = json.loads((sweep_dir / "cells" / f"{cell.index:04d}" / "summary.json").read_text())
        cells[tuple(v for _, v in cell.values)] = next(
            c for c in summary["comparisons"] if c["arm"] == "transfer fixed=1"
        )
    text = (ROOT / "docs" / "sweeps.md").read_text()

    def signed(v):
        return f"{v:+.3f}"  # "-0.000" for a CI end just below 0, as the docs print it

    for n in rows_values:
        a12 = " | ".join(
            f"{c['a12']:.2f} [{c['a12_ci_low']:.2f}, {c['a12_ci_high']:.2f}] {c['verdict'][0]}"
            for c in (cells[(n, t)] for t in t_values)
        )
        diff = " | ".join(
            f"{signed(c['diff_mean'])} [{signed(c['diff_ci_low'])}, {signed(c['diff_ci_high'])}]"
            for c in (cells[(n, t)] for t in t_values)
        )
        assert f"| {n} | {a12} |" in text, a12
        assert f"| {n} | {diff} |" in text, diff
