"""A compare run's directory (blobs_transfer.rundir.run): verified before it is read, every damaged data file
one line from report and check, a damaged derived file named for an exporter and rebuilt by report, an
unfinished run incomplete (not damaged), and runs written before manifests read with one warning line or
refused by their plan. Tiny sizes throughout (2 repeats, 3 epochs: the session's `tiny_run`)."""

import shutil

import pytest

from blobs_transfer import api
from blobs_transfer.errors import DamagedRunError
from blobs_transfer.rundir import manifest
from blobs_transfer.rundir import run as rundir_run
from tests.helpers import (
    BASELINE,
    PROBLEM,
    ROOT,
    damage,
    invoke,
    one_error_line,
    snapshot,
)

RUN_DATA = list(rundir_run.RUN_DATA)


@pytest.mark.slow
def test_report_of_an_intact_run_keeps_it_verified(run_copy):
    before = snapshot(run_copy)
    result = invoke("report", run_copy)
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    assert snapshot(run_copy) == before  # rebuilt byte for byte, manifest included


@pytest.mark.parametrize("how", list(PROBLEM))
@pytest.mark.parametrize("name", RUN_DATA)
def test_every_damaged_data_file_is_one_line_from_report_and_check(run_copy, tiny_baseline, name, how):
    damage(run_copy / name, how)
    before = snapshot(run_copy)
    for args in (["report", run_copy], ["check", run_copy, "--baseline", tiny_baseline]):
        line = one_error_line(invoke(*args))
        assert str(run_copy / name) in line and PROBLEM[how] in line, line
    assert snapshot(run_copy) == before  # refused before anything was rewritten
    with pytest.raises(DamagedRunError, match=PROBLEM[how]):
        api.verify_run(run_copy)


def test_verify_command_names_a_damaged_file_and_passes_an_intact_run(run_copy):
    result = invoke("verify", run_copy)
    assert result.exit_code == 0 and f"OK: {run_copy}: {len(RUN_DATA) + 7} files match its manifest" in result.output
    damage(run_copy / "forest.png", "truncated")
    assert "forest.png is" in one_error_line(invoke("verify", run_copy))
    result = invoke("verify", run_copy, "--data-only")
    assert result.exit_code == 0 and result.output.startswith(f"OK: {run_copy}: "), result.output


def test_damaged_summary_is_named_for_an_exporter_and_rebuilt_by_report(run_copy):
    original = (run_copy / "summary.json").read_bytes()
    damage(run_copy / "summary.json", "one byte changed")
    api.verify_run(run_copy)  # report and check need only the data files
    with pytest.raises(DamagedRunError, match=r"summary.json differs .* `blobs-transfer report` rebuilds it"):
        api.verify_run(run_copy, derived=True)
    assert invoke("report", run_copy).exit_code == 0
    assert (run_copy / "summary.json").read_bytes() == original
    api.verify_run(run_copy, derived=True)


def test_an_unfinished_run_is_incomplete_not_damaged(run_copy):
    (run_copy / "INCOMPLETE").write_text("")
    assert "incomplete run" in one_error_line(invoke("report", run_copy))


def test_report_and_check_refuse_incomplete_run(run_copy):
    run = run_copy
    (run / "INCOMPLETE").write_text("")
    for args in (["report", run], ["check", run, "--baseline", BASELINE]):
        result = invoke(*args)
        assert result.exit_code == 2 and "incomplete" in result.output


@pytest.mark.slow
def test_committed_run_verifies_and_a_pre_manifest_run_is_read_with_one_warning_line(tmp_path):
    run = tmp_path / "example"
    shutil.copytree(ROOT / "results" / "example", run)
    assert api.verify_run(run, derived=True)["files"]  # the committed example is sealed, every file intact
    (run / "manifest.json").unlink()  # as a run written before manifests
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1 and "no manifest" in warning[0]
    with pytest.warns(manifest.UnverifiedRunWarning):
        assert api.verify_run(run) is None


def test_pre_manifest_run_with_rows_lost_is_refused_by_its_plan(run_copy, tiny_baseline):
    """The issue's case: scores.csv lost its last rows and report rebuilt the summary from what was left."""
    (run_copy / "manifest.json").unlink()
    lines = (run_copy / "scores.csv").read_text().splitlines(keepends=True)
    (run_copy / "scores.csv").write_text("".join(lines[:-3]))
    for args in (["report", run_copy], ["check", run_copy, "--baseline", tiny_baseline]):
        line = one_error_line(invoke(*args))
        assert "scores.csv has 5 runs where the plan has 8" in line and "transfer fixed=2 0 of 2" in line, line
    text = "".join(lines)  # a row cut in the middle keeps the count right: its missing fields are caught
    (run_copy / "scores.csv").write_text(text[: text.rindex(",", 0, len(text) - 20)] + "\n")
    assert "is not a whole row" in one_error_line(invoke("report", run_copy))
