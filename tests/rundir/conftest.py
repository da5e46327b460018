"""Fixtures of the rundir tests: the reference sweep that damaged, killed and resumed sweeps must end identical
to is the session's `small_sweep` (tests/conftest.py)."""

import pytest


@pytest.fixture(scope="session")
def reference_sweep(small_sweep):
    return small_sweep
