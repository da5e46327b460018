"""Tests that kill mutants of blobs_transfer.stats.transferability which the other stats tests let through
(benchmarks/mutation.sh; the mutants each test kills are named in it). Small hand-made arrays; expected values
by hand or from the rule the docstrings state. Nothing here fits N-LEEP's mixture (scikit-learn's import alone
takes seconds): `all_scores` is checked with `nleep` stood in for."""

import warnings

import numpy as np
import pytest

from blobs_transfer.stats import transferability as T


def features(seed=0, n=24, d=3):
    """Features (n, d) with unit scales far apart (float64 values that float32 cannot hold), labels (n,) in 3
    classes, each present."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d)) * np.array([1.0, 3.7, 0.21])[:d] + 0.3
    y = np.arange(n) % 3
    f[:, 0] += 0.8 * y
    return f, y


def as32(x):
    """The same values in float64 that a float32 array holds: a score must not depend on the input's dtype."""
    return np.asarray(x, np.float32).astype(np.float64)


@pytest.mark.parametrize(
    "score",
    [T.logme, T.h_score, T.h_score_plain, T.transrate, T.gbc, T.probe_accuracy, T.probe_log_loss],
    ids=lambda s: s.__name__,
)
def test_scores_compute_in_float64_whatever_the_input_dtype(score):
    """The asarray(..., dtype=np.float64) mutants (dtype None or dropped): float32 features give exactly the score
    of the same values in float64 (float32 arithmetic would round differently)."""
    f, y = features()
    f32 = f.astype(np.float32)
    assert score(f32, y) == score(as32(f), y)


def test_building_blocks_compute_in_float64():
    """As above for the public building blocks: evidence, maximise_evidence, ledoit_wolf_shrinkage, standardise,
    coding_rate, held_out_logits (features and targets in float32)."""
    f, y = features()
    t = np.linspace(-1.3, 2.9, f.shape[0]) ** 3  # t @ t in float32 rounds differently
    f32, t32 = f.astype(np.float32), t.astype(np.float32)
    assert T.evidence(t32, f32, 0.7, 1.3) == T.evidence(as32(t), as32(f), 0.7, 1.3)
    assert T.maximise_evidence(t32, f32) == T.maximise_evidence(as32(t), as32(f))
    assert T.fixed_point_evidence(t32, f32) == T.fixed_point_evidence(as32(t), as32(f))
    assert T.ledoit_wolf_shrinkage(f32) == T.ledoit_wolf_shrinkage(as32(f))
    assert np.array_equal(T.standardise(f32), T.standardise(as32(f)))
    assert T.coding_rate(f32) == T.coding_rate(as32(f))
    assert np.array_equal(T.held_out_logits(f32, y), T.held_out_logits(as32(f), y))


def test_a_missing_class_is_named():
    """_all_classes mutants: the check (np.any(counts == 0), not == 1 or dropped) and its message."""
    f, _ = features(n=6)
    with pytest.raises(ValueError, match=r"^every class 0..C-1 needs at least one row$"):
        T.h_score_plain(f, np.array([0, 0, 2, 2, 0, 2]))
    # a class of one row is a class
    assert np.isfinite(T.h_score_plain(f, np.array([0, 0, 1, 2, 0, 2])))


def test_logme_needs_a_target_with_a_nonzero_entry():
    """_global_maxima mutants: t^T t == 0 is rejected (not == 1), with its message; t^T t = 1 is fine."""
    f, _ = features(n=6)
    with pytest.raises(ValueError, match=r"^LogME needs a target that is not all zero \(a class with no rows\)$"):
        T.maximise_evidence(np.zeros(6), f)
    assert np.isfinite(T.maximise_evidence(np.array([0, 0, 1.0, 0, 0, 0]), f)[0])


def search_reference(sigma, z, tt, n):
    """The search `_global_maxima` documents, for one target: a log10 grid LOGME_MARGIN decades beyond the
    smallest and largest nonzero eigenvalue at LOGME_PER_DECADE points a decade (rounded up, ends included), then
    LOGME_ROUNDS rounds of LOGME_FINE points over the best point's two neighbouring cells; the limit lambda -> inf
    when it is at least as high."""
    live = sigma[sigma > 0]
    lo, hi = np.log10(live.min()) - T.LOGME_MARGIN, np.log10(live.max()) + T.LOGME_MARGIN
    grid = np.linspace(lo, hi, int(np.ceil((hi - lo) * T.LOGME_PER_DECADE)) + 1)
    best = grid[np.argmax(T.profile_evidence(10.0 ** grid[None], sigma, z[None], np.array([tt]), n)[0])]
    cell = grid[1] - grid[0]
    left, right = best - cell, best + cell
    for _ in range(T.LOGME_ROUNDS):
        fine = np.linspace(left, right, T.LOGME_FINE)
        values = T.profile_evidence(10.0 ** fine[None], sigma, z[None], np.array([tt]), n)[0]
        best = fine[np.argmax(values)]
        cell = (right - left) / (T.LOGME_FINE - 1)
        left, right = best - cell, best + cell
    limit = 0.5 * (np.log(n / tt) - 1.0 - np.log(2 * np.pi))
    return (values.max(), 10.0**best) if values.max() > limit else (limit, np.inf)


def test_global_maxima_searches_the_documented_grid():
    """_global_maxima mutants in the search: eigenvalues > 0 are live (not > 1: here all are below 1), the grid's
    size and cell, the fine grid's size and cell. The result is the documented search's, exactly."""
    f, _ = features()
    f = f * 0.05  # every eigenvalue of F^T F below 1
    t = f @ np.array([1.0, 0.3, -2.0]) + 0.01 * np.sin(np.arange(f.shape[0]))  # carried by the features
    sigma, z, tt, n = T._eigen(t, f)
    assert sigma.max() < 1
    value, lam = search_reference(sigma, z[0], tt[0], n)
    got_value, alpha, beta = T._global_maxima(sigma, z, tt, n)
    assert np.isfinite(lam) and got_value[0] == value and alpha[0] / beta[0] == pytest.approx(lam, rel=1e-14)


def test_global_maxima_per_target():
    """_global_maxima mutants: the fit term summed per target (axis=1), so that each of several targets gets the
    alpha and beta it gets alone."""
    f, y = features()
    targets = (y[:, None] == np.arange(3)).astype(np.float64)
    sigma, z, tt, n = T._eigen(targets, f)
    value, alpha, beta = T._global_maxima(sigma, z, tt, n)
    for c in range(3):
        alone = T.maximise_evidence(targets[:, c], f)
        assert (value[c], alpha[c], beta[c]) == pytest.approx(alone, rel=1e-12)


def test_an_exact_fit_floors_the_residual_at_a_share_of_t_t():
    """Mutants RESIDUAL_FLOOR * tt -> RESIDUAL_FLOOR / tt in _evidence_at and profile_evidence: with n <= D the
    features fit the target exactly and the residual is floored at 1e-12 t^T t (t^T t = 13, not 1)."""
    f = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 0.1]])  # n = 2 rows, D = 3 units
    t = np.array([2.0, 3.0])  # t^T t = 13
    tt = 13.0
    sigma, z, _, n = T._eigen(t, f)
    # profile_evidence at lambda -> 0 is the floored residual: 1/2 (log(n / (1e-12 tt)) - 1 - log 2 pi) - penalty
    lam = np.array([[1e-30]])
    penalty = np.sum(np.log1p(sigma / 1e-30)) / (2 * n)
    floored = 0.5 * (np.log(n / (T.RESIDUAL_FLOOR * tt)) - 1 - np.log(2 * np.pi)) - penalty
    assert T.profile_evidence(lam, sigma, z, np.array([tt]), n)[0, 0] == pytest.approx(floored, rel=1e-12)
    # _evidence_at: beta * residual with the floored residual at a tiny alpha (beta large: the floor counts); n = D
    # = 2 (no null direction, whose w would blow up at a tiny alpha)
    f = np.array([[1.0, 0.3], [0.2, 2.0]])
    sigma, z, _, n = T._eigen(t, f)
    alpha, beta = 1e-30, 1e12
    w = beta * z[0] / (alpha + beta * sigma)
    expected = (
        n * np.log(beta)
        + sigma.size * np.log(alpha)
        - n * np.log(2 * np.pi)
        - beta * T.RESIDUAL_FLOOR * tt
        - alpha * float(w @ w)
        - np.sum(np.log(alpha + beta * sigma))
    ) / (2 * n)
    assert T._evidence_at(sigma, z[0], tt, n, alpha, beta) == pytest.approx(expected, rel=1e-12)


def test_fixed_point_stops_when_gamma_reaches_n():
    """fixed_point_evidence mutant gamma >= n -> gamma > n: n = D = 2 and alpha tiny make every
    beta sigma_j / (alpha + beta sigma_j) exactly 1, so gamma == n and the start is returned (going on would
    divide by beta = (n - gamma) / residual = 0)."""
    f = np.array([[1.0, 0.3], [0.2, 2.0]])
    t = np.array([2.0, 3.0])
    value, alpha, beta = T.fixed_point_evidence(t, f, alpha=1e-30, beta=1.0)
    assert (alpha, beta) == (1e-30, 1.0) and value == T.evidence(t, f, 1e-30, 1.0)


def test_fixed_point_defaults_and_stops():
    """fixed_point_evidence mutants: the start alpha = beta = 1 (defaults), the break (not a bare return) when the
    target is orthogonal to the features (m^T m = 0: not "and" gamma >= n, which would divide by 0)."""
    f, y = features()
    for t in (f @ np.array([1.0, 0.3, -2.0]) + 0.1 * np.sin(np.arange(f.shape[0])), (y == 0).astype(np.float64)):
        assert T.fixed_point_evidence(t, f) == T.fixed_point_evidence(t, f, 1.0, 1.0)
    flat = np.zeros((6, 2))
    flat[:, 0] = [1, -1, 1, -1, 1, -1]
    t = np.array([1.0, 1, -1, -1, 0, 0])  # orthogonal to the only live unit: z = 0, m = 0
    value, alpha, beta = T.fixed_point_evidence(t, flat, 2.0, 3.0)
    assert (alpha, beta) == (2.0, 3.0) and value == T.evidence(t, flat, 2.0, 3.0)


def test_ledoit_wolf_of_an_identity_covariance_is_zero():
    """ledoit_wolf_shrinkage mutants: d2 == 0 returns 0.0 (not checked as d2 == 1, not 1.0)."""
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # S = I / 2: nothing to shrink
    assert T.ledoit_wolf_shrinkage(x) == 0.0


def test_h_scores_cut_eigenvalues_below_1e_12_of_the_largest():
    """h_score and h_score_plain mutants: pinv's rcond=1e-12 (numpy's default cuts at 1e-15 only). A direction
    whose variance is 1e-13.5 of the largest and which carries the labels is cut: it adds nothing."""
    rng = np.random.default_rng(3)
    y = np.arange(30) % 2
    big = rng.normal(size=30)
    tiny = 10**-6.75 * (y - 0.5 + 0.1 * rng.normal(size=30))  # variance ratio about 1e-13.5
    with_tiny = np.stack([big, tiny], axis=1)
    assert T.h_score_plain(with_tiny, y) == pytest.approx(T.h_score_plain(big[:, None], y), abs=1e-9)
    assert T.h_score(with_tiny, y, shrinkage=0.0) == pytest.approx(T.h_score(big[:, None], y, shrinkage=0.0), abs=1e-9)


def test_h_score_with_a_missing_class_and_a_class_of_one_row():
    """h_score mutants on the class means: a class without rows is skipped quietly (the where= of the division:
    no 0/0 warning), a class of one row has its row as its mean (counts > 0, not > 1). Labels {0, 2, 3}: class 1
    is missing; class 3 has one row, which lies far out, so leaving its mean at 0 would change the score."""
    f = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [3.0, 2.0], [2.0, 3.0], [2.5, 2.4], [9.0, -4.0]])
    y = np.array([0, 0, 0, 2, 2, 2, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = T.h_score(f, y, shrinkage=0.0)
    c = f - f.mean(axis=0)
    means = np.stack([c[y == k].mean(axis=0) for k in y])
    expected = np.trace(np.linalg.pinv(c.T @ c / 7) @ (means.T @ means / 7))
    assert got == pytest.approx(expected, rel=1e-12)


def test_nce_with_a_source_class_never_predicted_is_quiet():
    """nce mutant: p_z > 0 (not >= 0) picks where to divide: a never-predicted source class is no 0/0."""
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.7, 0.3, 0.0], [0.4, 0.6, 0.0]])
    y = np.array([0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = T.nce(probs, y)
    # joint: (z=0: y=0 1/4, y=1 1/4), (z=1: y=1 1/2); -H(Y|Z) = 1/4 log 1/2 + 1/4 log 1/2 + 1/2 log 1
    assert got == pytest.approx(0.5 * np.log(0.5), rel=1e-12)


def test_standardise_sets_a_dead_unit_to_zeros():
    """standardise mutant (out= dropped): a constant column comes out as zeros, and NumPy is not left to warn
    about a where= without out= (uninitialised memory)."""
    f = np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = T.standardise(f)
    assert np.array_equal(z[:, 1], np.zeros(3))


def test_leep_leaves_out_a_source_class_of_probability_zero():
    """leep mutant (out= dropped from the division by P(z)): a source class with probability 0 on every row is
    left out quietly (no where= without out=)."""
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y = np.array([0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = T.leep(probs, y)
    # one-hot probs: row i's sum is P(y_i | z_i); z = 0 holds y = 0, 1 (1/2 each), z = 1 only y = 1
    assert got == pytest.approx(np.mean(np.log([0.5, 1.0, 0.5, 1.0])), rel=1e-12)


def test_transrate_passes_its_eps_to_every_coding_rate():
    """transrate mutants: eps reaches the coding rate of all features and of each class's rows."""
    f, y = features()
    z = T.standardise(f)
    expected = T.coding_rate(z, 0.01) - np.mean([T.coding_rate(z[y == k], 0.01) for k in range(3)])
    assert T.transrate(f, y, eps=0.01) == pytest.approx(expected, rel=1e-12)


def test_gbc_of_three_classes_by_its_formula():
    """gbc mutants: each class's own rows give its mean and variances (y == k, not y != k: for two classes the
    swap is symmetric, so three)."""
    f = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.7], [3.0, 2.0], [2.0, 3.5], [2.5, 2.4], [1.0, -4.0], [2.0, -3.0]])
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    mu = [f[y == k].mean(axis=0) for k in range(3)]
    var = [np.maximum(f[y == k].var(axis=0), T.GBC_VARIANCE_FLOOR) for k in range(3)]
    total = 0.0
    for a in range(3):
        for b in range(3):
            if a != b:
                s = (var[a] + var[b]) / 2
                d_b = np.sum((mu[a] - mu[b]) ** 2 / s) / 8 + 0.5 * np.log(
                    np.prod(s) / np.sqrt(np.prod(var[a] * var[b]))
                )
                total += np.exp(-d_b)
    assert T.gbc(f, y) == pytest.approx(-total, rel=1e-12)


def test_logistic_loss_by_hand_and_stable_per_row():
    """_logistic_loss mutants: each row's logits shifted by that row's max (a global shift underflows a row far
    below the others to log 0), and the penalty + 0.5 penalty ||decay w||^2 (not -, not 0.5 / penalty)."""
    design = np.array([[1.0, 0.0], [0.0, 1.0]])
    w = np.array([[0.0, 1.0], [1000.0, 1001.0]])  # logits: row 0 (0, 1), row 1 (1000, 1001)
    onehot = np.array([[1.0, 0.0], [0.0, 1.0]])
    decay = np.array([[1.0], [0.0]])
    loss, p = T._logistic_loss(w, design, onehot, decay, penalty=2.0)
    # CE row 0: log(1 + e) - 0 ... = log(1 + e^1) ; row 1: log(1 + e^-1); penalty: 0.5 * 2 * (0 + 1) = 1
    expected = np.log1p(np.e) + np.log1p(np.exp(-1.0)) + 1.0
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(p, [[1 / (1 + np.e), np.e / (1 + np.e)]] * 2, rtol=1e-12)


def test_log_likelihood_is_stable_per_row_and_takes_column_labels():
    """_log_likelihood and _accuracy mutants: the max per row (axis=1), labels reshaped to (n,) (a column of
    labels (n, 1) is accepted)."""
    logits = np.array([[0.0, 1.0], [1000.0, 1001.0], [5.0, 2.0]])
    y = np.array([1, 0, 0])
    expected = np.mean([-np.log1p(np.exp(-1.0)), -np.log1p(np.e), -np.log1p(np.exp(-3.0))])
    assert T._log_likelihood(logits, y) == pytest.approx(expected, rel=1e-12)
    assert T._log_likelihood(logits, y[:, None]) == pytest.approx(expected, rel=1e-12)
    assert T._accuracy(logits, y[:, None]) == 2 / 3


def test_probes_pass_their_folds():
    """probe_accuracy and probe_log_loss mutants: folds reaches held_out_logits (3 folds, not the default 5)."""
    f, y = features()
    logits = T.held_out_logits(f, y, folds=3)
    assert not np.array_equal(logits, T.held_out_logits(f, y))
    assert T.probe_log_loss(f, y, folds=3) == T._log_likelihood(logits, y)
    assert T.probe_accuracy(f, y, folds=3) == T._accuracy(logits, y)


def test_all_scores_is_each_score(monkeypatch):
    """all_scores mutants (no other test calls it): every key of SCORES, each the score of its own function on
    the right inputs, N-LEEP given the seed (stood in for: its mixture would import scikit-learn)."""
    f, y = features()
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(4), size=y.size)
    seen = []

    def fake_nleep_rows(features, labels, seed):
        seen.append((features, labels, seed))
        return np.full(len(features), -1.25)

    monkeypatch.setattr(T, "nleep_rows", fake_nleep_rows)
    got = T.all_scores(f, probs, y, seed=17)
    assert list(got) == list(T.SCORES)
    expected = {
        "leep": T.leep(probs, y),
        "nce": T.nce(probs, y),
        "logme": T.logme(f, y),
        "h_score": T.h_score(f, y),
        "source_accuracy": T.source_accuracy(probs, y),
        "probe_accuracy": T.probe_accuracy(f, y),
        "h_score_plain": T.h_score_plain(f, y),
        "transrate": T.transrate(f, y),
        "gbc": T.gbc(f, y),
        "nleep": -1.25,
        "knn_accuracy": T.knn_accuracy(f, y),
        "probe_log_loss": T.probe_log_loss(f, y),
    }
    assert got == expected
    assert len(seen) == 1 and np.array_equal(seen[0][0], f[None]) and seen[0][1] is y and seen[0][2] == 17


def test_inputs_of_higher_precision_are_brought_to_float64():
    """profile_evidence and fit_logistic mutants (dtype=np.float64 dropped): long-double inputs give the float64
    result of the same values rounded to float64, not a long-double computation (linalg refuses long doubles)."""
    sigma, z, tt = np.array([0.5, 2.0]), np.array([[0.3, -1.1]]), np.array([2.0])
    lam = np.array([[0.37, 3.1]], dtype=np.longdouble) + np.longdouble(2.0) ** -60
    assert np.array_equal(
        T.profile_evidence(lam, sigma, z, tt, 5), T.profile_evidence(lam.astype(np.float64), sigma, z, tt, 5)
    )
    f, y = features(n=12)
    x = f.astype(np.longdouble) + np.longdouble(2.0) ** -60
    assert np.array_equal(T.fit_logistic(x, y, 3), T.fit_logistic(x.astype(np.float64), y, 3))


def test_fixed_point_goes_on_when_m_has_norm_one():
    """fixed_point_evidence mutant mm == 0.0 -> mm == 1.0: at the start alpha = beta = 1, one unit f = (1, 0, 0)
    and t = (2, 0.5, -0.3) give m = f.t / (1 + f.f) = 1 exactly; the iteration must go on from there."""
    f = np.array([[1.0], [0.0], [0.0]])
    t = np.array([2.0, 0.5, -0.3])
    _, alpha, beta = T.fixed_point_evidence(t, f)
    assert (alpha, beta) != (1.0, 1.0)


def test_fit_logistic_reaches_the_minimum_where_the_data_curve_less_than_the_penalty():
    """fit_logistic mutant: the penalty's curvature added to the Hessian (+=, not -=). Three rows of small features
    curve the loss less than the penalty does, so a Hessian with the penalty subtracted is not positive definite
    and Newton's steps go uphill; the fit must still reach the minimum, where the gradient
    X^T (p - onehot) + penalty decay w vanishes."""
    x = np.array([[0.1, -0.05], [0.2, 0.1], [-0.1, 0.02]])
    y = np.array([0, 1, 0])
    w = T.fit_logistic(x, y, 2)
    design = np.hstack([x, np.ones((3, 1))])
    logits = design @ w
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    decay = np.array([[1.0], [1.0], [0.0]])
    grad = design.T @ (p - np.eye(2)[y]) + decay * w
    assert np.abs(grad).max() < 1e-8 and np.abs(w[:2]).max() > 1e-3
