"""The expected failures (blobs_transfer.errors): one hierarchy the CLI, a notebook and a Dask worker all catch,
each also the built-in exception a caller would expect; and the CLI turns any of them into one line and exit 2."""

import pytest
from click.testing import CliRunner

from blobs_transfer import errors
from blobs_transfer.cli import cli


def test_every_expected_failure_is_a_study_error_and_the_builtin_one():
    assert issubclass(errors.ConfigError, errors.StudyError) and issubclass(errors.ConfigError, ValueError)
    assert issubclass(errors.ResultsError, errors.StudyError) and issubclass(errors.ResultsError, OSError)
    assert issubclass(errors.SourceModelError, errors.StudyError) and issubclass(errors.SourceModelError, ValueError)
    assert issubclass(errors.DamagedRunError, errors.ResultsError)
    assert issubclass(errors.OtherStudyError, errors.StudyError) and issubclass(errors.OtherStudyError, ValueError)
    assert issubclass(errors.UnverifiedRunWarning, UserWarning) and not issubclass(
        errors.UnverifiedRunWarning, errors.StudyError
    )
    assert (
        str(errors.ResultsError("cannot write x: No space left on device")) == "cannot write x: No space left on device"
    )  # an OSError subclass keeps a one-argument message whole


@pytest.mark.parametrize(
    "error",
    [errors.ConfigError, errors.ResultsError, errors.SourceModelError, errors.DamagedRunError, errors.OtherStudyError],
)
def test_the_cli_turns_each_into_one_line_and_exit_2(error, monkeypatch):
    from blobs_transfer import api

    def fail(*args, **kwargs):
        raise error("what to fix, in one line")

    monkeypatch.setattr(api, "list_runs", fail)
    result = CliRunner().invoke(cli, ["runs", "."])
    assert result.exit_code == 2
    assert result.output == "Error: what to fix, in one line\n"
