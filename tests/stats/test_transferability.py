"""The transferability scores on inputs with known answers, their invariances and their edge cases (a dead ReLU
unit, a source class that nothing is predicted as), LogME against its closed forms, and the H-score's shrinkage
and the probe against scikit-learn."""

import numpy as np
import pytest

from blobs_transfer.stats import transferability


def features_and_labels(seed=0, n=300, d=5):
    """ReLU-like features (n, d) that carry the labels (n,) in 3 classes, one column left dead by choice."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    f = np.maximum(rng.normal(size=(n, d)) + rng.normal(size=d), 0.0)
    f[:, :2] += 0.7 * y[:, None]
    return f, y


def softmax_rows(seed=0, n=200, z=3):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, z)) * 2
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True), rng.integers(0, 3, n)


# --- LEEP and NCE ---------------------------------------------------------------------------------------


def test_leep_by_hand():
    theta = np.array([[0.8, 0.2], [0.2, 0.8]])
    # P(y, z) = [[0.4, 0.1], [0.1, 0.4]], P(y | z) = [[0.8, 0.2], [0.2, 0.8]]: each row 0.8^2 + 0.2^2 = 0.68
    assert transferability.leep(theta, np.array([0, 1])) == pytest.approx(np.log(0.68), abs=1e-15)
    assert transferability.leep(np.full((2, 2), 0.5), np.array([0, 1])) == pytest.approx(np.log(0.5), abs=1e-15)


def test_leep_equals_its_definition_as_a_loop():
    theta, y = softmax_rows(1)
    n, c = len(y), 3
    joint = np.zeros((c, theta.shape[1]))
    for i in range(n):
        joint[y[i]] += theta[i] / n
    cond = joint / joint.sum(axis=0)
    expect = np.mean([np.log(sum(cond[y[i], z] * theta[i, z] for z in range(theta.shape[1]))) for i in range(n)])
    assert transferability.leep(theta, y) == pytest.approx(expect, rel=1e-12)


def test_nce_by_hand():
    # z = [0, 0, 1, 1], y = [0, 1, 1, 1]: given z = 0 the label is a coin (log 2), given z = 1 certain; P(z) = 1/2
    theta = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.1, 0.9]])
    assert transferability.nce(theta, np.array([0, 1, 1, 1])) == pytest.approx(-0.5 * np.log(2), abs=1e-15)
    assert transferability.nce(theta, np.array([0, 0, 1, 1])) == 0.0  # the prediction says everything


@pytest.mark.parametrize("score", [transferability.leep, transferability.nce])
def test_leep_and_nce_do_not_depend_on_how_the_source_classes_are_numbered(score):
    theta, y = softmax_rows(2, z=4)
    for perm in ([3, 2, 1, 0], [1, 3, 0, 2]):
        assert score(theta[:, perm], y) == pytest.approx(score(theta, y), rel=1e-12, abs=1e-15)


def test_a_source_class_that_nothing_is_predicted_as_adds_nothing():
    theta, y = softmax_rows(3, z=3)
    never = np.hstack([theta, np.zeros((len(y), 1))])  # a fourth source output that is zero on every row
    assert transferability.leep(never, y) == pytest.approx(transferability.leep(theta, y), rel=1e-12)
    assert np.isfinite(transferability.leep(never, y))
    assert transferability.nce(never, y) == pytest.approx(transferability.nce(theta, y), rel=1e-12)
    rare = np.hstack([theta, np.full((len(y), 1), 1e-9)])  # never the argmax, never zero
    assert transferability.nce(rare, y) == pytest.approx(transferability.nce(theta, y), rel=1e-12)
    # and a target class the source never predicts (source class 2 never wins): NCE counts only what is seen
    two = np.hstack([theta[:, :2], np.zeros((len(y), 1))])
    assert np.isfinite(transferability.nce(two, y)) and np.isfinite(
        transferability.leep(two / two.sum(axis=1, keepdims=True), y)
    )
    assert transferability.source_accuracy(two, y) == pytest.approx(np.mean(np.argmax(theta[:, :2], axis=1) == y))


# --- LogME ----------------------------------------------------------------------------------------------


def test_evidence_is_the_gaussian_marginal_likelihood():
    """The evidence at any (alpha, beta) is log N(t | 0, I / beta + F F^T / alpha), per row."""
    from scipy.stats import multivariate_normal

    f, y = features_and_labels(4, n=40, d=3)
    t = (y == 1).astype(float)
    for alpha, beta in ((1.0, 1.0), (0.3, 5.0), (20.0, 0.7)):
        cov = np.eye(40) / beta + f @ f.T / alpha
        assert transferability.evidence(t, f, alpha, beta) == pytest.approx(
            multivariate_normal(np.zeros(40), cov).logpdf(t) / 40, rel=1e-10
        )


def test_logme_maximises_the_evidence():
    """The fixed point is the maximum over (alpha, beta): a direct numerical maximisation finds the same value."""
    from scipy.optimize import minimize

    f, y = features_and_labels(5, n=120, d=4)
    t = (y == 2).astype(float)
    value, alpha, beta = transferability.maximise_evidence(t, f)
    best = minimize(
        lambda p: -transferability.evidence(t, f, np.exp(p[0]), np.exp(p[1])),
        [0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
    )
    assert value == pytest.approx(-best.fun, abs=1e-9)
    assert value >= -best.fun - 1e-12
    assert (alpha, beta) == pytest.approx(tuple(np.exp(best.x)), rel=1e-3)


def test_logme_with_no_live_feature_has_a_closed_form():
    """Every unit dead: t ~ N(0, I / beta), maximised at beta = n / t^T t, evidence -(log(2 pi t^T t / n) + 1) / 2."""
    y = np.array([0, 0, 1, 2, 2, 2, 1, 0, 2, 2])
    n = len(y)
    expect = np.mean([-(np.log(2 * np.pi * np.sum(y == c) / n) + 1) / 2 for c in range(3)])
    assert transferability.logme(np.zeros((n, 5)), y) == pytest.approx(expect, rel=1e-14)


def test_a_dead_unit_changes_logme_by_nothing():
    """Summed over all D eigenvalues a dead unit's prior and log-determinant cancel; thuml/LogME's fixed-point
    variant, which sums over the nonzero eigenvalues only, scores the same features 0.0048 higher here."""
    f, y = features_and_labels(0, n=500)
    f[:, 3] = 0.0
    alive = np.delete(f, 3, axis=1)
    assert transferability.logme(f, y) == pytest.approx(transferability.logme(alive, y), abs=1e-12)


def test_logme_agrees_with_the_reference_algorithm():
    """thuml/LogME's fixed point (You et al.'s Algorithm 3, transcribed in a scratch file, never into the package)
    gives -0.459938717689 on these features without a dead unit; its stopping rule leaves it 1e-10 off the fixed
    point, which this implementation runs to convergence."""
    rng = np.random.default_rng(0)
    f = np.maximum(rng.normal(size=(500, 5)) + rng.normal(size=5), 0)
    y = rng.integers(0, 3, 500)
    f[:, :2] += y[:, None] * 0.7
    assert transferability.logme(f, y) == pytest.approx(-0.459938717689, abs=2e-10)


def test_logme_rewards_features_that_carry_the_labels():
    f, y = features_and_labels(6)
    noise = np.random.default_rng(7).permutation(f)  # the same features, no longer tied to the labels
    assert transferability.logme(f, y) > transferability.logme(noise, y) + 0.05


# --- H-score --------------------------------------------------------------------------------------------


def test_ledoit_wolf_shrinkage_is_scikit_learns():
    from sklearn.covariance import LedoitWolf

    f, _ = features_and_labels(8)
    assert transferability.ledoit_wolf_shrinkage(f) == pytest.approx(LedoitWolf().fit(f).shrinkage_, rel=1e-10)
    assert transferability.ledoit_wolf_shrinkage(np.eye(4)) >= 0.0


def test_h_score_by_hand_and_as_the_regularised_reference():
    from sklearn.covariance import LedoitWolf

    # one feature, classes at -1 and +1: S = 1, the class means explain all of it: H = 1
    f, y = np.array([[-1.0], [-1.0], [1.0], [1.0]]), np.array([0, 0, 1, 1])
    assert transferability.h_score(f, y, shrinkage=0.0) == pytest.approx(1.0)
    # the regularised reference (Ibrahim et al.): tr(pinv(LW covariance) (1 - alpha) cov(g)), cov(g) with n - 1
    f, y = features_and_labels(9)
    lw = LedoitWolf().fit(f)
    g = np.zeros_like(f)
    for c in range(3):
        g[y == c] = f[y == c].mean(axis=0)
    ref = np.trace(np.linalg.pinv(lw.covariance_) @ ((1 - lw.shrinkage_) * np.cov(g, rowvar=False)))
    assert transferability.h_score(f, y) == pytest.approx(ref * (len(y) - 1) / len(y), rel=1e-9)


def test_h_score_without_shrinkage_is_invariant_under_an_invertible_affine_map():
    f, y = features_and_labels(10)
    rng = np.random.default_rng(11)
    a = rng.normal(size=(5, 5)) + 3 * np.eye(5)
    assert abs(np.linalg.det(a)) > 1
    moved = f @ a + rng.normal(size=5)
    assert transferability.h_score(moved, y, shrinkage=0.0) == pytest.approx(
        transferability.h_score(f, y, shrinkage=0.0), rel=1e-8
    )
    assert transferability.h_score(moved, y) != pytest.approx(
        transferability.h_score(f, y), rel=1e-3
    )  # shrinkage is not invariant


def test_a_dead_unit_and_the_h_score():
    f, y = features_and_labels(12)
    dead = np.hstack([f, np.zeros((len(y), 1))])
    assert transferability.h_score(dead, y, shrinkage=0.0) == pytest.approx(
        transferability.h_score(f, y, shrinkage=0.0), rel=1e-9
    )
    assert np.isfinite(transferability.h_score(dead, y))


# --- the plain baselines --------------------------------------------------------------------------------


def test_source_accuracy_by_hand():
    theta = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [0.5, 0.1, 0.4]])
    assert transferability.source_accuracy(theta, np.array([0, 2, 0, 1])) == 0.5


def test_the_probe_is_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    f, y = features_and_labels(13, n=200)
    w = transferability.fit_logistic(f, y, 3)
    ours = np.hstack([f, np.ones((200, 1))]) @ w
    theirs = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(f, y)
    p = np.exp(ours - ours.max(axis=1, keepdims=True))
    assert p / p.sum(axis=1, keepdims=True) == pytest.approx(theirs.predict_proba(f), abs=1e-5)


def test_probe_accuracy_by_cross_validation():
    f, y = features_and_labels(14, n=200)
    separable = np.column_stack([y, np.zeros(200)]).astype(float)  # the label itself, and a dead unit
    assert transferability.probe_accuracy(separable, y) == 1.0
    chance = transferability.probe_accuracy(np.random.default_rng(15).normal(size=(200, 3)), y)
    assert 0.15 < chance < 0.55 and transferability.probe_accuracy(f, y) > chance + 0.1


def test_the_mixture_is_scikit_learns_random_from_data_fit():
    """N-LEEP's batched EM equals scikit-learn's GaussianMixture(init_params="random_from_data") fitted to each
    feature set alone: ReLU features with a dead unit, as a source model gives, several sets at once."""
    import warnings

    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(8)
    y = np.repeat(np.arange(3), 60)
    x = rng.normal(size=(y.size, 2)) + y[:, None]
    f = np.stack([np.maximum(x @ rng.normal(size=(2, 4)) + rng.normal(size=4), 0.0) for _ in range(4)])
    f[:, :, 3] = 0.0
    got = transferability.mixture_posteriors(f, 15, seed=5)
    scores = transferability.nleep_rows(f, y, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a set that stops at max_iter warns
        for k in range(f.shape[0]):
            posterior = (
                GaussianMixture(15, init_params="random_from_data", random_state=5).fit(f[k]).predict_proba(f[k])
            )
            assert np.max(np.abs(got[k] - posterior)) < 1e-5
            assert scores[k] == pytest.approx(transferability.leep(posterior, y), abs=1e-8)
