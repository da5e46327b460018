"""Tests that kill mutants of blobs_transfer.stats.nested which the other stats tests let through
(benchmarks/mutation.sh; the mutant each test kills is named in it)."""

import numpy as np
import pytest

from blobs_transfer.stats import nested


def test_cluster_se_names_the_values_it_rejects():
    # cluster_se mutants: as_1d(values, "values") -> None, "XXvaluesXX", "VALUES"
    with pytest.raises(ValueError, match=r"^values must be 1-D, got shape \(2, 2\)$"):
        nested.cluster_se(np.zeros((2, 2)), np.zeros((2, 2)))


def test_rank_arms_per_group_names_the_arm_whose_runs_it_rejects():
    # rank_arms_per_group mutants: as_1d(values, f"accuracies of {name!r}") -> None; the shape error -> None
    with pytest.raises(ValueError, match=r"^accuracies of 'a' must be 1-D"):
        nested.rank_arms_per_group({"a": np.zeros((2, 2))}, {"a": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"^groups of 'a' have shape \(3,\), accuracies \(2,\)$"):
        nested.rank_arms_per_group({"a": [0.5, 0.6]}, {"a": [0, 0, 1]})


def test_an_arm_is_ranked_only_in_the_groups_where_it_has_runs():
    # rank_arms_per_group mutant: np.any(g == group) -> np.any(g != group)
    rows = nested.rank_arms_per_group({"a": [1.0, 0.5], "b": [0.5, 0.25]}, {"a": [0, 0], "b": [0, 1]})
    assert rows == [
        {"group": 0, "best_arm": "a", "means": {"a": 0.75, "b": 0.5}},
        {"group": 1, "best_arm": "b", "means": {"b": 0.25}},
    ]


def test_variance_components_of_three_sources_by_hand():
    # variance_components mutant: MSB = spread / (G - 1) -> spread * (G - 1) (the same at G = 2)
    # means 1, 3, 5 around 3: spread 2 (4 + 0 + 4) = 16, MSB 8; MSW 6 / 3 = 2; n0 = (6 - 12 / 6) / 2 = 2
    vc = nested.variance_components([0.0, 2.0, 2.0, 4.0, 4.0, 6.0], [0, 0, 1, 1, 2, 2])
    assert vc == {
        "n_groups": 3,
        "n_per_group": 2.0,
        "between_var": 3.0,
        "within_var": 2.0,
        "total_var": 5.0,
        "icc": 0.6,
    }


def test_variance_components_names_what_it_rejects():
    # variance_components mutants: as_1d(values, "values") -> None, "XXvaluesXX"; the shape error -> None
    with pytest.raises(ValueError, match=r"^values must be 1-D"):
        nested.variance_components(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^groups shape \(3,\) does not match values shape \(2,\)$"):
        nested.variance_components([0.5, 0.6], [0, 0, 1])


def test_variance_components_of_single_runs_and_of_one_source_in_full():
    # variance_components mutants: n_total > 1 -> `or True`, >= 1, > 2; the keys "between_var" and
    # "total_var" of the single-run and one-group answers misspelt
    assert nested.variance_components([1.0, 3.0], [0, 1]) == {
        "n_groups": 2,
        "n_per_group": 1.0,
        "between_var": None,
        "within_var": None,
        "total_var": 2.0,
        "icc": None,
    }
    assert nested.variance_components([1.0], [0])["total_var"] is None
    assert nested.variance_components([1.0, 3.0], [0, 0]) == {
        "n_groups": 1,
        "n_per_group": 2.0,
        "between_var": 0.0,
        "within_var": 2.0,
        "total_var": 2.0,
        "icc": None,
    }
