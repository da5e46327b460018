"""Transferability scores: how well a source model should transfer to a target, before any target training.

One function per score, as the literature writes it; pure numpy, no files.
Every score is computed from a source model's outputs on the target's *training* split: the source softmax
`probs` (n, Z) over its Z source classes, or its last hidden layer's features (n, D), and the target labels
`labels` (n,) in 0..C-1. Higher is better for every score.

- `leep` (Nguyen et al., ICML 2020, "LEEP: A new measure to evaluate transferability of learned
  representations"): the log-likelihood of the target labels under the source's softmax followed by the
  empirical conditional P(y | z).
- `nce` (Tran et al., ICCV 2019, "Transferability and hardness of supervised classification tasks"): minus
  the conditional entropy H(Y | Z) of the target label given the source's predicted class.
- `logme` (You et al., ICML 2021, "LogME: practical assessment of pre-trained models for transfer learning"):
  the maximised log marginal likelihood (evidence) per row of a Bayesian linear regression of each one-hot
  target column on the features, averaged over classes. The log-determinant is summed over *all* D eigenvalues
  of F^T F: thuml/LogME's fixed-point variant sums over the nonzero ones only while keeping D/2 log(alpha),
  which adds log(alpha) / (2n) per zero eigenvalue (their issue #23) and so rewards a dead ReLU unit. Summed over
  all D, a dead unit adds exactly nothing (its prior's log alpha cancels its log-determinant term).
- `h_score` (Bao et al., ICIP 2019; with Ledoit-Wolf shrinkage, Ibrahim et al., ICLR 2022, "Newer is not always
  better: rethinking transferability metrics, their peculiarities, stability and performance"):
  tr(Sigma_alpha^-1 (1 - alpha) Sigma_g), Sigma_g the covariance of the class-conditional feature means.
- `source_accuracy`: the source model's own accuracy on the target rows, its output layer as transferred
  (class k read as class k), which is what transfer fixed=0 starts from.
- `probe_accuracy`: a multinomial logistic-regression probe on the frozen features, k-fold cross-validated on
  the training split (standardised features, L2 penalty 1/2 ||W||^2, scikit-learn's default C = 1; fitted by
  Newton's method, to scikit-learn's probabilities within 1e-5).

`model.forward.mlp_outputs` runs a source model forward to give both inputs.

Shapes: n target rows, D features (last hidden layer's units), Z source classes, C target classes.
"""

from __future__ import annotations

import numpy as np

SCORES = ("leep", "nce", "logme", "h_score", "source_accuracy", "probe_accuracy")

# The fixed point of LogME's evidence maximisation stops when alpha / beta moves by less than this, relatively
# (the reference stops at 1e-2 or 1e-3 after at most 11 steps; here it runs to convergence).
LOGME_TOL = 1e-10
LOGME_MAX_STEPS = 10_000
RESIDUAL_FLOOR = 1e-12  # of t^T t: the least squared residual LogME's fixed point works with


def _labels(labels, n: int) -> tuple[np.ndarray, int]:
    y = np.asarray(labels).reshape(-1)
    if y.size != n:
        raise ValueError(f"{y.size} labels for {n} rows")
    if y.size == 0 or y.min() < 0:
        raise ValueError("labels must be non-negative class indices")
    return y.astype(np.int64), int(y.max()) + 1


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


def evidence(target: np.ndarray, features: np.ndarray, alpha: float, beta: float) -> float:
    """log p(t | F, alpha, beta) / n for the model t = F w + noise, w ~ N(0, I / alpha), noise ~ N(0, I / beta):

        n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 ||F m - t||^2 - alpha/2 m^T m - 1/2 log |A|,

    with A = alpha I + beta F^T F (its log-determinant over all D eigenvalues) and m = beta A^-1 F^T t.
    target (n,), features (n, D). (It equals the log density of N(0, I / beta + F F^T / alpha) at t.)"""
    f = np.asarray(features, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    sigma, vectors = np.linalg.eigh(f.T @ f)
    return _evidence(np.maximum(sigma, 0.0), vectors.T @ (f.T @ t), float(t @ t), t.size, alpha, beta)[0]


def _evidence(sigma: np.ndarray, z: np.ndarray, tt: float, n: int, alpha: float, beta: float):
    """(evidence / n, gamma, m^T m, ||F m - t||^2) in the eigenbasis of F^T F: eigenvalues sigma (D,), z = V^T F^T t
    (D,), tt = t^T t."""
    w = beta * z / (alpha + beta * sigma)  # m in the eigenbasis
    mm = float(w @ w)
    # floored: features that fit the target exactly (n <= D) would send beta, and the evidence, to infinity
    residual = max(tt - 2.0 * float(w @ z) + float(sigma @ (w * w)), RESIDUAL_FLOOR * tt)
    gamma = float(np.sum(beta * sigma / (alpha + beta * sigma)))
    d = sigma.size
    value = (
        n * np.log(beta)
        + d * np.log(alpha)
        - n * np.log(2 * np.pi)
        - beta * residual
        - alpha * mm
        - np.sum(np.log(alpha + beta * sigma))
    ) / 2.0
    return float(value / n), gamma, mm, residual


def maximise_evidence(target: np.ndarray, features: np.ndarray) -> tuple[float, float, float]:
    """(evidence / n, alpha, beta) at the maximum over alpha, beta, by MacKay's fixed point
    gamma = sum beta sigma_j / (alpha + beta sigma_j), alpha = gamma / m^T m, beta = (n - gamma) / ||F m - t||^2,
    run until alpha / beta changes by less than LOGME_TOL (You et al. 2021, Algorithm 1).

    Where no direction of the features carries any of the target (m = 0: every unit dead, or F^T t = 0), the
    evidence grows with alpha towards its limit, that of the features-free model t ~ N(0, I / beta); that limit
    is returned, with alpha = inf and beta = n / t^T t. target (n,), features (n, D)."""
    f = np.asarray(features, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    n = t.size
    tt = float(t @ t)
    sigma, vectors = np.linalg.eigh(f.T @ f)
    sigma = np.maximum(sigma, 0.0)
    z = vectors.T @ (f.T @ t)
    if tt == 0.0:
        raise ValueError("LogME needs a target that is not all zero (a class with no rows)")
    if not np.any((sigma > 0) & (z != 0)):
        beta = n / tt
        return float((n * np.log(beta) - n * np.log(2 * np.pi) - n) / 2.0 / n), float("inf"), beta
    alpha, beta = 1.0, 1.0
    for _ in range(LOGME_MAX_STEPS):
        _, gamma, mm, residual = _evidence(sigma, z, tt, n, alpha, beta)
        if mm == 0.0 or gamma >= n:  # degenerate (n <= D and an exact fit): keep the last finite step
            break
        new_alpha, new_beta = gamma / mm, (n - gamma) / residual
        done = abs(new_alpha / new_beta - alpha / beta) <= LOGME_TOL * alpha / beta
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return _evidence(sigma, z, tt, n, alpha, beta)[0], alpha, beta


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME = (1/C) sum_c max_{alpha, beta} evidence(1[y = c], F) / n: the mean over target classes of the
    maximised evidence per row (`maximise_evidence`). features (n, D), labels (n,) with every class present."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    return float(np.mean([maximise_evidence((y == k).astype(np.float64), f)[0] for k in range(c)]))


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
        curvature = p[:, :, None] * (np.eye(n_classes)[None] - p[:, None, :])  # (n, C, C)
        hessian = np.einsum("ia,ib,icd->acbd", design, design, curvature).reshape((d + 1) * n_classes, -1)
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


def probe_accuracy(features: np.ndarray, labels: np.ndarray, folds: int = 5) -> float:
    """Cross-validated accuracy of a logistic probe on the features: the rows split into `folds` consecutive
    blocks (the target's rows are already in random order), each block predicted by a probe fitted on the
    others on features standardised with the others' mean and SD (a constant feature is left at zero).
    Pooled accuracy over all rows. features (n, D), labels (n,)."""
    f = np.asarray(features, dtype=np.float64)
    y, c = _labels(labels, f.shape[0])
    n = y.size
    correct = 0
    for block in np.array_split(np.arange(n), folds):
        train = np.ones(n, dtype=bool)
        train[block] = False
        mean, sd = f[train].mean(axis=0), f[train].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        w = fit_logistic((f[train] - mean) / sd, y[train], c)
        logits = np.hstack([(f[block] - mean) / sd, np.ones((block.size, 1))]) @ w
        correct += int(np.sum(np.argmax(logits, axis=1) == y[block]))
    return correct / n


def all_scores(features: np.ndarray, probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Every score of `SCORES` for one source model: features (n, D) and probs (n, Z) of the target's training
    rows, labels (n,)."""
    return {
        "leep": leep(probs, labels),
        "nce": nce(probs, labels),
        "logme": logme(features, labels),
        "h_score": h_score(features, labels),
        "source_accuracy": source_accuracy(probs, labels),
        "probe_accuracy": probe_accuracy(features, labels),
    }
