"""Shared fixtures: the tutorial's config and problems, TensorFlow imported quietly once."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402

from blobs_transfer.config import Config  # noqa: E402
from blobs_transfer.problems import make_problem  # noqa: E402


@pytest.fixture(scope="session")
def cfg() -> Config:
    return Config()


@pytest.fixture(scope="session")
def problem1(cfg):
    return make_problem(cfg.catalogue_spec(1))


@pytest.fixture(scope="session")
def problem2(cfg):
    return make_problem(cfg.catalogue_spec(2))
