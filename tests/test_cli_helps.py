"""A command line that helps (issue 33): a failing command leaves no new folder behind, errors and hints name the
options of the command that was run, --help fits each command, generate lists every file it wrote, and
compare --arms chooses the arms (bad names: one line, exit 2)."""

import os
from pathlib import Path

import pytest

from blobs_transfer.cli.study import choose_arms
from blobs_transfer.config import Config
from tests.helpers import invoke


@pytest.fixture()
def empty(tmp_path):
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def one_line_exit_2(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_failing_compare_in_an_empty_folder_leaves_it_empty(empty):
    line = one_line_exit_2(invoke("compare"))
    assert "no source model" in line
    assert list(empty.iterdir()) == []
    one_line_exit_2(invoke("compare", "--results-dir", empty / "a" / "b"))
    assert list(empty.iterdir()) == []


def test_a_failing_command_keeps_a_folder_that_holds_files(empty):
    (empty / "mine").mkdir()
    (empty / "mine" / "keep.txt").write_text("x")
    one_line_exit_2(invoke("compare", "--results-dir", empty / "mine"))
    assert (empty / "mine" / "keep.txt").read_text() == "x"


def test_fit_names_its_own_options(empty):
    line = one_line_exit_2(invoke("fit", "--source", "missing.keras"))
    assert "'--source'" in line and "missing.keras" in line and "fit --help" in line
    assert "--train-source" not in line
    line = one_line_exit_2(invoke("fit", "--problem", 3))
    assert line.startswith("Error: --problem 3:") and "study.target_problem" not in line
    assert list(empty.iterdir()) == []


def test_results_dir_help_fits_each_command():
    for command, words in (("generate", "RESULTS_DIR/problems/"), ("fit", "fit-"), ("train-source", "source/")):
        text = " ".join(invoke(command, "--help").output.split())
        assert words in text and "per compare run" not in text, command
    assert "per compare run" in " ".join(invoke("compare", "--help").output.split())


def test_generate_lists_every_file_it_wrote(tmp_path):
    result = invoke("generate", "--results-dir", tmp_path)
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "problems").iterdir())
    assert len(written) >= 5
    assert all(name in result.output for name in written), (written, result.output)
    assert f"Wrote {len(written)} files" in result.output


def test_arms_by_name_or_short_form_in_the_configs_order():
    cfg = choose_arms(Config(), "fixed=1, standalone")
    assert [a.name for a in cfg.arms] == ["standalone", "transfer fixed=1"]
    assert [a.name for a in choose_arms(Config(), "standalone,transfer fixed=2").arms] == [
        "standalone",
        "transfer fixed=2",
    ]


@pytest.mark.parametrize(
    "arms, words",
    [("standalone,fixd=1", "unknown arm 'fixd=1'"), ("fixed=1", "the baseline 'standalone' must be one of the arms")],
)
def test_bad_arms_are_one_line_and_exit_2(empty, arms, words):
    line = one_line_exit_2(invoke("compare", "--arms", arms))
    assert line.startswith("Error: --arms") and words in line
    assert list(empty.iterdir()) == []


def test_version_names_the_commit_in_a_clone_and_says_unknown_elsewhere(monkeypatch):
    import subprocess

    import blobs_transfer
    from blobs_transfer.api import version

    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    result = invoke("--version")
    assert (
        result.exit_code == 0 and result.output == f"blobs-transfer {blobs_transfer.__version__}, commit {head[:12]}\n"
    )
    monkeypatch.setattr(version, "commit", lambda: None)
    assert invoke("--version").output.endswith("commit unknown (not run from a git clone)\n")
