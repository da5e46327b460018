"""The problems are make_blobs exactly; every arm's starting weights follow its declaration."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from blobs_transfer.model import arms
from blobs_transfer.problems import make_problem, one_hot
from blobs_transfer import seeds


@pytest.mark.parametrize("number", [1, 2])
def test_problem_is_make_blobs_split_in_order(cfg, number):
    x, y = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=2.0, random_state=number)
    p = make_problem(cfg.catalogue_spec(number))
    assert p.x_train.shape == (500, 2) and p.x_test.shape == (500, 2)
    assert np.array_equal(p.x_train, x[:500].astype(np.float32)) and np.array_equal(p.x_test, x[500:].astype(np.float32))
    assert np.array_equal(p.y_train, y[:500]) and np.array_equal(p.y_test, y[500:])
    assert set(np.unique(p.y_train)) == {0, 1, 2}
    assert np.array_equal(p.y_train_onehot.argmax(1), p.y_train) and p.y_train_onehot.sum() == 500


def test_one_hot():
    assert one_hot(np.array([2, 0]), 3).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_problems_differ(problem1, problem2):
    assert not np.allclose(problem1.x_train.mean(0), problem2.x_train.mean(0), atol=0.5)


def test_derived_seeds_are_stable_and_distinct():
    derived = [seeds.derive_seed(0, 1, 7, 0, r) for r in range(30)]
    assert len(set(derived)) == 30
    assert derived[:10] == [seeds.derive_seed(0, 1, 7, 0, r) for r in range(10)]
    assert seeds.derive_seed(1, 1, 7, 0, 0) != derived[0]


def test_fresh_initialisation_follows_keras_bounds(cfg):
    rng = np.random.default_rng(0)
    draws = [arms.initial_weights(cfg, cfg.arms[0], None, rng) for _ in range(200)]
    limits = [np.sqrt(6 / 2), np.sqrt(6 / 5), np.sqrt(6 / (5 + 3))]  # he_uniform, he_uniform, glorot_uniform
    for i, limit in enumerate(limits):
        kernels = np.stack([d[i][0] for d in draws])
        assert np.abs(kernels).max() <= limit
        assert np.abs(kernels).max() > 0.95 * limit  # uniform over the whole range, not a narrower one
        assert kernels.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert all(not d[i][1].any() for d in draws)  # zero biases


def test_transfer_arm_copies_every_layer(cfg):
    source = arms.initial_weights(cfg, cfg.arms[0], None, np.random.default_rng(1))
    got = arms.initial_weights(cfg, cfg.arm("transfer fixed=1"), source, np.random.default_rng(2))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(got, source))
    assert arms.trainable_layers(cfg, cfg.arm("transfer fixed=1")) == [False, True, True]


@pytest.mark.parametrize("changes", [{}, {"target.similarity_t": 0.5}, {"target.n_train": 900},
                                     {"target.cluster_std": 1.0, "target.n_train": 37}])
def test_make_blobs_is_scikit_learns_draw_for_draw(changes):
    """problems.make_blobs (written out: scikit-learn is slow to import) against scikit-learn's own."""
    from sklearn.datasets import make_blobs as sklearn_make_blobs

    from blobs_transfer import problems
    from blobs_transfer.config import load_config

    spec = load_config(None, **changes).target_spec
    for n, seed in ((1000, 2), (1001, 7), (400, 123)):
        centres = problems.centres(spec)
        ours = problems.make_blobs(n, centres, spec.cluster_std, np.random.RandomState(seed))
        theirs = sklearn_make_blobs(n_samples=n, centers=centres, cluster_std=spec.cluster_std,
                                    random_state=np.random.RandomState(seed))
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
        assert np.array_equal(problems.make_blobs(n, centres, spec.cluster_std, seed)[0],
                              sklearn_make_blobs(n_samples=n, centers=centres, cluster_std=spec.cluster_std,
                                                 random_state=seed)[0])
    problem = problems.make_problem(spec)
    assert problem.x_train.shape[0] == spec.n_train
