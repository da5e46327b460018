"""How the suite is spread over pytest-xdist workers (tests/conftest.py): a costly session fixture is made once,
by the one worker that runs every file using it, and a file's module-scoped fixtures once, by keeping the file
on one worker."""

import pytest

from tests import conftest


def test_the_users_of_a_costly_fixture_share_one_worker_and_other_files_spread():
    scopes = conftest._worker_scopes()
    assert scopes["tests/api/test_gate.py"] == scopes["tests/render/test_gate.py"] == "gate_study"
    assert scopes["tests/rundir/test_listing.py"] == scopes["tests/export/test_mlflow.py"] == "runs_folder"
    assert scopes["tests/model/test_arms.py"] == "tests/model/test_arms.py"  # its module-scoped `sources`
    assert "tests/model/test_forward.py" not in scopes  # nothing shared: each test goes where a worker is free
    assert set(scopes.values()) - set(scopes) <= conftest.SHARED_SESSION


def test_a_file_using_two_costly_fixtures_is_refused(tmp_path, monkeypatch):
    two = ", ".join(sorted(conftest.SHARED_SESSION)[:2])  # not spelled out: this file would ask for both
    (tmp_path / "test_both.py").write_text(f"def test_x({two}):\n    pass\n")
    monkeypatch.setattr(conftest, "TESTS", tmp_path)
    with pytest.raises(pytest.UsageError, match="one costly session fixture"):
        conftest._worker_scopes()
