"""Transferability scores: how well a source model should transfer to a target, before any target training.

One function per score, as the literature writes it; pure numpy (but for k-NN accuracy's neighbours, a Numba
kernel compiled on first use), no files, no draws (N-LEEP's one random quantity, the mixture's start, takes a
seed the caller derives by name). Every score is computed from a source model's outputs on the target's
*training* split: the source softmax `probs` (n, Z) over its Z source classes, or its last hidden layer's
features (n, D), and the target labels `labels` (n,) in 0..C-1. Higher is better for every score (so
`probe_log_loss` is the *negated* log-loss). Each was compared with its authors' code on random arrays and the
headline's 100 source models (issue 34's note has the numbers):

- `leep` (Nguyen et al., ICML 2020, "LEEP: A new measure to evaluate transferability of learned
  representations"): the log-likelihood of the target labels under the source's softmax followed by the
  empirical conditional P(y | z). Equals thuml/LogME's LEEP.py and tllib's `log_expected_empirical_prediction`.
- `nce` (Tran et al., ICCV 2019, "Transferability and hardness of supervised classification tasks"): minus
  the conditional entropy H(Y | Z) of the target label given the source's predicted class. Equals thuml/LogME's
  NCE.py and tllib's `negative_conditional_entropy`.
- `logme` (You et al., ICML 2021, "LogME: practical assessment of pre-trained models for transfer learning"):
  the log marginal likelihood (evidence) per row of a Bayesian linear regression of each one-hot target column
  on the features, at its *global* maximum over (alpha, beta), averaged over classes. For a fixed lambda =
  alpha / beta the best beta is n / E(lambda), so the evidence is a function of lambda alone
  (`profile_evidence`), searched on a log grid and refined, with lambda -> infinity (the features-free model) a
  candidate. MacKay's fixed point from alpha = beta = 1 (thuml/LogME, tllib; `fixed_point_evidence`) stops at
  the local maximum whose basin holds the start, which for 3 of the headline's 100 source models is the lower
  one (by up to 0.047); elsewhere the two agree to 1e-12, and with thuml/LogME to its stopping rule (3e-4). The
  log-determinant is summed over *all* D eigenvalues of F^T F: thuml/LogME's fixed-point variant sums over the
  nonzero ones only while keeping D/2 log(alpha), which adds log(alpha) / (2n) per zero eigenvalue (their issue
  #23) and so rewards a dead ReLU unit. Summed over all D, a dead unit adds exactly nothing.
- `h_score` (Bao et al., ICIP 2019; with Ledoit-Wolf shrinkage, Ibrahim et al., ICLR 2022, "Newer is not always
  better: rethinking transferability metrics, their peculiarities, stability and performance"):
  tr(Sigma_alpha^-1 (1 - alpha) Sigma_g), Sigma_g the covariance of the class-conditional feature means. tllib's
  `regularized_h_score` is this times n / (n - 1) (it divides Sigma_g by n - 1).
- `h_score_plain` (Bao et al., ICIP 2019, "An information-theoretic approach to transferability in task transfer
  learning"): the same without shrinkage, tr(cov(f)^+ cov(E[f | y])); equals tllib's `h_score`.
- `transrate` (Huang et al., ICML 2022, "Frustratingly easy transferability estimation"): R(Z) - (1/C) sum_c
  R(Z_c), the coding rate R(Z) = 1/2 log det(I + Z^T Z / (n_Z eps)) with eps = `TRANSRATE_EPS` = 1e-4 (the
  authors' value), on features standardised first (each unit to mean 0 and SD 1; a dead unit stays 0) so that a
  unit's scale does not matter. tllib's `transrate` (the authors' code) only centres; on standardised features
  it equals this.
- `gbc` (Pandy et al., CVPR 2022, "Transferability estimation using Bhattacharyya class separability"): minus the
  sum over ordered class pairs of the Bhattacharyya coefficient of per-class diagonal Gaussians (variances
  floored at `GBC_VARIANCE_FLOOR` = 1e-4), as google-research `stable_transfer/transferability/gbc.py`'s
  "diagonal" type, which it equals. Their "spherical" type (their default) counts the log-determinant term once
  instead of D times; `gbc(..., covariance="spherical")` uses the paper's D times.
- `nleep` (Li et al., CVPR 2021, "Ranking neural checkpoints"): LEEP with the source's softmax replaced by the
  posterior of a Gaussian mixture of 5 C components fitted to the features: scikit-learn's GaussianMixture with
  full covariances and init_params="random_from_data" (`mixture_posteriors`, a batched EM equal to it within
  1e-8, so that 200 source models fit at once). google-research `stable_transfer/transferability/nleep.py` uses
  GaussianMixture's default k-means start, which cannot be batched exactly, and hands LEEP float32 posteriors;
  the paper's PCA before the mixture is left out (D is a handful of units here).
- `knn_accuracy`: the cross-validated accuracy of a k-nearest-neighbour vote (k = `KNN_NEIGHBOURS` = 5,
  Euclidean, on features standardised with the training folds' mean and SD, the probe's folds); equals
  scikit-learn's KNeighborsClassifier(5, algorithm="brute") wherever no two distances tie at the k-th place (a
  tie there goes to the earlier training row, a tied vote to the smallest label). The distances, neighbours and
  vote are a Numba kernel (`_knn_correct`) where Numba runs already, else numpy (`_knn_correct_numpy`): the same
  numbers to the last bit.
- `source_accuracy`: the source model's own accuracy on the target rows, its output layer as transferred
  (class k read as class k), which is what transfer fixed=0 starts from.
- `probe_accuracy`: a multinomial logistic-regression probe on the frozen features, k-fold cross-validated on
  the training split (standardised features, L2 penalty 1/2 ||W||^2, scikit-learn's default C = 1; fitted by
  Newton's method, to scikit-learn's probabilities within 1e-5).
- `probe_log_loss`: minus the cross-validated log-loss of the same probe (the same folds and fits); equals minus
  scikit-learn's `log_loss` of `cross_val_predict` with LogisticRegression(C=1) to 1e-8. Unlike the accuracy (49
  distinct values over the headline's 100 source models) it tells apart probes equally often right.

`model.forward.mlp_outputs` runs a source model forward to give both inputs.

The `*_rows` functions and `score_rows` take K source models' outputs on the same rows at once.

Shapes: K source models, n target rows, D features (last hidden layer's units), Z source classes, C target
classes, G grid
points, T targets (one per class).
"""

from __future__ import annotations

import functools
import sys

import numpy as np

# the first six are the scores of every transferability.csv written before issue 34 (a reader needs only them)
SCORES = (
    "leep",
    "nce",
    "logme",
    "h_score",
    "source_accuracy",
    "probe_accuracy",
    "h_score_plain",
    "transrate",
    "gbc",
    "nleep",
    "knn_accuracy",
    "probe_log_loss",
)
FIRST_SCORES = SCORES[:6]

TRANSRATE_EPS = 1e-4  # the distortion of the coding rate, the authors' value
GBC_VARIANCE_FLOOR = 1e-4  # a class's variance of a unit is at least this (a unit constant within a class)
NLEEP_COMPONENTS_PER_CLASS = 5  # the mixture has 5 C components, as Li et al.
KNN_NEIGHBOURS = 5
KNN_CHUNK = 25  # the numpy k-NN's models whose (K, held, train) distances are held at once
KNN_LANES = 4  # the k-NN kernel's bound: each group's smallest distance 4 lanes at a time (a little faster than 8)
MIXTURE_TOL = 1e-3  # N-LEEP's mixture: scikit-learn's GaussianMixture defaults
MIXTURE_REG_COVAR = 1e-6
MIXTURE_MAX_ITER = 100
FOLDS = 5  # the probes' folds: consecutive blocks of the (already shuffled) training rows

# LogME's search over lambda = alpha / beta: a log10 grid from LOGME_MARGIN decades below the smallest nonzero
# eigenvalue of F^T F to LOGME_MARGIN above the largest, LOGME_PER_DECADE points a decade, then LOGME_ROUNDS rounds
# of a LOGME_FINE-point grid over the best point's two neighbouring cells (each round narrows the bracket 32-fold).
LOGME_MARGIN = 8.0
LOGME_PER_DECADE = 10
LOGME_FINE = 65
LOGME_ROUNDS = 7
LOGME_TOL = 1e-12  # the fixed point stops when lambda moves by less than this, relatively
LOGME_MAX_STEPS = 10_000
RESIDUAL_FLOOR = 1e-12  # of t^T t: the least E(lambda) (features that fit the target exactly, n <= D)


def _labels(labels, n: int) -> tuple[np.ndarray, int]:
    y = np.asarray(labels).reshape(-1)
    if y.size != n:
        raise ValueError(f"{y.size} labels for {n} rows")
    if y.size == 0 or y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    return y.astype(np.int64), int(y.max()) + 1


def _all_classes(labels, n: int) -> tuple[np.ndarray, int]:
    """`_labels`, with every class 0..C-1 present (the scores that fit something per class need each)."""
    y, c = _labels(labels, n)
    if np.any(np.bincount(y, minlength=c) == 0):
        raise ValueError("every class 0..C-1 needs at least one row")
    return y, c


def leep(probs: np.ndarray, labels: np.ndarray) -> float:
    """LEEP = (1/n) sum_i log sum_z P(y_i | z) theta_z(x_i), where P(y, z) = (1/n) sum_{i: y_i = y} theta_z(x_i)
    and P(y | z) = P(y, z) / sum_y P(y, z). probs (n, Z) rows summing to 1, labels (n,).

    A source class whose probability is zero on every row has no P(y | z); it carries no weight in any row's
    sum either, so it is left out (the score is that of the model without it)."""
    theta = np.asarray(probs, dtype=np.float64)
    y, c = _labels(labels, theta.shape[0])
    joint = np.zeros((c, theta.shape[1]))
    np.add.at(joint, y, theta)
    joint /= theta.shape[0]
    p_z = joint.sum(axis=0)
    cond = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)  # P(y | z), (C, Z)
    return float(np.mean(np.log(np.sum(theta * cond[y], axis=1))))


def nce(probs: np.ndarray, labels: np.ndarray) -> float:
    """NCE = -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z), the empirical joint of the target label y and the source's
    predicted class z = argmax theta(x) (n,). A source class that no row is predicted as has P(z) = 0 and adds
    nothing (0 log 0 = 0). probs (n, Z) (or any scores whose argmax is the prediction), labels (n,)."""
    theta = np.asarray(probs)
    y, c = _labels(labels, theta.shape[0])
    z = np.argmax(theta, axis=1)
    joint = np.zeros((c, theta.shape[1]))
    np.add.at(joint, (y, z), 1.0)
    joint /= theta.shape[0]
    p_z = joint.sum(axis=0)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log((joint / np.where(p_z > 0, p_z, 1.0))[nonzero])))


# --- LogME at the global maximum of its evidence ---


def evidence(target: np.ndarray, features: np.ndarray, alpha: float, beta: float) -> float:
    """log p(t | F, alpha, beta) / n for the model t = F w + noise, w ~ N(0, I / alpha), noise ~ N(0, I / beta):

        n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 ||F m - t||^2 - alpha/2 m^T m - 1/2 log |A|,

    with A = alpha I + beta F^T F (its log-determinant over all D eigenvalues) and m = beta A^-1 F^T t.
    target (n,), features (n, D). (It equals the log density of N(0, I / beta + F F^T / alpha) at t.)"""
    f = np.asarray(features, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    sigma, vectors = np.linalg.eigh(f.T @ f)
    return _evidence_at(np.maximum(sigma, 0.0), vectors.T @ (f.T @ t), float(t @ t), t.size, alpha, beta)


def _evidence_at(sigma: np.ndarray, z: np.ndarray, tt: float, n: int, alpha: float, beta: float) -> float:
    """The evidence / n at (alpha, beta) in the eigenbasis of F^T F: eigenvalues sigma (D,), z = V^T F^T t (D,),
    tt = t^T t (the residual floored at RESIDUAL_FLOOR t^T t, as `profile_evidence`)."""
    w = beta * z / (alpha + beta * sigma)  # m in the eigenbasis
    residual = max(tt - 2.0 * float(w @ z) + float(sigma @ (w * w)), RESIDUAL_FLOOR * tt)
    value = (
        n * np.log(beta)
        + sigma.size * np.log(alpha)
        - n * np.log(2 * np.pi)
        - beta * residual
        - alpha * float(w @ w)
        - np.sum(np.log(alpha + beta * sigma))
    )
    return float(value / (2.0 * n))


def _eigen(target: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(sigma (D,) eigenvalues of F^T F, z (T, D) = V^T F^T t per target, tt (T,) = t^T t, n) of targets (n, T)."""
    f = np.asarray(features, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64).reshape(f.shape[0], -1)
    sigma, vectors = np.linalg.eigh(f.T @ f)
    return np.maximum(sigma, 0.0), (vectors.T @ (f.T @ t)).T, np.sum(t * t, axis=0), f.shape[0]


def profile_evidence(lam: np.ndarray, sigma: np.ndarray, z: np.ndarray, tt: np.ndarray, n: int) -> np.ndarray:
    """The evidence per row maximised over beta at alpha = lambda beta, for lambda (T, G) and targets z (T, D), tt
    (T,) in the eigenbasis of F^T F (eigenvalues sigma (D,)): with E(lambda) = t^T t - sum_j z_j^2 / (sigma_j +
    lambda) (the residual plus lambda m^T m) the best beta is n / E, and

        1/2 (log(n / E) - 1 - log 2 pi) - 1/(2n) sum_j log(1 + sigma_j / lambda)   (T, G).

    A zero eigenvalue (a dead unit) adds nothing; lambda -> infinity gives the features-free model's
    1/2 (log(n / t^T t) - 1 - log 2 pi)."""
    lam = np.asarray(lam, dtype=np.float64)[..., None]  # (T, G, 1)
    fit = np.sum(z[:, None, :] ** 2 / (sigma + lam), axis=-1)
    e = np.maximum(tt[:, None] - fit, RESIDUAL_FLOOR * tt[:, None])
    return 0.5 * (np.log(n / e) - 1.0 - np.log(2 * np.pi)) - np.sum(np.log1p(sigma / lam), axis=-1) / (2.0 * n)


def _global_maxima(sigma: np.ndarray, z: np.ndarray, tt: np.ndarray, n: int):
    """(evidence (T,), alpha (T,), beta (T,)) at each target's global maximum (see `maximise_evidence`)."""
    if np.any(tt == 0.0):
        raise ValueError("LogME needs a target that is not all zero (a class with no rows)")
    limit = 0.5 * (np.log(n / tt) - 1.0 - np.log(2 * np.pi))
    live = sigma > 0
    best_value, best_lam = limit.copy(), np.full(tt.shape, np.inf)
    if np.any(live):
        lo = np.log10(sigma[live].min()) - LOGME_MARGIN
        hi = np.log10(sigma[live].max()) + LOGME_MARGIN
        grid = np.linspace(lo, hi, int(np.ceil((hi - lo) * LOGME_PER_DECADE)) + 1)
        values = profile_evidence(np.broadcast_to(10.0**grid, (tt.size, grid.size)), sigma, z, tt, n)
        at = np.argmax(values, axis=1)
        step = grid[1] - grid[0]
        left, right = grid[at] - step, grid[at] + step
        for _ in range(LOGME_ROUNDS):
            fine = np.linspace(left, right, LOGME_FINE, axis=1)  # (T, LOGME_FINE)
            values = profile_evidence(10.0**fine, sigma, z, tt, n)
            at = np.argmax(values, axis=1)
            centre = fine[np.arange(tt.size), at]
            half = (right - left) / (LOGME_FINE - 1)
            left, right = centre - half, centre + half
        value = values[np.arange(tt.size), at]
        better = value > limit  # the limit wins ties: with no live direction carrying the target they are equal
        best_value = np.where(better, value, limit)
        best_lam = np.where(better, 10.0**centre, np.inf)
    finite = np.isfinite(best_lam)
    fit = np.sum(z**2 / (sigma + np.where(finite, best_lam, 1.0)[:, None]), axis=1)
    e = np.where(finite, np.maximum(tt - fit, RESIDUAL_FLOOR * tt), tt)
    beta = n / e
    return best_value, best_lam * beta, beta


def maximise_evidence(target: np.ndarray, features: np.ndarray) -> tuple[float, float, float]:
    """(evidence / n, alpha, beta) at the global maximum over alpha, beta > 0 of LogME's evidence, with alpha ->
    infinity (the features-free model t ~ N(0, I / beta), returned as alpha = inf) included: the one-dimensional
    profile over lambda = alpha / beta (`profile_evidence`) searched on a log grid and refined to 1e-9 decades.
    target (n,), features (n, D)."""
    sigma, z, tt, n = _eigen(target, features)
    value, alpha, beta = _global_maxima(sigma, z, tt, n)
    return float(value[0]), float(alpha[0]), float(beta[0])


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME = (1/C) sum_c max_{alpha, beta} evidence(1[y = c], F) / n, each class's evidence at its global maximum
    (`maximise_evidence`; the eigen-decomposition of F^T F shared by the classes). features (n, D), labels
    (n,) with every class present."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _all_classes(labels, f.shape[0])
    sigma, z, tt, n = _eigen((y[:, None] == np.arange(c)).astype(np.float64), f)
    return float(np.mean(_global_maxima(sigma, z, tt, n)[0]))


def fixed_point_evidence(
    target: np.ndarray, features: np.ndarray, alpha: float = 1.0, beta: float = 1.0
) -> tuple[float, float, float]:
    """(evidence / n, alpha, beta) where MacKay's fixed point gamma = sum_j beta sigma_j / (alpha + beta sigma_j),
    alpha = gamma / m^T m, beta = (n - gamma) / ||F m - t||^2, started at (alpha, beta), stops (You et al. 2021,
    Algorithm 1, the authors' default start alpha = beta = 1, run here until lambda moves by less than LOGME_TOL):
    a *local* maximum, the one whose basin holds the start. target (n,), features (n, D)."""
    sigma, z, tt, n = _eigen(target, features)
    z, tt = z[0], float(tt[0])
    for _ in range(LOGME_MAX_STEPS):
        w = beta * z / (alpha + beta * sigma)
        mm = float(w @ w)
        residual = max(tt - 2.0 * float(w @ z) + float(sigma @ (w * w)), RESIDUAL_FLOOR * tt)
        gamma = float(np.sum(beta * sigma / (alpha + beta * sigma)))
        if mm == 0.0 or gamma >= n:
            break
        new_alpha, new_beta = gamma / mm, (n - gamma) / residual
        done = abs(new_alpha / new_beta - alpha / beta) <= LOGME_TOL * alpha / beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return _evidence_at(sigma, z, tt, n, alpha, beta), alpha, beta


# --- the H-scores ---


def ledoit_wolf_shrinkage(features: np.ndarray) -> float:
    """Ledoit and Wolf's (2004) optimal shrinkage alpha in [0, 1] of the covariance S = X^T X / n of the centred
    features X (n, D) towards mu I, mu = tr(S) / D: alpha = min(b2, d2) / d2, d2 = ||S - mu I||_F^2,
    b2 = (1/n^2) sum_i ||x_i x_i^T - S||_F^2 (as scikit-learn's `ledoit_wolf_shrinkage`, in one block)."""
    x = np.asarray(features, dtype=np.float64)
    x = x - x.mean(axis=0)
    n, d = x.shape
    s = x.T @ x / n
    mu = np.trace(s) / d
    d2 = float(np.sum((s - mu * np.eye(d)) ** 2))
    if d2 == 0.0:  # already a multiple of the identity (or all zero): nothing to shrink
        return 0.0
    b2 = float(np.sum((x * x).T @ (x * x)) / n - np.sum(s * s)) / n
    return min(max(b2, 0.0), d2) / d2


def h_score(features: np.ndarray, labels: np.ndarray, shrinkage: float | None = None) -> float:
    """H-score tr(Sigma_alpha^+ (1 - alpha) Sigma_g): Sigma_alpha = (1 - alpha) S + alpha mu I is the shrunk
    covariance of the features (S = cov with 1/n, mu = tr(S) / D), Sigma_g the covariance (1/n) of each row's
    class mean of the features, + the pseudo-inverse. shrinkage: alpha, or None for Ledoit-Wolf's
    (`ledoit_wolf_shrinkage`); 0 gives Bao et al.'s original score, invariant under an invertible affine map of
    the features. (The reference codes divide Sigma_g by n - 1, which scales the score by n / (n - 1).)
    features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    f = f - f.mean(axis=0)
    n, d = f.shape
    alpha = ledoit_wolf_shrinkage(f) if shrinkage is None else float(shrinkage)
    s = f.T @ f / n
    shrunk = (1.0 - alpha) * s + alpha * np.trace(s) / d * np.eye(d)
    sums = np.zeros((c, d))
    np.add.at(sums, y, f)
    counts = np.bincount(y, minlength=c).astype(np.float64)
    means = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    g = means[y]
    cov_g = g.T @ g / n  # the class means of centred features average to zero
    return float(np.trace(np.linalg.pinv(shrunk, rcond=1e-12, hermitian=True) @ ((1.0 - alpha) * cov_g)))


def h_score_plain(features: np.ndarray, labels: np.ndarray) -> float:
    """Bao et al.'s H-score tr(cov(f)^+ cov(E[f | y])): cov(f) = F^T F / n of the centred features F (n, D), the
    second the same of each row's class mean of F, + the pseudo-inverse (a dead unit adds nothing). Invariant
    under an invertible affine map of the features; at most C - 1. labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _all_classes(labels, f.shape[0])
    f = f - f.mean(axis=0)
    n = y.size
    counts = np.bincount(y, minlength=c).astype(np.float64)
    sums = np.zeros((c, f.shape[1]))
    np.add.at(sums, y, f)
    g = (sums / counts[:, None])[y]
    return float(np.trace(np.linalg.pinv(f.T @ f / n, rcond=1e-12, hermitian=True) @ (g.T @ g / n)))


# --- TransRate, GBC, N-LEEP (features standardised where the score says so) ---


def standardise(features: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and SD 1 (SD with 1/n); a constant column (a dead unit) to all zeros. (n, D)."""
    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(axis=0)
    sd = np.sqrt(np.mean(f * f, axis=0))
    return np.divide(f, sd, out=np.zeros_like(f), where=sd > 0)


def coding_rate(z: np.ndarray, eps: float = TRANSRATE_EPS) -> float:
    """R(Z, eps) = 1/2 log det(I_D + Z^T Z / (n eps)) of rows z (n, D): the bits per row to code them up to a
    distortion eps (Ma et al. 2007, in the authors' TransRate form)."""
    z = np.asarray(z, dtype=np.float64)
    sigma = np.maximum(np.linalg.eigvalsh(z.T @ z), 0.0)
    return float(0.5 * np.sum(np.log1p(sigma / (z.shape[0] * eps))))


def transrate(features: np.ndarray, labels: np.ndarray, eps: float = TRANSRATE_EPS) -> float:
    """TransRate = R(Z, eps) - (1/C) sum_c R(Z_c, eps): the coding rate of the standardised features Z (n, D) less
    the mean over classes of the coding rate of each class's rows Z_c (n_c, D) (not re-centred per class), as the
    mutual information of features and label; eps = TRANSRATE_EPS. labels (n,)."""
    z = standardise(features)
    y, c = _all_classes(labels, z.shape[0])
    return coding_rate(z, eps) - float(np.mean([coding_rate(z[y == k], eps) for k in range(c)]))


def gbc(features: np.ndarray, labels: np.ndarray, covariance: str = "diagonal") -> float:
    """GBC = -sum_{c != c'} exp(-D_B(c, c')), over ordered class pairs, with each class a Gaussian N(mu_c, Sigma_c)
    fitted to its rows (variances with 1/n_c, floored at GBC_VARIANCE_FLOOR) and the Bhattacharyya distance

        D_B = 1/8 (mu - mu')^T S^-1 (mu - mu') + 1/2 log(det S / sqrt(det Sigma det Sigma')), S = (Sigma + Sigma') / 2.

    covariance: "diagonal" (Sigma_c = diag of the unit variances) or "spherical" (Sigma_c = their mean times I_D).
    Well-separated classes give GBC near 0, overlapping ones near -C (C - 1). features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _all_classes(labels, f.shape[0])
    if covariance not in ("diagonal", "spherical"):
        raise ValueError(f"covariance must be 'diagonal' or 'spherical', not {covariance!r}")
    d = f.shape[1]
    means = np.stack([f[y == k].mean(axis=0) for k in range(c)])  # (C, D)
    variances = np.stack([np.maximum(f[y == k].var(axis=0), GBC_VARIANCE_FLOOR) for k in range(c)])
    if covariance == "spherical":
        variances = np.repeat(variances.mean(axis=1, keepdims=True), d, axis=1)
    total = 0.0
    for a in range(c):
        for b in range(c):
            if a != b:
                s = (variances[a] + variances[b]) / 2.0
                distance = np.sum((means[a] - means[b]) ** 2 / s) / 8.0 + 0.5 * np.sum(
                    np.log(s) - 0.5 * np.log(variances[a]) - 0.5 * np.log(variances[b])
                )
                total += float(np.exp(-distance))
    return -total


def nleep(
    features: np.ndarray, labels: np.ndarray, seed: int, components_per_class: int = NLEEP_COMPONENTS_PER_CLASS
) -> float:
    """N-LEEP = LEEP(P(component | f), y): LEEP (`leep`) with the source's softmax replaced by the posterior over
    the components of a Gaussian mixture with components_per_class C components fitted to the features
    (`mixture_posteriors`, started from `seed`, which the caller derives by name from the study's root seed).
    features (n, D), labels (n,)."""
    return float(nleep_rows(np.asarray(features, dtype=np.float64)[None], labels, seed, components_per_class)[0])


def nleep_rows(
    features: np.ndarray, labels: np.ndarray, seed: int, components_per_class: int = NLEEP_COMPONENTS_PER_CLASS
) -> np.ndarray:
    """`nleep` of K source models at once: features (K, n, D) on the same rows, labels (n,) -> (K,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _all_classes(labels, f.shape[1])
    posterior = mixture_posteriors(f, components_per_class * c, seed)
    return np.array([leep(p, y) for p in posterior])


def mixture_posteriors(features: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """P(component | row) (K, n, M) of a full-covariance Gaussian mixture of M components fitted by EM to each of
    K feature sets (K, n, D) at once: scikit-learn's GaussianMixture(n_components=M, covariance_type="full",
    init_params="random_from_data", random_state=seed) with its defaults (tol 1e-3 on the mean log-likelihood,
    reg_covar 1e-6, at most 100 steps), step for step: the same M start rows (one draw from `seed`, the same for
    every feature set), the same stopping rule per set. Each covariance is accumulated as sum_i r_ik x_i x_i^T /
    n_k - mu_k mu_k^T on features centred per set (where scikit-learn sums r_ik (x_i - mu_k)(x_i - mu_k)^T), and
    each log-density as one product with those sums' coefficients: the same fit to rounding, N-LEEP within 1e-9
    of scikit-learn's on the headline's source models (posteriors within 3e-6), 15x faster for 200 sets."""
    x = np.asarray(features, dtype=np.float64)
    k, n, d = x.shape
    if n < n_components:
        raise ValueError(f"a mixture of {n_components} components needs at least as many rows, not {n}")
    x = x - x.mean(axis=1, keepdims=True)  # EM (reg_covar included) is unchanged by a shift; less rounding
    a, b = np.triu_indices(d)
    # each row's monomials: x_a x_b (a <= b), x, 1 (K, n, P): a component's sums and log-density are linear in them
    mono = np.concatenate([x[:, :, a] * x[:, :, b], x, np.ones((k, n, 1))], axis=2)
    mono_t = np.ascontiguousarray(np.swapaxes(mono, 1, 2))  # (K, P, n)
    start = np.random.RandomState(int(seed)).choice(n, size=n_components, replace=False)  # scikit-learn's draw
    nk, means, chol = _mixture_m_step(mono[:, start, :], d, a, b)  # one row per component
    weights = nk / n
    bound = np.full(k, -np.inf)
    active = np.arange(k)
    for _ in range(MIXTURE_MAX_ITER):
        norm, resp = _mixture_e_step(mono_t[active], weights[active], means[active], chol[active], a, b)
        nk, means[active], chol[active] = _mixture_m_step(resp @ mono[active], d, a, b)
        weights[active] = nk / nk.sum(axis=1, keepdims=True)
        new = norm.mean(axis=1)
        done = np.abs(new - bound[active]) < MIXTURE_TOL
        bound[active] = new
        active = active[~done]
        if not active.size:
            break
    return np.swapaxes(_mixture_e_step(mono_t, weights, means, chol, a, b)[1], 1, 2)


def _mixture_m_step(sums: np.ndarray, d: int, a: np.ndarray, b: np.ndarray):
    """(n_k (K, M), means (K, M, D), Cholesky factors of the precisions (K, M, D, D)) from sums (K, M, P) =
    resp^T monomials, as scikit-learn's _estimate_gaussian_parameters (n_k + 10 eps) and
    _compute_precision_cholesky."""
    total = sums[:, :, -1]
    nk = total + 10 * np.finfo(np.float64).eps
    means = sums[:, :, -1 - d : -1] / nk[:, :, None]
    second = np.empty(sums.shape[:2] + (d, d))
    second[:, :, a, b] = second[:, :, b, a] = sums[:, :, : a.size]
    # sum r (x - mu)(x - mu)^T / n_k with sum r = total and mu = sum r x / n_k
    cov = second / nk[..., None, None] - means[..., :, None] * means[..., None, :] * (2.0 - total / nk)[..., None, None]
    cov[..., np.arange(d), np.arange(d)] += MIXTURE_REG_COVAR
    lower = np.linalg.cholesky(cov)
    return nk, means, np.swapaxes(np.linalg.solve(lower, np.broadcast_to(np.eye(d), lower.shape)), -1, -2)


def _mixture_e_step(mono_t, weights, means, chol, a, b):
    """(log p(x) (K, n), responsibilities (K, M, n)): scikit-learn's _estimate_log_prob_resp for full
    covariances, the log-density log w + log|L| - D/2 log 2 pi - 1/2 (x - mu)^T L L^T (x - mu) as coefficients
    (K, M, P) of the monomials mono_t (K, P, n)."""
    d = means.shape[-1]
    prec = chol @ np.swapaxes(chol, -1, -2)
    pm = (prec @ means[..., None])[..., 0]
    log_det = np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    const = np.log(weights) + log_det - 0.5 * (d * np.log(2 * np.pi) + np.sum(pm * means, axis=-1))
    square = -0.5 * prec[..., a, b] * np.where(a == b, 1.0, 2.0)
    log_prob = np.concatenate([square, pm, const[..., None]], axis=2) @ mono_t  # (K, M, n)
    top = log_prob.max(axis=1, keepdims=True)
    resp = np.exp(np.subtract(log_prob, top, out=log_prob), out=log_prob)
    total = resp.sum(axis=1, keepdims=True)
    resp /= total
    return (np.log(total) + top)[:, 0, :], resp


# --- the baselines: the source's own accuracy and the cross-validated probes ---


def source_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose argmax source class is their target label (class k read as class k)."""
    theta = np.asarray(probs)
    y, _ = _labels(labels, theta.shape[0])
    return float(np.mean(np.argmax(theta, axis=1) == y))


def _logistic_loss(w: np.ndarray, design: np.ndarray, onehot: np.ndarray, decay: np.ndarray, penalty: float):
    """(loss, probabilities (n, C)) of weights w (D + 1, C)."""
    logits = design @ w
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    total = p.sum(axis=1, keepdims=True)
    p /= total
    loss = -np.sum(logits * onehot) + np.sum(np.log(total)) + 0.5 * penalty * np.sum(decay * w * w)
    return float(loss), p


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, penalty: float = 1.0, tol: float = 1e-10) -> np.ndarray:
    """Weights (D + 1, C) of the multinomial logistic regression minimising sum_i CE_i + penalty/2 ||W||^2 (the
    intercept row unpenalised, as scikit-learn's LogisticRegression(C=1/penalty)), by Newton's method with a
    backtracking line search (the exact Hessian is (D + 1) C square: 18 x 18 here; its one null direction, all
    intercepts shifted together, is left alone by a least-squares step). x (n, D), y (n,)."""
    n, d = x.shape
    design = np.hstack([np.asarray(x, dtype=np.float64), np.ones((n, 1))])
    onehot = np.eye(n_classes)[y]
    decay = np.ones((d + 1, 1))
    decay[-1] = 0.0
    w = np.zeros((d + 1, n_classes))
    loss, p = _logistic_loss(w, design, onehot, decay, penalty)
    for _ in range(100):
        grad = design.T @ (p - onehot) + penalty * decay * w
        # Hessian: sum_i x_i x_i^T (x) (diag p_i - p_i p_i^T), plus the penalty on the kernel rows
        curvature = (p[:, :, None] * (np.eye(n_classes)[None] - p[:, None, :])).reshape(n, 1, -1)  # (n, 1, C C)
        # as one matrix product (8x faster than the einsum of the same sum): (a, b c d) -> (a c, b d)
        hessian = design.T @ (design[:, :, None] * curvature).reshape(n, -1)
        hessian = (
            hessian.reshape(d + 1, d + 1, n_classes, n_classes).transpose(0, 2, 1, 3).reshape((d + 1) * n_classes, -1)
        )
        hessian += np.diag(np.repeat(penalty * decay[:, 0], n_classes))
        step = np.linalg.lstsq(hessian, grad.reshape(-1), rcond=None)[0].reshape(d + 1, n_classes)
        scale = 1.0
        while True:
            trial, trial_p = _logistic_loss(w - scale * step, design, onehot, decay, penalty)
            if trial <= loss or scale < 1e-10:
                break
            scale /= 2.0
        w -= scale * step
        done = loss - trial <= tol * max(1.0, abs(loss))
        loss, p = trial, trial_p
        if done:
            break
    return w


def _blocks(n: int, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train mask (n,), held-out rows) of each of `folds` consecutive blocks (np.array_split's sizes)."""
    out = []
    for block in np.array_split(np.arange(n), folds):
        train = np.ones(n, dtype=bool)
        train[block] = False
        out.append((train, block))
    return out


def _scaled(f: np.ndarray, train: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of f standardised with the training rows' mean and SD (constant: SD 1)."""
    mean, sd = f[train].mean(axis=0), f[train].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (f[train] - mean) / sd, (f[block] - mean) / sd


def fit_logistic_rows(
    x: np.ndarray, y: np.ndarray, n_classes: int, penalty: float = 1.0, tol: float = 1e-10
) -> np.ndarray:
    """`fit_logistic` of K feature sets on the same labels at once: x (K, m, D), y (m,) -> weights (K, D + 1, C).
    The same Newton steps, line search and stopping rule, each set on its own; the Hessian from the fixed
    products of the design's columns (K, m, (D + 1)(D + 2)/2) and of the probabilities, and its null direction
    (all intercepts shifted together) filled with 1 so that a solve gives the least-squares step of `fit_logistic`.
    The optimum is the same to rounding."""
    x = np.asarray(x, dtype=np.float64)
    k, m, d = x.shape
    design = np.concatenate([x, np.ones((k, m, 1))], axis=2)
    onehot = np.eye(n_classes)[y]
    decay = np.ones((d + 1, 1))
    decay[-1] = 0.0
    a, b = np.triu_indices(d + 1)
    c, e = np.triu_indices(n_classes)
    columns = np.ascontiguousarray(np.swapaxes(design, 1, 2))  # (K, D + 1, m)
    pairs_t = columns[:, a] * columns[:, b]  # (K, P, m)
    size = (d + 1) * n_classes
    fixed = np.diag(np.repeat(penalty * decay[:, 0], n_classes))
    fixed[d * n_classes :, d * n_classes :] += 1.0 / n_classes  # v v^T, v the unit null direction
    w = np.zeros((k, d + 1, n_classes))
    loss, p = _logistic_loss_rows(w, design, onehot, decay, penalty)
    active = np.arange(k)
    for _ in range(100):
        da, pa, wa = design[active], p[active], w[active]
        grad = np.swapaxes(da, 1, 2) @ (pa - onehot) + penalty * decay * wa
        curvature = pa[:, :, c] * ((c == e) - pa[:, :, e])  # p_c (delta_ce - p_e), c <= e (Ka, m, Q)
        block = pairs_t[active] @ curvature  # (Ka, P, Q)
        hessian = np.empty((active.size, d + 1, d + 1, n_classes, n_classes))
        for i, j in ((a, b), (b, a)):
            hessian[:, i[:, None], j[:, None], c[None, :], e[None, :]] = block
            hessian[:, i[:, None], j[:, None], e[None, :], c[None, :]] = block
        hessian = hessian.transpose(0, 1, 3, 2, 4).reshape(active.size, size, size) + fixed
        step = np.linalg.solve(hessian, grad.reshape(active.size, size, 1)).reshape(wa.shape)
        scale = np.ones(active.size)
        trial, trial_p = _logistic_loss_rows(wa - step, da, onehot, decay, penalty)
        short = ~(trial <= loss[active])
        while np.any(short):
            short &= scale >= 1e-10
            scale[short] /= 2.0
            again = np.flatnonzero(short)
            t, tp = _logistic_loss_rows(
                wa[again] - scale[again, None, None] * step[again], da[again], onehot, decay, penalty
            )
            trial[again], trial_p[again] = t, tp
            short[again] = ~(t <= loss[active][again])
        w[active] = wa - scale[:, None, None] * step
        done = loss[active] - trial <= tol * np.maximum(1.0, np.abs(loss[active]))
        loss[active], p[active] = trial, trial_p
        active = active[~done]
        if not active.size:
            break
    return w


def _logistic_loss_rows(w: np.ndarray, design: np.ndarray, onehot: np.ndarray, decay: np.ndarray, penalty: float):
    """`_logistic_loss` of K weights (K, D + 1, C) on their designs (K, m, D + 1): (loss (K,), probs (K, m, C))."""
    logits = design @ w
    logits -= _last_max(logits)
    p = np.exp(logits)
    total = _last_sum(p)
    p /= total
    loss = (
        -np.sum(logits * onehot, axis=(1, 2))
        + np.sum(np.log(total), axis=(1, 2))
        + 0.5 * penalty * np.sum(decay * w * w, axis=(1, 2))
    )
    return loss, p


def _last_max(v: np.ndarray) -> np.ndarray:
    """v.max(axis=-1, keepdims=True) as one elementwise maximum per column: the same numbers (a maximum is
    exact), without numpy's slow reduction over a short last axis (C = 3 here)."""
    out = v[..., 0].copy()
    for i in range(1, v.shape[-1]):
        np.maximum(out, v[..., i], out=out)
    return out[..., None]


def _last_sum(v: np.ndarray) -> np.ndarray:
    """v.sum(axis=-1, keepdims=True) to the last bit: numpy adds fewer than 8 terms of a row in order, so the
    same order column by column (8 or more: numpy's own pairwise sum)."""
    if v.shape[-1] >= 8:
        return v.sum(axis=-1, keepdims=True)
    out = v[..., 0].copy()
    for i in range(1, v.shape[-1]):
        out += v[..., i]
    return out[..., None]


def _scaled_rows(f: np.ndarray, train: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_scaled` of K feature sets f (K, n, D) at once."""
    mean, sd = f[:, train].mean(axis=1, keepdims=True), f[:, train].std(axis=1, keepdims=True)
    sd = np.where(sd > 0, sd, 1.0)
    return (f[:, train] - mean) / sd, (f[:, block] - mean) / sd


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = KNN_NEIGHBOURS, folds: int = FOLDS) -> float:
    """Cross-validated accuracy of the k-nearest-neighbour vote: each block of `folds` consecutive blocks of rows
    is predicted from the others (features standardised with their mean and SD), each held-out row taking the
    most common label of its k nearest training rows by Euclidean distance. Deterministic: equal distances go to
    the earlier training row, a tied vote to the smallest label. Pooled over all rows. features (n, D), labels
    (n,)."""
    return float(knn_accuracy_rows(np.asarray(features, dtype=np.float64)[None], labels, k, folds)[0])


def knn_accuracy_rows(features: np.ndarray, labels: np.ndarray, k: int = KNN_NEIGHBOURS, folds: int = FOLDS):
    """`knn_accuracy` of K feature sets (K, n, D) on the same labels (n,) at once -> (K,). The features are
    standardised here (`_scaled_rows`, numpy); the distances, the choice of neighbours and the vote are
    `_knn_correct`'s, compiled by Numba, where Numba is running in this process already (the numba engine
    trained here: a row's distances and its k nearest at a time, 4x faster than numpy's (K, held, train) tables
    and partition); elsewhere `_knn_correct_numpy`'s, the same numbers (tested), for Numba's start-up (0.35 s)
    would cost more than its kernel saves (a `rank-sources` of one model took 0.42 s instead of 0.15)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[1])
    blocks = _blocks(y.size, folds)
    if not 1 <= k <= min(int(train.sum()) for train, _ in blocks):
        raise ValueError(f"k = {k} neighbours: needs 1 to the fewest training rows of a fold")
    correct = np.zeros(f.shape[0], dtype=np.int64)
    count = _knn_kernel() if _numba_running() else _knn_correct_numpy
    for train, block in blocks:
        fitted, held = _scaled_rows(f, train, block)
        # each unit's training values contiguous (K, D, train): the kernel's inner loop runs along them (and
        # every array C-ordered, so that one compiled signature serves every call)
        fitted, held = np.ascontiguousarray(np.swapaxes(fitted, 1, 2)), np.ascontiguousarray(held)
        count(fitted, held, y[train], y[block], k, c, correct)
    return correct / y.size


def _numba_running() -> bool:
    """Whether this process has imported Numba already (its start-up paid: the numba engine has trained here)."""
    return "numba" in sys.modules


def _knn_correct_numpy(fitted, held, y_fitted, y_held, k, n_classes, correct) -> None:
    """`_knn_correct` in numpy, the same numbers: each chunk of KNN_CHUNK models' (K, held, train) squared
    distances summed unit by unit, the k nearest by a partition (every row nearer than the k-th distance, then
    the earliest of those at it), the vote as a product with the one-hot training labels."""
    for rows in np.array_split(np.arange(fitted.shape[0]), max(1, fitted.shape[0] // KNN_CHUNK)):  # memory
        distance = np.zeros((rows.size, held.shape[1], fitted.shape[2]))  # (K, held, train), exact differences
        step = np.empty_like(distance)
        for j in range(fitted.shape[1]):
            np.subtract(held[rows, :, j, None], fitted[rows, j, None, :], out=step)
            distance += np.square(step, out=step)
        kth = np.partition(distance, k - 1, axis=2)[:, :, k - 1 : k]
        chosen = distance <= kth
        tied = np.flatnonzero(chosen.sum(axis=2) > k)
        if tied.size:  # several at the k-th distance: the rest have exactly k at or below it
            d, t = distance.reshape(-1, distance.shape[2])[tied], kth.reshape(-1, 1)[tied]
            nearer, at = d < t, d == t
            chosen.reshape(-1, distance.shape[2])[tied] = nearer | (
                at & (np.cumsum(at, axis=1) <= k - nearer.sum(axis=1, keepdims=True))
            )
        votes = chosen.astype(np.float32) @ (y_fitted[:, None] == np.arange(n_classes)).astype(np.float32)
        correct[rows] += np.sum(np.argmax(votes, axis=2) == y_held, axis=1)


def _knn_correct(fitted, held, y_fitted, y_held, k, n_classes, correct):
    """Adds to correct (K,) the held-out rows (K, b, D) that the k nearest training rows (K, D, m) vote right.

    Written for Numba (`_knn_kernel`) to give the numpy computation's numbers to the last bit: each squared
    distance summed unit by unit from 0.0 in the order 0..D-1 (no fastmath, so no fused multiply-add); the k
    nearest by (distance, training row), so that at a tie the earlier row is chosen; the label with the most
    votes, a tied vote to the smallest. A NaN distance (features not finite) is never chosen, and a row with
    fewer than k training rows at a distance that is not NaN gets no vote and is predicted label 0 (as the
    numpy version did: its partition put NaN last).

    The choice, not the distances, took most of the time: a cheap bound at or above the k-th distance first
    leaves a few candidates of the m rows (a dozen of 400, typically), taken in row order into the sorted k
    nearest."""
    n_models, n_units, n_fitted = fitted.shape
    distance = np.empty(n_fitted)
    near = np.empty(k)  # the k nearest so far, nearest first, and their training rows
    near_row = np.empty(k, dtype=np.int64)
    votes = np.empty(n_classes, dtype=np.int64)
    low = np.empty(KNN_LANES)
    group = n_fitted // k // KNN_LANES * KNN_LANES  # k groups of this many consecutive rows (0: no bound)
    for s in range(n_models):
        for i in range(held.shape[1]):
            distance[:] = 0.0
            for j in range(n_units):
                value = held[s, i, j]
                for t in range(n_fitted):
                    diff = value - fitted[s, j, t]
                    distance[t] += diff * diff
            # the largest of the k groups' smallest distances: k distinct rows are at or below it, so the k
            # nearest are too (a group's smallest NaN: no bound)
            bound = np.inf
            if group > 0:
                bound = -np.inf
                for g in range(k):
                    low[:] = distance[g * group : g * group + KNN_LANES]
                    for start in range(g * group + KNN_LANES, (g + 1) * group, KNN_LANES):
                        for lane in range(KNN_LANES):  # lane by lane: vectorised, and exact in any order
                            x = distance[start + lane]
                            low[lane] = x if x < low[lane] else low[lane]
                    smallest = low[0]
                    for lane in range(1, KNN_LANES):
                        smallest = low[lane] if low[lane] < smallest else smallest
                    if smallest != smallest:
                        bound = np.inf
                        break
                    bound = max(bound, smallest)
            chosen = 0
            for t in range(n_fitted):
                d = distance[t]
                if not d <= bound:  # beyond the bound, or NaN
                    continue
                if chosen < k:
                    at = chosen
                    chosen += 1
                elif d < near[k - 1]:  # strictly: a row as far as the k-th comes later, so it is not nearer
                    at = k - 1
                else:
                    continue
                while at > 0 and d < near[at - 1]:
                    near[at] = near[at - 1]
                    near_row[at] = near_row[at - 1]
                    at -= 1
                near[at] = d
                near_row[at] = t
            votes[:] = 0
            if chosen == k:
                for q in range(k):
                    votes[y_fitted[near_row[q]]] += 1
            best = 0
            for label in range(1, n_classes):
                if votes[label] > votes[best]:  # strictly: a tied vote stays with the smaller label
                    best = label
            if best == y_held[i]:
                correct[s] += 1


@functools.cache
def _knn_kernel():
    """`_knn_correct` compiled by Numba on first use (2 s; then loaded from Numba's disk cache beside this file,
    or a per-user cache folder where it cannot be written, in 0.2 s where Numba has not run in the process yet
    and a few ms where it has; any change to this file compiles it again). Numba is imported here, not at the
    top, so that importing the statistics does not pay for it (0.13 s)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_knn_correct)


def held_out_logits(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """The logistic probe's logits (n, C) of each row from the probe fitted without its block: `folds`
    consecutive blocks, features standardised with the other blocks' mean and SD (as `probe_accuracy`, whose
    accuracy is the share of rows whose largest logit is their label). features (n, D), labels (n,)."""
    return held_out_logits_rows(np.asarray(features, dtype=np.float64)[None], labels, folds)[0]


def held_out_logits_rows(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """`held_out_logits` of K feature sets (K, n, D) on the same labels (n,) at once -> (K, n, C)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[1])
    logits = np.empty((f.shape[0], y.size, c))
    for train, block in _blocks(y.size, folds):
        fitted, held = _scaled_rows(f, train, block)
        w = fit_logistic_rows(fitted, y[train], c)
        logits[:, block] = np.concatenate([held, np.ones(held.shape[:2] + (1,))], axis=2) @ w
    return logits


def probe_log_loss(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> float:
    """Minus the cross-validated log-loss of the logistic probe, (1/n) sum_i log p_(-i)(y_i | f_i), p_(-i) the
    softmax of `held_out_logits` (the probe that did not see row i): higher is better, 0 at best. Unlike the
    probe's accuracy, it tells apart probes that are right equally often but not equally sure."""
    return _log_likelihood(held_out_logits(features, labels, folds), labels)


def probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> float:
    """Cross-validated accuracy of a logistic probe on the features: the rows split into `folds` consecutive
    blocks (the target's rows are already in random order), each block predicted by a probe fitted on the
    others on features standardised with the others' mean and SD (`held_out_logits`). Pooled accuracy over all
    rows. features (n, D), labels (n,)."""
    return _accuracy(held_out_logits(features, labels, folds), labels)


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """The share of rows whose largest logit (n, C) is their label (n,)."""
    y = np.asarray(labels).reshape(-1)
    return int(np.sum(np.argmax(logits, axis=1) == y)) / y.size


def _log_likelihood(logits: np.ndarray, labels: np.ndarray) -> float:
    """(1/n) sum_i log softmax(logits_i)[y_i]: minus the log-loss of logits (n, C) at labels (n,)."""
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    top = logits.max(axis=1, keepdims=True)
    log_p = logits - top - np.log(np.sum(np.exp(logits - top), axis=1, keepdims=True))
    return float(np.mean(log_p[np.arange(y.size), y]))


def all_scores(features: np.ndarray, probs: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, float]:
    """Every score of `SCORES` for one source model: features (n, D) and probs (n, Z) of the target's training
    rows, labels (n,); seed: N-LEEP's mixture's (the caller's, by name). `score_rows` of one."""
    rows = score_rows(np.asarray(features)[None], np.asarray(probs)[None], labels, seed)
    return {name: float(values[0]) for name, values in rows.items()}


def score_rows(features: np.ndarray, probs: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Every score of `SCORES` (each (K,)) for K source models on the same target rows: features (K, n, D) and
    probs (K, n, Z), labels (n,); seed: N-LEEP's mixture's, the same for every model. The costly scores (the
    mixture, the probes' Newton fits, the k-NN distances) run for all K at once; the two probe scores share one
    set of fits."""
    f = np.asarray(features, dtype=np.float64)
    theta = np.asarray(probs, dtype=np.float64)
    logits = held_out_logits_rows(f, labels)
    each = {
        "leep": [leep(p, labels) for p in theta],
        "nce": [nce(p, labels) for p in theta],
        "logme": [logme(x, labels) for x in f],
        "h_score": [h_score(x, labels) for x in f],
        "source_accuracy": [source_accuracy(p, labels) for p in theta],
        "probe_accuracy": [_accuracy(z, labels) for z in logits],
        "h_score_plain": [h_score_plain(x, labels) for x in f],
        "transrate": [transrate(x, labels) for x in f],
        "gbc": [gbc(x, labels) for x in f],
        "nleep": nleep_rows(f, labels, seed),
        "knn_accuracy": knn_accuracy_rows(f, labels),
        "probe_log_loss": [_log_likelihood(z, labels) for z in logits],
    }
    return {name: np.asarray(each[name], dtype=np.float64) for name in SCORES}
