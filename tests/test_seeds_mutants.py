"""Tests that kill mutants of blobs_transfer.seeds which tests/test_seeds.py let through (benchmarks/mutation.sh)."""

import numpy as np

from blobs_transfer import seeds


def test_statistic_rng_is_the_generator_of_the_statistic_seed_of_root_and_every_name():
    # kills statistic_rng mutants 1-4: default_rng(None), statistic_seed(None, ...), dropping root, dropping names
    drawn = seeds.statistic_rng(5, "describe", "a").integers(0, 2**31, 3)
    expected = np.random.default_rng(
        seeds.derive_seed(5, seeds.STATISTICS_STREAM, seeds.name_key("describe"), seeds.name_key("a"))
    )
    assert drawn.tolist() == expected.integers(0, 2**31, 3).tolist()
    assert drawn.tolist() != seeds.statistic_rng(5, "describe").integers(0, 2**31, 3).tolist()
    assert drawn.tolist() != seeds.statistic_rng(6, "describe", "a").integers(0, 2**31, 3).tolist()
