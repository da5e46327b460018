"""More transferability scores, and LogME at the global maximum of its evidence (issue 34).

Each score is one pure numpy function, written from its paper's formula, of a source model's outputs on the
target's *training* split: its last hidden layer's features (n, D) and the target labels (n,) in 0..C-1, every
class present. Higher is better for every score (`probe_log_loss` is therefore the *negated* log-loss). Nothing
here draws: `nleep`'s one random quantity, the mixture's initialisation, takes a seed the caller derives by name.

How each one relates to the authors' published code (compared on random arrays; the note of issue 34 has the
numbers):

- `transrate` (Huang et al., ICML 2022, "Frustratingly easy transferability estimation"): the coding rate of the
  features minus their mean coding rate per class, R(Z) - (1/C) sum_c R(Z_c), R(Z) = 1/2 log det(I + Z^T Z /
  (n_Z eps)), with eps = `TRANSRATE_EPS` = 1e-4 as in the authors' code (Long-Kai/TransRate, copied into
  thuml/Transfer-Learning-Library `tllib/ranking/transrate.py`). The features are standardised first (each unit
  to mean 0 and SD 1 over the rows; a dead unit stays 0), so that the score does not depend on each unit's
  scale; the reference only centres them, and equals this on standardised input.
- `gbc` (Pandy et al., CVPR 2022, "Transferability estimation using Bhattacharyya class separability"): minus the
  sum over ordered class pairs of the Bhattacharyya coefficient exp(-D_B) of per-class diagonal Gaussians, each
  class's variance floored at `GBC_VARIANCE_FLOOR` (1e-4), as google-research `stable_transfer/transferability/
  gbc.py` (its "diagonal" type, which this equals). Its "spherical" type (their default) counts the log-
  determinant term of D_B once instead of D times; `gbc(..., covariance="spherical")` uses the paper's D times.
- `nleep` (Li et al., CVPR 2021, "Ranking neural checkpoints"): LEEP with the source's softmax replaced by the
  posterior of a Gaussian mixture of 5 C components fitted to the features (scikit-learn's GaussianMixture,
  full covariances, its defaults), as google-research `stable_transfer/transferability/nleep.py`, which passes
  float32 posteriors to LEEP (a difference of about 1e-7); the paper's PCA before the mixture is left out (D is
  a handful of units here).
- `knn_accuracy`: the k-fold cross-validated accuracy of a k-nearest-neighbour vote (k = `KNN_NEIGHBOURS` = 5,
  Euclidean, on features standardised with the training folds' mean and SD, the same consecutive folds as the
  probe); equal to scikit-learn's KNeighborsClassifier(5, algorithm="brute") where no two distances tie.
- `probe_log_loss`: minus the cross-validated log-loss of the logistic probe of `probe_accuracy` (same folds,
  same standardisation, the same Newton fit of scikit-learn's LogisticRegression(C=1)).
- `h_score_plain` (Bao et al., ICIP 2019, "An information-theoretic approach to transferability in task transfer
  learning"): tr(cov(f)^+ cov(E[f | y])) without shrinkage, equal to tllib's `h_score`.
- `logme_global`: LogME (You et al., ICML 2021) with each class's evidence at its *global* maximum. For a fixed
  ratio lambda = alpha / beta the best beta is n / E(lambda), so the evidence is a function of lambda alone
  (`profile_evidence`), searched on a log grid and refined, with the limit lambda -> infinity (the features-free
  model) as a candidate. MacKay's fixed point (`fixed_point_evidence`, thuml/LogME's algorithm) started at
  alpha = beta = 1 finds the nearest local maximum, which can be the lower one.

Shapes: n target rows, D features, C target classes, G grid points, T targets (one per class).
"""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from blobs_transfer.stats.transferability import fit_logistic, leep

TRANSRATE_EPS = 1e-4  # the distortion of the coding rate, the authors' value
GBC_VARIANCE_FLOOR = 1e-4  # a class's variance of a unit is at least this (a unit constant within a class)
NLEEP_COMPONENTS_PER_CLASS = 5  # the mixture has 5 C components, as Li et al.
KNN_NEIGHBOURS = 5
FOLDS = 5  # the probe's folds: consecutive blocks of the (already shuffled) training rows

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
    """(labels (n,) int, C), every class 0..C-1 present."""
    y = np.asarray(labels).reshape(-1)
    if y.size != n:
        raise ValueError(f"{y.size} labels for {n} rows")
    if y.size == 0 or y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    y = y.astype(np.int64)
    c = int(y.max()) + 1
    if np.any(np.bincount(y, minlength=c) == 0):
        raise ValueError("every class 0..C-1 needs at least one row")
    return y, c


def standardise(features: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and SD 1 (SD with 1/n); a constant column (a dead unit) to all zeros. (n, D)."""
    f = np.asarray(features, dtype=np.float64)
    f = f - f.mean(axis=0)
    sd = np.sqrt(np.mean(f * f, axis=0))
    return np.divide(f, sd, out=np.zeros_like(f), where=sd > 0)


# --- TransRate --------------------------------------------------------------------------------------------


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
    y, c = _labels(labels, z.shape[0])
    return coding_rate(z, eps) - float(np.mean([coding_rate(z[y == k], eps) for k in range(c)]))


# --- GBC --------------------------------------------------------------------------------------------------


def gbc(features: np.ndarray, labels: np.ndarray, covariance: str = "diagonal") -> float:
    """GBC = -sum_{c != c'} exp(-D_B(c, c')), over ordered class pairs, with each class a Gaussian N(mu_c, Sigma_c)
    fitted to its rows (variances with 1/n_c, floored at GBC_VARIANCE_FLOOR) and the Bhattacharyya distance

        D_B = 1/8 (mu - mu')^T S^-1 (mu - mu') + 1/2 log(det S / sqrt(det Sigma det Sigma')), S = (Sigma + Sigma') / 2.

    covariance: "diagonal" (Sigma_c = diag of the unit variances) or "spherical" (Sigma_c = their mean times I_D).
    Well-separated classes give GBC near 0, overlapping ones near -C (C - 1). features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
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


# --- N-LEEP -----------------------------------------------------------------------------------------------


def nleep(
    features: np.ndarray, labels: np.ndarray, seed: int, components_per_class: int = NLEEP_COMPONENTS_PER_CLASS
) -> float:
    """N-LEEP = LEEP(P(component | f), y): LEEP (`transferability.leep`) with the source's softmax replaced by
    the posterior over the components of a Gaussian mixture with components_per_class C components fitted to the
    features (scikit-learn's GaussianMixture, full covariances, initialised by k-means from `seed`, which the
    caller derives by name from the study's root seed), on one thread. features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    # one thread: the same k-means start on every machine, and no oversubscription (on 2 busy cores its OpenMP
    # threads made one fit 30x slower)
    with threadpool_limits(limits=1):
        mixture = GaussianMixture(n_components=components_per_class * c, random_state=int(seed)).fit(f)
        posterior = mixture.predict_proba(f)
    return leep(posterior, y)


# --- cross-validated probes: k-NN and the logistic probe's log-loss --------------------------------------------


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


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = KNN_NEIGHBOURS, folds: int = FOLDS) -> float:
    """Cross-validated accuracy of the k-nearest-neighbour vote: each block of `folds` consecutive blocks of rows
    is predicted from the others (features standardised with their mean and SD), each held-out row taking the
    most common label of its k nearest training rows by Euclidean distance. Deterministic: equal distances go to
    the earlier training row, a tied vote to the smallest label. Pooled over all rows. features (n, D), labels
    (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    correct = 0
    for train, block in _blocks(y.size, folds):
        fitted, held = _scaled(f, train, block)
        distance = np.sum((held[:, None, :] - fitted[None, :, :]) ** 2, axis=2)  # (held, train)
        nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
        votes = np.zeros((block.size, c), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(block.size), k), y[train][nearest].reshape(-1)), 1)
        correct += int(np.sum(np.argmax(votes, axis=1) == y[block]))
    return correct / y.size


def held_out_logits(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> np.ndarray:
    """The logistic probe's logits (n, C) of each row from the probe fitted without its block: `folds`
    consecutive blocks, features standardised with the other blocks' mean and SD (as `probe_accuracy`, whose
    accuracy is the share of rows whose largest logit is their label). features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    logits = np.empty((y.size, c))
    for train, block in _blocks(y.size, folds):
        fitted, held = _scaled(f, train, block)
        w = fit_logistic(fitted, y[train], c)
        logits[block] = np.hstack([held, np.ones((block.size, 1))]) @ w
    return logits


def probe_log_loss(features: np.ndarray, labels: np.ndarray, folds: int = FOLDS) -> float:
    """Minus the cross-validated log-loss of the logistic probe, (1/n) sum_i log p_(-i)(y_i | f_i), p_(-i) the
    softmax of `held_out_logits` (the probe that did not see row i): higher is better, 0 at best. Unlike the
    probe's accuracy, it tells apart probes that are right equally often but not equally sure."""
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    logits = held_out_logits(features, labels, folds)
    top = logits.max(axis=1, keepdims=True)
    log_p = logits - top - np.log(np.sum(np.exp(logits - top), axis=1, keepdims=True))
    return float(np.mean(log_p[np.arange(y.size), y]))


# --- H-score without shrinkage ---------------------------------------------------------------------------------


def h_score_plain(features: np.ndarray, labels: np.ndarray) -> float:
    """Bao et al.'s H-score tr(cov(f)^+ cov(E[f | y])): cov(f) = F^T F / n of the centred features F (n, D), the
    second the same of each row's class mean of F, + the pseudo-inverse (a dead unit adds nothing). Invariant
    under an invertible affine map of the features; at most C - 1. labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    f = f - f.mean(axis=0)
    n = y.size
    counts = np.bincount(y, minlength=c).astype(np.float64)
    sums = np.zeros((c, f.shape[1]))
    np.add.at(sums, y, f)
    g = (sums / counts[:, None])[y]
    return float(np.trace(np.linalg.pinv(f.T @ f / n, rcond=1e-12, hermitian=True) @ (g.T @ g / n)))


# --- LogME at the global maximum --------------------------------------------------------------------------------


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
    """(evidence (T,), alpha (T,), beta (T,)) at each target's global maximum (see `maximise_evidence_global`)."""
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


def maximise_evidence_global(target: np.ndarray, features: np.ndarray) -> tuple[float, float, float]:
    """(evidence / n, alpha, beta) at the global maximum over alpha, beta > 0 of LogME's evidence, with alpha ->
    infinity (the features-free model t ~ N(0, I / beta), returned as alpha = inf) included: the one-dimensional
    profile over lambda = alpha / beta (`profile_evidence`) searched on a log grid and refined to 1e-9 decades.
    target (n,), features (n, D)."""
    sigma, z, tt, n = _eigen(target, features)
    value, alpha, beta = _global_maxima(sigma, z, tt, n)
    return float(value[0]), float(alpha[0]), float(beta[0])


def logme_global(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME = (1/C) sum_c max_{alpha, beta} evidence(1[y = c], F) / n, each class's evidence at its global maximum
    (`maximise_evidence_global`; the eigen-decomposition of F^T F shared by the classes). features (n, D), labels
    (n,) with every class present."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
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
    w = beta * z / (alpha + beta * sigma)
    residual = max(tt - 2.0 * float(w @ z) + float(sigma @ (w * w)), RESIDUAL_FLOOR * tt)
    value = (
        n * np.log(beta)
        + sigma.size * np.log(alpha)
        - n * np.log(2 * np.pi)
        - beta * residual
        - alpha * float(w @ w)
        - np.sum(np.log(alpha + beta * sigma))
    ) / (2.0 * n)
    return float(value), alpha, beta
