"""Every file the project cites exists: a Markdown page named anywhere in the code, configs, docs, tests or
benchmarks (`docs/protocol.md section 7`, `statistics.md`, `benchmarks/README.md`), and every repository path
(`configs/sweep.toml`, `tests/api/test_api.py`, `blobs_transfer/stats/resample.py`). A citation of
docs/protocol.md by section names a section that the page has."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("blobs_transfer", "configs", "docs", "benchmarks", "tests", ".ci")
# files a command writes into a run folder or CI's workspace: named in the docs, never committed at the root
OUTPUT_NAMES = {"summary.md", "step_summary.md"}
PAGE = re.compile(r"(?<![\w./-])((?:\.\./)?(?:[\w.-]+/)*[\w-]+\.md)\b")
REPO_PATH = re.compile(
    r"(?<![\w./<-])((?:{})/(?:[\w.-]+/)*[\w-]+\.(?:py|toml|md|sh|yml|json|txt))\b".format(
        "|".join(re.escape(t) for t in TOP)
    )
)
PLACEHOLDERS = {"NAME", "FILE", "DIR", "PATH"}  # configs/NAME.toml: a name to fill in, not a citation
PROTOCOL_SECTION = re.compile(r"protocol\.md,? sections? (\d+)(?:(?:-| and )(\d+))?", re.I)


def citing_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [
        ROOT / p
        for p in listed.splitlines()
        if not p.startswith("results/")
        and Path(p).suffix in {".py", ".toml", ".md", ".sh", ".yml", ".cfg"}
        and (ROOT / p).exists()
    ]


def resolves(name: str, cited_from: Path) -> bool:
    """A cited page resolves from the citing file's folder, from the repository root, or from docs/."""
    return any((base / name).exists() for base in (cited_from.parent, ROOT, ROOT / "docs"))


def citations():
    for path in citing_files():
        text = path.read_text(errors="replace")
        names = {m for m in PAGE.findall(text) if Path(m).name not in OUTPUT_NAMES} | set(REPO_PATH.findall(text))
        names = {n for n in names if Path(n).stem not in PLACEHOLDERS}
        for name in sorted(names):
            yield pytest.param(path, name, id=f"{path.relative_to(ROOT)} -> {name}")


CITED = list(citations())


def test_the_citations_are_found():
    """The scan sees the citations it exists for (so a broken pattern cannot pass by finding nothing)."""
    cited = {(p.values[0].relative_to(ROOT).as_posix(), p.values[1]) for p in CITED}
    assert ("blobs_transfer/problems.py", "docs/protocol.md") in cited
    assert ("configs/sweep.toml", "docs/protocol.md") in cited
    assert ("docs/predictions.md", "protocol.md") in cited
    assert len(CITED) > 100


def test_every_cited_file_exists():
    missing = [f"{p.values[0].relative_to(ROOT)} cites {p.values[1]}" for p in CITED if not resolves(*p.values[::-1])]
    assert not missing, f"cited but not in the repository: {missing}"


def test_protocol_sections_cited_exist():
    sections = {int(n) for n in re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "protocol.md").read_text(), re.M)}
    assert sections == set(range(1, 8))
    cited = []
    for path in citing_files():
        for first, last in PROTOCOL_SECTION.findall(path.read_text(errors="replace")):
            cited.append((path, set(range(int(first), int(last or first) + 1))))
    assert len(cited) >= 10
    for path, numbers in cited:
        assert numbers <= sections, f"{path.relative_to(ROOT)} cites docs/protocol.md section(s) {sorted(numbers)}"
