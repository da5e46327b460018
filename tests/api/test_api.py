"""The study as a library (blobs_transfer.api): the README's Python example runs as written, progress is a
callback, and the library imports without TensorFlow or Click."""

import re
import subprocess
import sys

import pytest

from blobs_transfer import api
from blobs_transfer.config import load_config
from tests.helpers import ROOT


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"<!-- example: python-api -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README has no Python API example"
    return match.group(1)


@pytest.mark.slow
def test_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    run_dirs = list((tmp_path / "results").glob("compare-*"))
    assert len(run_dirs) == 1 and not (run_dirs[0] / "INCOMPLETE").exists()
    for name in ("scores.csv", "summary.json", "report.html", "boxplot.png", "metadata.json"):
        assert (run_dirs[0] / name).is_file()
    assert "transfer fixed=1" in printed


def test_progress_is_a_callback():
    cfg = load_config(None, **{"study.repeats": 2, "training.epochs": 4, "study.source_repeats": 2})
    calls = []
    sources = api.source_models(cfg, progress=lambda label, n, total: calls.append((label, n, total)))
    api.run_comparison(cfg, sources, progress=lambda label, n, total: calls.append((label, n, total)))
    phases = {}
    for label, n, total in calls:
        phases.setdefault(label, [0, total])[0] += n
    assert phases and all(done == total for done, total in phases.values())
    assert any("source models" in label for label in phases) and "training" in phases


def test_library_imports_without_tensorflow_or_click():
    code = (
        "import sys, blobs_transfer.api, blobs_transfer.stats.summary\n"
        "bad = [m for m in ('tensorflow', 'keras', 'click') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
