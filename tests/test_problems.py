"""The problems (blobs_transfer.problems) are make_blobs exactly; the target's settings move, spread or extend
it while the source problem and the test split stay."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from blobs_transfer import api
from blobs_transfer.config import load_config
from blobs_transfer.problems import centres, make_problem, one_hot


@pytest.mark.parametrize("number", [1, 2])
def test_problem_is_make_blobs_split_in_order(cfg, number):
    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2.0, random_state=number)
    p = make_problem(cfg.catalogue_spec(number))
    assert p.x_train.shape == (500, 2) and p.x_test.shape == (500, 2)
    assert np.array_equal(p.x_train, x[:500].astype(np.float32)) and np.array_equal(
        p.x_test, x[500:].astype(np.float32)
    )
    assert np.array_equal(p.y_train, y[:500]) and np.array_equal(p.y_test, y[500:])
    assert set(np.unique(p.y_train)) == {0, 1, 2}
    assert np.array_equal(p.y_train_onehot.argmax(1), p.y_train) and p.y_train_onehot.sum() == 500


def test_one_hot():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_problems_differ(problem1, problem2):
    assert not np.allclose(problem1.x_train.mean(0), problem2.x_train.mean(0), atol=0.5)


@pytest.mark.parametrize(
    "changes",
    [{}, {"target.similarity_t": 0.5}, {"target.n_train": 900}, {"target.cluster_std": 1.0, "target.n_train": 37}],
)
def test_make_blobs_is_scikit_learns_draw_for_draw(changes):
    """problems.make_blobs (written out: scikit-learn is slow to import) against scikit-learn's own."""
    from sklearn.datasets import make_blobs as sklearn_make_blobs

    from blobs_transfer import problems
    from blobs_transfer.config import load_config

    spec = load_config(None, **changes).target_spec
    for n, seed in ((1000, 2), (1001, 7), (400, 123)):
        centres = problems.centres(spec)
        ours = problems.make_blobs(n, centres, spec.cluster_std, np.random.RandomState(seed))
        theirs = sklearn_make_blobs(
            n_samples=n, centers=centres, cluster_std=spec.cluster_std, random_state=np.random.RandomState(seed)
        )
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
        assert np.array_equal(
            problems.make_blobs(n, centres, spec.cluster_std, seed)[0],
            sklearn_make_blobs(n_samples=n, centers=centres, cluster_std=spec.cluster_std, random_state=seed)[0],
        )
    problem = problems.make_problem(spec)
    assert problem.x_train.shape[0] == spec.n_train


TARGET_OVERRIDES = {"n_train": 100, "cluster_std": 1.0, "similarity_t": 0.5}


@pytest.mark.parametrize("key", list(TARGET_OVERRIDES))
def test_target_changes_leave_source_and_test_split(key, cfg, problem2):
    changed = load_config(None, **{f"target.{key}": TARGET_OVERRIDES[key]})
    assert changed.source_spec == cfg.source_spec  # the same source problem, so the same saved source model
    assert api.default_source_path(changed, "r", changed.source_spec) == api.default_source_path(
        cfg, "r", cfg.source_spec
    )
    target = make_problem(changed.target_spec)
    assert np.array_equal(target.y_test, problem2.y_test)  # the same test rows, class by class
    if key == "n_train":
        assert np.array_equal(target.x_test, problem2.x_test)
        assert np.array_equal(target.x_train, problem2.x_train[:100])
    else:  # the same rows, moved (similarity) or spread (cluster_std) with each row's own noise
        spec = changed.target_spec
        noise = (target.x_test - centres(spec)[target.y_test]) / spec.cluster_std
        noise2 = (problem2.x_test - centres(cfg.target_spec)[problem2.y_test]) / cfg.target_spec.cluster_std
        np.testing.assert_allclose(noise, noise2, atol=1e-5)
        assert not np.array_equal(target.x_test, problem2.x_test)


def test_similarity_moves_centres_class_by_class(cfg, problem1, problem2):
    def at(t):
        return load_config(None, **{"target.similarity_t": t})

    source_c, target_c = centres(cfg.source_spec), centres(cfg.target_spec)
    np.testing.assert_allclose(centres(at(0.0).target_spec), source_c)
    np.testing.assert_allclose(centres(at(0.25).target_spec), 0.75 * source_c + 0.25 * target_c)
    one = make_problem(at(1.0).target_spec)
    assert np.array_equal(one.x_train, problem2.x_train) and np.array_equal(one.x_test, problem2.x_test)
    # t = 0 puts class k on the source's class-k centre: the class means match the source problem's
    zero = make_problem(at(0.0).target_spec)
    for k in range(3):
        assert (
            np.linalg.norm(zero.x_train[zero.y_train == k].mean(0) - problem1.x_train[problem1.y_train == k].mean(0))
            < 0.6
        )


def test_larger_train_sets_extend_the_smaller_ones(problem2):
    big = make_problem(load_config(None, **{"target.n_train": 1200}).target_spec)
    assert big.x_train.shape == (1200, 2) and np.array_equal(big.x_train[:500], problem2.x_train)
    assert np.array_equal(big.x_test, problem2.x_test) and set(np.unique(big.y_train[500:])) == {0, 1, 2}
