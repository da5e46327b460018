"""The runs under a results folder, one row each (blobs_transfer.rundir.listing, the `runs` command): complete
and incomplete compare runs and sweeps, oldest first, with their verdicts; as a table and as JSON."""

import json

import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli


@pytest.fixture(scope="module")
def folder(runs_folder):
    """results/ with a compare run, a sweep, an interrupted one of each, and folders that are neither (the
    session's `runs_folder`, tests/conftest.py)."""
    return runs_folder


def run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, result.output + repr(result.exception)
    return result


def test_runs_lists_complete_and_incomplete_runs(folder):
    lines = run("runs", folder["results"]).output.splitlines()
    assert lines[0].split() == [
        "kind",
        "started",
        "(UTC)",
        "config",
        "arms",
        "or",
        "cells",
        "source",
        "models",
        "status",
        "verdicts",
        "directory",
    ]
    rows = {line.split()[-1]: line for line in lines[2:]}
    # oldest first (the half sweep's time comes from its name); not fit-..., not source/
    assert list(rows) == [folder[k].name for k in ("half", "compare", "sweep", "broken")]
    verdict = json.loads((folder["compare"] / "summary.json").read_text())["comparisons"][0]["verdict"]
    assert rows[folder["compare"].name].split("  ")[0] == "compare"
    compare = [c.strip() for c in rows[folder["compare"].name].split("  ") if c.strip()]
    assert compare[2:] == ["tiny", "2 arms", "2 trained", "complete", f"fixed=1 {verdict}", folder["compare"].name]
    broken = [c.strip() for c in rows[folder["broken"].name].split("  ") if c.strip()]
    assert broken[2:] == ["-", "2 arms", "2 trained", "INCOMPLETE", "-", folder["broken"].name]
    half = [c.strip() for c in rows[folder["half"].name].split("  ") if c.strip()]
    assert half[0] == "sweep" and half[2:6] == ["-", "2 cells (1 done)", "2 trained", "INCOMPLETE"]
    sweep = [c.strip() for c in rows[folder["sweep"].name].split("  ") if c.strip()]
    assert sweep[2:6] == ["grid", "2 cells", "2 trained", "complete"]


def test_runs_json_has_the_verdicts_of_every_cell(folder):
    listed = {e["name"]: e for e in json.loads(run("runs", folder["results"], "--json").output)}
    assert len(listed) == 4
    sweep = listed[folder["sweep"].name]
    expected = [
        json.loads((folder["sweep"] / "cells" / c / "summary.json").read_text())["comparisons"][0]["verdict"]
        for c in ("0000", "0001")
    ]
    counts = {v: expected.count(v) for v in expected}
    assert sweep["verdicts"] == {"transfer fixed=1": counts}
    assert (sweep["cells"], sweep["cells_done"], sweep["complete"], sweep["axes"]) == (
        2,
        2,
        True,
        {"target.n_train": [20, 50]},
    )
    assert listed[folder["half"].name]["cells_done"] == 1
    compare = listed[folder["compare"].name]
    assert compare["arms"] == ["standalone", "transfer fixed=1"] and compare["source_models"] == {
        "count": 2,
        "trained": True,
    }
    assert listed[folder["broken"].name]["complete"] is False and listed[folder["broken"].name]["verdicts"] == {}


def test_runs_on_a_missing_or_empty_folder(tmp_path):
    assert run("runs", tmp_path).output == f"No compare runs or sweeps in {tmp_path}\n"
    assert (
        run("runs", tmp_path / "nope", code=2).output == f"Error: results folder {tmp_path / 'nope'} does not exist\n"
    )
