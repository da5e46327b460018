"""Fixtures of the api tests: a source model trained for 3 epochs by `train-source`, shared by
test_sources.py and test_compare.py (their runs are written beside it, each found by its own output)."""

import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A results folder with a source model trained for 3 epochs."""
    results = tmp_path_factory.mktemp("results")
    result = CliRunner().invoke(cli, ["train-source", "--epochs", "3", "--results-dir", str(results)])
    assert result.exit_code == 0, result.output + str(result.exception)
    out = result.output
    assert out.startswith("Train: 0.") and ", Test: 0." in out.splitlines()[0]
    return results
