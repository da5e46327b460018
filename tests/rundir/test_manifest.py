"""Manifests (blobs_transfer.rundir.manifest): a run's manifest lists every file with its hash and the planned
counts, a damaged manifest is named as such, and one process writes a sweep folder at a time."""

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import warnings

import pytest

from blobs_transfer import api
from blobs_transfer.errors import DamagedRunError, ResultsError, UnverifiedRunWarning
from blobs_transfer.rundir import manifest
from blobs_transfer.rundir import run as rundir_run
from tests.helpers import assert_same_tables, damage, invoke, one_error_line

RUN_DATA = list(rundir_run.RUN_DATA)


def test_manifest_lists_every_file_with_its_hash_and_the_planned_counts(tiny_run):
    written = json.loads((tiny_run / "manifest.json").read_text())
    files = {str(p.relative_to(tiny_run)) for p in tiny_run.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(written["files"]) == files
    assert [k for k, v in written["files"].items() if v["role"] == "data"] == RUN_DATA
    for name, entry in written["files"].items():
        data = (tiny_run / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    # standalone and three transfer arms, 2 repeats each (one saved source model)
    assert written["plan"] == {
        "runs": 8,
        "runs_per_arm": {"standalone": 2, "transfer fixed=0": 2, "transfer fixed=1": 2, "transfer fixed=2": 2},
    }
    assert api.verify_run(tiny_run, derived=True) == written


@pytest.mark.parametrize("how", ["truncated", "one byte changed"])
def test_damaged_manifest_is_named_as_such(run_copy, how):
    damage(run_copy / "manifest.json", how)
    line = one_error_line(invoke("report", run_copy))
    assert "manifest.json is damaged" in line


HOLD_LOCK = """
import sys, time
from blobs_transfer.rundir.manifest import writer_lock
with writer_lock(sys.argv[1], "sweep"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.mark.slow
def test_one_writer_per_sweep_folder_and_a_killed_writer_does_not_block(sweep_copy, reference_sweep, sweep_config):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(sweep_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = one_error_line(invoke("sweep", "--config", sweep_config, "--resume", sweep_copy))
        assert f"is in use by process {holder.pid} on " in line and "one sweep writer at a time" in line
        with pytest.raises(ResultsError, match="in use"), manifest.writer_lock(sweep_copy):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    assert (sweep_copy / manifest.LOCK).exists()  # left behind by the killed holder, and no obstacle
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert not (sweep_copy / manifest.LOCK).exists()
    assert_same_tables(sweep_copy, reference_sweep)


# --- a hand-made folder -------------------------------------------------------------------------------

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2's "abc"


@pytest.fixture()
def sealed(tmp_path):
    """A folder with a data file (b"abc"), a derived one, and their manifest."""
    (tmp_path / "a.csv").write_bytes(b"abc")
    (tmp_path / "fig").mkdir()
    (tmp_path / "fig" / "b.png").write_bytes(b"png")
    body = manifest.write_manifest(tmp_path, ["a.csv"], derived=["fig/b.png"], plan={"runs": 2}, extra={"index": 1})
    return tmp_path, body


def test_a_file_digest_is_its_sha256_and_size(tmp_path):
    (tmp_path / "abc").write_bytes(b"abc")
    assert manifest.file_digest(tmp_path / "abc") == (ABC_SHA256, 3)
    assert hashlib.sha256(b"abc").hexdigest() == ABC_SHA256


def test_a_manifest_lists_each_file_with_its_role_size_and_hash(sealed):
    folder, body = sealed
    assert list(body) == ["format", "index", "plan", "files", "checksum"]
    assert (body["format"], body["index"], body["plan"]) == (1, 1, {"runs": 2})
    assert body["files"] == {
        "a.csv": {"role": "data", "bytes": 3, "sha256": ABC_SHA256},
        "fig/b.png": {"role": "derived", "bytes": 3, "sha256": hashlib.sha256(b"png").hexdigest()},
    }
    assert json.loads((folder / "manifest.json").read_text()) == body == manifest.read_manifest(folder)
    assert manifest.verify(folder) == body and manifest.verify(folder, derived=True) == body


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"abd", "differs from the manifest (same size, different SHA-256: changed in place)"),
        (b"ab", "is 2 bytes where the manifest records 3 (cut short)"),
        (b"abcd", "is 4 bytes where the manifest records 3 (grown)"),
        (None, "is missing"),
    ],
)
def test_a_damaged_data_file_is_named_with_what_is_wrong_and_the_remedy(sealed, content, problem):
    folder, _ = sealed
    if content is None:
        (folder / "a.csv").unlink()
    else:
        (folder / "a.csv").write_bytes(content)
    with pytest.raises(DamagedRunError) as info:
        manifest.verify(folder, remedy="; re-run it")
    assert str(info.value) == f"{folder / 'a.csv'} {problem}; re-run it"


def test_a_damaged_derived_file_matters_only_to_a_reader_of_derived_files(sealed):
    folder, body = sealed
    (folder / "fig" / "b.png").write_bytes(b"PNG")
    assert manifest.verify(folder) == body
    with pytest.raises(DamagedRunError) as info:
        manifest.verify(folder, derived=True, remedy="; not this one")
    assert str(info.value) == (
        f"{folder / 'fig' / 'b.png'} differs from the manifest (same size, different SHA-256: "
        "changed in place); `blobs-transfer report` rebuilds it"
    )
    refreshed = manifest.refresh(folder, body)  # what report does after rebuilding it
    assert refreshed["files"]["fig/b.png"]["sha256"] == hashlib.sha256(b"PNG").hexdigest()
    assert manifest.verify(folder, derived=True) == refreshed == manifest.read_manifest(folder)


@pytest.mark.parametrize(
    "edit, problem",
    [
        (
            lambda text: text.replace('"runs": 2', '"runs": 3'),
            "is damaged: its content does not match its own checksum",
        ),
        (lambda text: text[: len(text) // 2], "is damaged: it is not valid JSON"),
        (lambda text: "[1, 2]", "is damaged: it is not a JSON object"),
    ],
)
def test_a_damaged_manifest_is_named_as_itself(sealed, edit, problem):
    folder, _ = sealed
    path = folder / "manifest.json"
    path.write_text(edit(path.read_text()))
    with pytest.raises(DamagedRunError, match="^" + re.escape(f"{path} {problem}")):
        manifest.verify(folder)


def test_a_folder_without_a_manifest_is_read_unverified(tmp_path):
    with pytest.warns(UnverifiedRunWarning, match="has no manifest"):
        assert manifest.verify(tmp_path) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert manifest.verify(tmp_path, warn=False) is None
    (tmp_path / "cell.json").write_text(json.dumps({"index": 0, "values": {}, "networks": 8}))  # a legacy marker
    assert manifest.read_manifest(tmp_path, "cell.json") is None


def test_row_counts_against_the_plan_in_one_line():
    planned = {"standalone": 2, "transfer fixed=0": 2, "transfer fixed=1": 1}
    assert manifest.count_problem("runs.csv", dict(planned), planned) is None
    assert manifest.count_problem("runs.csv", {"standalone": 2, "transfer fixed=0": 1, "odd": 3}, planned) == (
        "runs.csv has 6 runs where the plan has 5 (transfer fixed=0 1 of 2, transfer fixed=1 0 of 1, odd 3 not planned)"
    )
    many = {f"arm {i}": 1 for i in range(6)}
    assert manifest.count_problem("x", {}, many) == (
        "x has 0 runs where the plan has 6 (arm 0 0 of 1, arm 1 0 of 1, arm 2 0 of 1, arm 3 0 of 1, ...)"
    )


def test_the_writer_lock_names_its_holder_and_goes_with_it(tmp_path):
    with manifest.writer_lock(tmp_path, "sweep"):
        holder = (tmp_path / manifest.LOCK).read_text()
        assert holder.startswith(f"process {os.getpid()} on {socket.gethostname()} (since ")
        with pytest.raises(ResultsError) as info, manifest.writer_lock(tmp_path, "sweep"):
            pass
        assert str(info.value) == (
            f"{tmp_path} is in use by {holder.strip()}: one sweep writer at a time; wait for it to finish or stop it"
        )
    assert not (tmp_path / manifest.LOCK).exists()
    with manifest.writer_lock(tmp_path):  # free again
        pass
