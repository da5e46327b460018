"""Turn per-repeat test accuracies and learning curves into honest, JSON-ready statistics.

One job: summarise arms and compare them with a baseline (PROTOCOL.md section 5). Pure
numpy/scipy, no TensorFlow, no plotting, no file I/O. Every random quantity takes an explicit
integer ``seed``. Results are plain dicts of Python ``float``/``int``/``str``/``None`` (never numpy
scalars, never NaN) so they can go straight into ``json.dump``; where a statistic is undefined the
value is ``None`` and the docstring says when. The one exception is :func:`curve_band`, which returns
numpy arrays because it only feeds plots.

Shapes: R = repeats of an arm, E = training epochs, N = number of runs, G = number of groups.
"""

from __future__ import annotations

import contextlib
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as st

__all__ = [
    "describe",
    "nested_describe",
    "nested_compare",
    "nested_mean_ci",
    "cluster_se",
    "design_effect",
    "binomial_se",
    "holm",
    "compare_to_baseline",
    "compare_arms",
    "curve_band",
    "transfer_benefits",
    "variance_components",
    "rank_arms_per_group",
]

# Tolerance when comparing accuracies that are multiples of 1/500 with 0.95 * final accuracy:
# 0.95 * 0.8 is 0.7600000000000001 in floating point, which must still count as reached by 0.76.
_REACH_TOL = 1e-12


# ----------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet():
    """Silence scipy inside a call whose output we check ourselves.

    scipy warns on degenerate input (constant samples, zero variance); every caller here
    detects that case explicitly and returns a fallback or None, so the warning is noise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _as_1d(values, name: str) -> np.ndarray:
    """Validate a non-empty, finite 1-D array (shape (n,)) and return it as float64."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one repeat")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _as_counts(values, name: str, n: int) -> np.ndarray:
    """Validate integer correct counts of shape (n,) matching the accuracies they belong to."""
    arr = _as_1d(values, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} has {arr.size} entries but its accuracies have {n}")
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must be integer correct counts, not accuracies")
    return arr.astype(np.int64)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _opt_float(x) -> float | None:
    """Python float, or None where the value is not finite (never leak NaN into JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _exact_mean(x: np.ndarray) -> float:
    """Mean of shape (n,), exactly the value for a constant sample (np.mean can be an ulp off,
    which would turn zero spread into 1e-33 and a ratio of two such crumbs into a bogus ICC)."""
    return float(x[0]) if np.ptp(x) == 0 else float(np.mean(x))


def _sum_sq(x: np.ndarray) -> float:
    """Sum of squared deviations from the mean of shape (n,), exactly 0 for a constant sample."""
    return 0.0 if np.ptp(x) == 0 else float(np.sum((x - x.mean()) ** 2))


def _bootstrap_ci(
    samples: tuple[np.ndarray, ...],
    statistic: Callable,
    point: float,
    *,
    rng: np.random.Generator,
    confidence: float,
    n_resamples: int,
    method: str = "BCa",
) -> tuple[float | None, float | None]:
    """Bootstrap CI of ``statistic`` over independent 1-D samples, robust to degenerate data.

    - some sample has fewer than 2 runs: no CI, (None, None);
    - every sample constant: the statistic cannot vary, so the CI is (point, point) exactly
      (scipy's BCa would return NaN, or a low a few ulps above high);
    - BCa not finite or inverted: fall back to the percentile interval of the same resamples.
    """
    if any(s.size < 2 for s in samples):
        return None, None
    if all(np.ptp(s) == 0 for s in samples):
        return point, point
    common = dict(vectorized=True, paired=False, confidence_level=confidence)
    with _quiet():
        res = st.bootstrap(
            samples, statistic, n_resamples=n_resamples, method=method, rng=rng, **common
        )
        low, high = res.confidence_interval
        if method != "percentile" and not (np.isfinite(low) and np.isfinite(high) and low <= high):
            res = st.bootstrap(
                samples, statistic, n_resamples=0, method="percentile", bootstrap_result=res, rng=rng, **common
            )
            low, high = res.confidence_interval
    return _opt_float(low), _opt_float(high)


def _mean_stat(x, axis=-1):
    return np.mean(x, axis=axis)


def _diff_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _a12_stat(a, b, axis=-1):
    """Vargha-Delaney A12 of a over b along ``axis``, via rank sums (ties get mid-ranks).

    A12 = (R_a - n(n+1)/2) / (n m) = U_a / (n m) = P(a > b) + 0.5 P(a = b). Rank-based, so
    memory is O(n + m) per resample instead of O(n m) for the pairwise comparison.
    """
    a = np.moveaxis(np.asarray(a, dtype=float), axis, -1)
    b = np.moveaxis(np.asarray(b, dtype=float), axis, -1)
    n, m = a.shape[-1], b.shape[-1]
    ranks = st.rankdata(np.concatenate([a, b], axis=-1), axis=-1)
    u_a = ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2.0
    return u_a / (n * m)


def _mean_ci(values: np.ndarray, *, seed: int, confidence: float, n_resamples: int) -> dict:
    """{mean, ci_low, ci_high} of one sample of shape (n,): BCa bootstrap CI of the mean."""
    mean = _exact_mean(values)
    rng = np.random.default_rng(seed)
    low, high = _bootstrap_ci(
        (values,), _mean_stat, mean, rng=rng, confidence=confidence, n_resamples=n_resamples
    )
    return {"mean": mean, "ci_low": low, "ci_high": high}


# ----------------------------------------------------------------------------- one arm


def describe(values, *, seed: int, confidence: float = 0.95, n_resamples: int = 9999) -> dict:
    """Summarise the test accuracies of one arm, values shape (R,).

    Keys: n, mean, std, median, q1, q3, iqr, iqm, min, max, ci_low, ci_high. std uses ddof=1;
    quartiles use numpy's linear interpolation; iqm is the mean of the middle 50%
    (scipy.stats.trim_mean(values, 0.25)), robust to the few collapsed runs an arm can have;
    ci_low/ci_high are the BCa bootstrap CI of the mean (``seed`` -> numpy default_rng).

    Undefined values are None, never NaN: with R=1, std, ci_low and ci_high are None (no spread
    can be estimated from one run). When all runs are identical the CI is (value, value), since
    every resample has the same mean. R=2 gives a (crude) bootstrap CI. R=0 raises ValueError.
    """
    _check_confidence(confidence)
    x = _as_1d(values, "values")
    q1, median, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    if n_resamples:
        summary = _mean_ci(x, seed=seed, confidence=confidence, n_resamples=n_resamples)
    else:  # the caller brings its own interval (nested runs)
        summary = {"mean": _exact_mean(x), "ci_low": None, "ci_high": None}
    constant = np.ptp(x) == 0  # report exact 0 / the value, not an ulp of rounding noise
    return {
        "n": int(x.size),
        "mean": summary["mean"],
        "std": None if x.size == 1 else 0.0 if constant else float(np.std(x, ddof=1)),
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "iqm": summary["mean"] if constant else float(st.trim_mean(x, 0.25)),
        "min": float(x.min()),
        "max": float(x.max()),
        "ci_low": summary["ci_low"],
        "ci_high": summary["ci_high"],
    }


def binomial_se(p: float, n_test: int) -> float:
    """Binomial standard error sqrt(p(1-p)/n_test) of one accuracy p on n_test rows.

    This is the noise of a single run's test accuracy from the finite test set alone
    (about 0.018 at p=0.8, n_test=500), to print beside the table.
    """
    if n_test <= 0:
        raise ValueError(f"n_test must be positive, got {n_test}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a proportion in [0, 1], got {p}")
    return float(math.sqrt(p * (1.0 - p) / n_test))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni step-down adjusted p-values, shape (k,) -> list of length k.

    The i-th smallest of the m non-None p-values becomes max_{j<=i} min(1, (m-j+1) p_(j)):
    monotone in the raw p-values, capped at 1, returned in input order. None entries (tests
    that could not be run) are skipped, do not count towards m, and stay None.
    """
    present = [(i, float(p)) for i, p in enumerate(pvalues) if p is not None]
    for i, p in present:
        if not 0.0 <= p <= 1.0:  # also rejects NaN
            raise ValueError(f"p-value at position {i} is not in [0, 1]: {p}")
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (i, p) in enumerate(sorted(present, key=lambda ip: ip[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


# ----------------------------------------------------------------------------- arm vs baseline


def _welch_p(a: np.ndarray, b: np.ndarray) -> float | None:
    """Welch t-test p-value; None if a sample has one run or both have zero variance."""
    if a.size < 2 or b.size < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return None
    with _quiet():
        return _opt_float(st.ttest_ind(a, b, equal_var=False).pvalue)


def _mwu_p(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """Two-sided tie-corrected asymptotic Mann-Whitney p on correct counts; 1.0 if all tied."""
    if np.ptp(np.concatenate([a_correct, b_correct])) == 0:
        return 1.0
    with _quiet():
        res = st.mannwhitneyu(
            a_correct, b_correct, alternative="two-sided", method="asymptotic", use_continuity=True
        )
    return float(res.pvalue)


def _hedges_g(a: np.ndarray, b: np.ndarray) -> float | None:
    """Hedges' g = J (mean_a - mean_b) / pooled SD, J = 1 - 3/(4(n+m)-9); None if undefined."""
    n, m = a.size, b.size
    if n + m < 4:
        return None
    ss = _sum_sq(a) + _sum_sq(b)
    pooled_sd = math.sqrt(ss / (n + m - 2))
    if pooled_sd == 0.0:
        return None
    j = 1.0 - 3.0 / (4.0 * (n + m) - 9.0)
    return float(j * (_exact_mean(a) - _exact_mean(b)) / pooled_sd)


def compare_to_baseline(
    arm,
    baseline,
    arm_correct,
    baseline_correct,
    *,
    seed: int,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> dict:
    """Compare one arm with the baseline; arm (n,), baseline (m,) accuracies, *_correct the counts.

    Keys: diff_mean, diff_ci_low, diff_ci_high, a12, a12_ci_low, a12_ci_high, cliffs_delta,
    hedges_g, welch_p, mwu_p, n_arm, n_baseline.

    - diff: mean(arm) - mean(baseline), BCa bootstrap CI resampling the two samples
      independently (percentile fallback when BCa degenerates; (d, d) when both are constant).
    - a12: Vargha-Delaney A12 = U/(n m) = P(arm > baseline) + 0.5 P(tie), the probability that a
      run of the arm beats a run of the baseline; computed on the integer correct counts so ties
      are exact. Its CI is a *percentile* bootstrap (A12 is bounded and discrete; BCa's
      acceleration is unstable there). cliffs_delta = 2 a12 - 1.
    - hedges_g: small-sample corrected standardised difference; None if n+m<4 or pooled SD is 0.
    - welch_p: Welch t-test on accuracies; None if a sample has one run or both have zero
      variance (the t statistic is 0/0 or +-inf/0 there, not evidence).
    - mwu_p: two-sided asymptotic Mann-Whitney U with tie and continuity correction on the
      correct counts (accuracies tie heavily on a 500-row test set); 1.0 if every count is equal.

    CIs are None when a sample has a single run. ``seed`` drives numpy default_rng, which is
    split into independent streams for the two bootstraps.
    """
    _check_confidence(confidence)
    a = _as_1d(arm, "arm")
    b = _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size)
    diff_rng, a12_rng = np.random.default_rng(seed).spawn(2)

    diff = _exact_mean(a) - _exact_mean(b)
    diff_low, diff_high = _bootstrap_ci(
        (a, b), _diff_of_means, diff, rng=diff_rng, confidence=confidence, n_resamples=n_resamples
    )
    a12 = float(_a12_stat(a_correct, b_correct))
    a12_low, a12_high = _bootstrap_ci(
        (a_correct.astype(float), b_correct.astype(float)),
        _a12_stat,
        a12,
        rng=a12_rng,
        confidence=confidence,
        n_resamples=n_resamples,
        method="percentile",
    )
    return {
        "diff_mean": diff,
        "diff_ci_low": diff_low,
        "diff_ci_high": diff_high,
        "a12": a12,
        "a12_ci_low": a12_low,
        "a12_ci_high": a12_high,
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": _hedges_g(a, b),
        "welch_p": _welch_p(a, b),
        "mwu_p": _mwu_p(a_correct, b_correct),
        "n_arm": int(a.size),
        "n_baseline": int(b.size),
    }


def _arm_seed(seed: int, arm: str) -> int:
    """Seed for one arm's comparison, derived from (seed, arm name).

    Keyed by name rather than position so an arm's CIs do not change when other arms are
    added, removed or reordered.
    """
    entropy = [int(seed), zlib.crc32(arm.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


MWU_VERDICT = "Mann-Whitney U on correct counts (tie-corrected), direction by A12"
NESTED_VERDICT = "Welch t of per-source means vs baseline runs, direction by the difference of means"


def compare_arms(
    accuracies: Mapping[str, np.ndarray],
    correct: Mapping[str, np.ndarray],
    baseline: str,
    *,
    seed: int,
    groups: Mapping[str, np.ndarray] | None = None,
    n_test: int | None = None,
    alpha: float = 0.05,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> list[dict]:
    """Compare every arm (in dict order) with ``baseline``; each value has shape (R_arm,).

    One row per non-baseline arm: {"arm", "baseline", **compare_to_baseline(...), "welch_p_holm",
    "mwu_p_holm", "verdict"}. Holm adjusts across the arms compared, separately for Welch and
    Mann-Whitney. Each arm uses its own seed derived from (seed, arm name) by numpy SeedSequence.

    Verdict: "better" if mwu_p_holm < alpha and a12 > 0.5, "worse" if mwu_p_holm < alpha and
    a12 < 0.5, else "no evidence". The rank test drives it because the standalone arm has a few
    collapsed runs: means, SDs and t-tests are dominated by those outliers, whereas P(arm beats
    baseline) is what a user choosing an arm cares about and is robust to them.

    groups: per arm, the source index of each run. An arm whose runs come from K > 1 source models is
    compared by `nested_compare` instead: its CIs come from a two-stage bootstrap and its verdict from
    Welch's t on the K per-source means (the rank test on K x R pooled runs would count nested runs as
    independent and call noise significant; see tests/test_stats_nested.py). Every row says which test
    its verdict used (verdict_test) and carries its p (verdict_p) and Holm-adjusted p (verdict_p_holm),
    Holm being applied across all arms on the verdict's own p-values.
    """
    if baseline not in accuracies:
        raise ValueError(f"baseline arm {baseline!r} not in accuracies (arms: {list(accuracies)})")
    missing = [name for name in accuracies if name not in correct]
    if missing:
        raise ValueError(f"correct counts missing for arms {missing}")
    rows = []
    for name, values in accuracies.items():
        if name == baseline:
            continue
        arm_groups = None if groups is None else groups.get(name)
        if arm_groups is not None and np.unique(arm_groups).size > 1:
            result = nested_compare(values, accuracies[baseline], correct[name], correct[baseline], arm_groups,
                                    seed=_arm_seed(seed, name), n_test=n_test, confidence=confidence)
            result.update(verdict_test=NESTED_VERDICT, verdict_p=result["welch_p"])
        else:
            result = compare_to_baseline(
                values,
                accuracies[baseline],
                correct[name],
                correct[baseline],
                seed=_arm_seed(seed, name),
                confidence=confidence,
                n_resamples=n_resamples,
            )
            result.update(n_sources=1 if arm_groups is not None else None, icc=None, design_effect=None,
                          n_effective=None, verdict_test=MWU_VERDICT, verdict_p=result["mwu_p"])
        rows.append({"arm": name, "baseline": baseline, **result})
    for key in ("welch_p", "mwu_p", "verdict_p"):
        for row, adjusted in zip(rows, holm([row[key] for row in rows])):
            row[f"{key}_holm"] = adjusted
    for row in rows:
        p = row["verdict_p_holm"]
        direction = (row["diff_mean"] if row["verdict_test"] == NESTED_VERDICT else row["a12"] - 0.5)
        if p is not None and p < alpha and direction > 0:
            row["verdict"] = "better"
        elif p is not None and p < alpha and direction < 0:
            row["verdict"] = "worse"
        else:
            row["verdict"] = "no evidence"
    return rows


# ----------------------------------------------------------------------------- learning curves


def _as_curves(curves, name: str) -> np.ndarray:
    """Validate finite curves of shape (R, C) with R >= 1 and C >= 1."""
    arr = np.asarray(curves, dtype=float)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have shape (repeats, epochs) with both >= 1, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def curve_band(curves, confidence: float = 0.95) -> dict:
    """Per-epoch mean and t-based CI of the mean for curves (R, E) -> arrays of shape (E,).

    low/high = mean -+ t_{(1+confidence)/2, R-1} * sd / sqrt(R). With R=1 there is no spread,
    so low = high = mean. Returns numpy arrays (not JSON): it only feeds the learning-curve plot.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    repeats = c.shape[0]
    mean = c.mean(axis=0)
    if repeats == 1:
        return {"mean": mean, "low": mean.copy(), "high": mean.copy()}
    half = st.t.ppf((1.0 + confidence) / 2.0, repeats - 1) * c.std(axis=0, ddof=1) / math.sqrt(repeats)
    return {"mean": mean, "low": mean - half, "high": mean + half}


def transfer_benefits(curves, *, seed: int, confidence: float = 0.95, n_resamples: int = 2000) -> dict:
    """Torrey & Shavlik's benefits of transfer from test-accuracy curves of shape (R, E+1).

    Column 0 is the accuracy before any target training, column e the accuracy after epoch e.
    Per repeat: "start" = column 0 (higher start); "epochs_to_95" = first epoch e >= 0 whose
    accuracy is >= 0.95 * that repeat's final accuracy (higher slope = fewer epochs);
    "auc" = mean over columns 0..E (normalised area, accuracy units); "asymptote" = last column.
    Each becomes {mean, ci_low, ci_high} with a BCa bootstrap CI of the mean across repeats
    (None with R=1; (v, v) when all repeats agree). All four use the same ``seed``, i.e. the
    same resampled repeats.
    """
    _check_confidence(confidence)
    c = _as_curves(curves, "curves")
    if np.any(c < 0):
        raise ValueError("curves must be accuracies (>= 0)")
    final = c[:, -1]
    reached = c >= 0.95 * final[:, None] - _REACH_TOL  # the last column always qualifies
    per_repeat = {
        "start": c[:, 0],
        "epochs_to_95": np.argmax(reached, axis=1).astype(float),
        "auc": c.mean(axis=1),
        "asymptote": final,
    }
    return {
        name: _mean_ci(values, seed=seed, confidence=confidence, n_resamples=n_resamples)
        for name, values in per_repeat.items()
    }


# ----------------------------------------------------------------------------- source models


def variance_components(values, groups) -> dict:
    """One-way random-effects ANOVA of repeats nested in source models; values, groups shape (N,).

    Keys: n_groups, n_per_group (mean group size), between_var, within_var, total_var, icc.
    Method of moments: within_var = MSW, between_var = max(0, (MSB - MSW) / n0) with
    n0 = (N - sum n_i^2 / N) / (G - 1) (unbalanced groups allowed), total_var = between + within,
    icc = between / total (the share of run-to-run variance due to the source model).

    - one group: the between-source variance cannot be estimated; between_var is reported as 0.0
      and icc is None.
    - every group holds a single run: within_var, between_var and icc are None and total_var
      is the plain sample variance (the two components cannot be separated).
    - icc is None when total_var is 0.
    """
    x = _as_1d(values, "values")
    g = np.asarray(groups)
    if g.shape != x.shape:
        raise ValueError(f"groups shape {g.shape} does not match values shape {x.shape}")
    labels, index = np.unique(g, return_inverse=True)
    n_total, n_groups = x.size, labels.size
    members = [x[index == k] for k in range(n_groups)]
    sizes = np.array([m.size for m in members], dtype=float)
    group_means = np.array([_exact_mean(m) for m in members])
    ss_within = sum(_sum_sq(m) for m in members)
    base = {"n_groups": int(n_groups), "n_per_group": float(n_total / n_groups)}

    if n_total == n_groups:
        total = float(np.var(x, ddof=1)) if n_total > 1 else None
        return {**base, "between_var": None, "within_var": None, "total_var": total, "icc": None}
    within = ss_within / (n_total - n_groups)
    if n_groups == 1:
        return {**base, "between_var": 0.0, "within_var": within, "total_var": within, "icc": None}
    spread = 0.0 if np.ptp(group_means) == 0 else np.sum(sizes * (group_means - x.mean()) ** 2)
    ms_between = float(spread) / (n_groups - 1)
    n0 = (n_total - np.sum(sizes**2) / n_total) / (n_groups - 1)
    between = max(0.0, float((ms_between - within) / n0))
    total = between + within
    return {
        **base,
        "between_var": between,
        "within_var": within,
        "total_var": total,
        "icc": between / total if total > 0 else None,
    }


def _py(value):
    """numpy scalar -> plain Python scalar, so group labels serialise to JSON."""
    return value.item() if isinstance(value, np.generic) else value


def rank_arms_per_group(
    accuracies_by_arm: Mapping[str, np.ndarray], groups_by_arm: Mapping[str, np.ndarray]
) -> list[dict]:
    """Best arm per source model; each arm's accuracies and groups have shape (R_arm,).

    Returns [{"group": g, "best_arm": name, "means": {arm: mean}}], groups in sorted order.
    Shows whether the ranking of arms flips between source models. An arm missing from
    ``groups_by_arm`` (e.g. standalone, which uses no source) or without runs in group g is
    left out of that group. Ties for best go to the arm listed first.
    """
    per_arm: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, values in accuracies_by_arm.items():
        if name not in groups_by_arm:
            continue
        x = _as_1d(values, f"accuracies of {name!r}")
        g = np.asarray(groups_by_arm[name])
        if g.shape != x.shape:
            raise ValueError(f"groups of {name!r} have shape {g.shape}, accuracies {x.shape}")
        per_arm[name] = (x, g)
    all_groups = sorted({_py(v) for _, g in per_arm.values() for v in g})
    rows = []
    for group in all_groups:
        means = {
            name: _exact_mean(x[g == group]) for name, (x, g) in per_arm.items() if np.any(g == group)
        }
        best = max(means, key=means.__getitem__)  # max keeps the first of equal means
        rows.append({"group": group, "best_arm": best, "means": means})
    return rows


# ----------------------------------------------------------------------------- nested runs

# Runs of a transfer arm are nested in source models (K sources x R runs each), and nearly all of their
# variance is between sources, so the source model is the unit of replication: an arm of K x R runs carries
# about K independent observations. The functions below resample and test at that level. Shapes: values (n,)
# and groups (n,) give each run's accuracy and source index; K = number of distinct groups.

NESTED_RESAMPLES = 4000
_CHUNK = 500


def _clusters(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs padded per cluster: (K, n_max) values (NaN past each cluster's size) and (K,) sizes."""
    labels, index = np.unique(np.asarray(groups), return_inverse=True)
    sizes = np.bincount(index, minlength=labels.size)
    table = np.full((labels.size, sizes.max()), np.nan)
    order = np.argsort(index, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.arange(values.size) - np.repeat(starts, sizes)
    table[index[order], within] = values[order]
    return table, sizes


def cluster_se(values, groups) -> float | None:
    """Cluster-robust standard error of the mean of all runs; values, groups shape (n,).

    Var = K/(K-1) * sum_c (n_c/N)^2 (mean_c - mean)^2: for balanced clusters the variance of the K cluster
    means over K. None with a single cluster (the between-source spread cannot be estimated).
    """
    x = _as_1d(values, "values")
    table, sizes = _clusters(x, np.asarray(groups))
    k = sizes.size
    if k < 2:
        return None
    means = np.nanmean(table, axis=1)
    weights = sizes / sizes.sum()
    var = k / (k - 1) * np.sum(weights**2 * (means - x.mean()) ** 2)
    return float(math.sqrt(var))


def _two_stage(table: np.ndarray, sizes: np.ndarray, rng: np.random.Generator, b: int) -> tuple[np.ndarray, np.ndarray]:
    """b two-stage resamples of padded clusters (K, n_max): sources with replacement, then runs with
    replacement within each chosen source. Returns (b, K, n_max) values (NaN where padding) and (b, K) sizes."""
    k, n_max = table.shape
    picked = rng.integers(0, k, size=(b, k))
    size = sizes[picked]  # (b, K)
    within = np.floor(rng.random((b, k, n_max)) * size[..., None]).astype(np.int64)
    values = table[picked[..., None], within]
    values[np.arange(n_max)[None, None, :] >= size[..., None]] = np.nan
    return values, size


def _resampled_mean_and_se(values: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: the mean of all runs and its cluster-robust SE; values (b, K, n_max), size (b, K)."""
    k = size.shape[1]
    sums = np.nansum(values, axis=2)
    total = size.sum(axis=1)
    mean = sums.sum(axis=1) / total
    cluster_means = sums / size
    weights = size / total[:, None]
    var = k / (k - 1) * np.sum(weights**2 * (cluster_means - mean[:, None]) ** 2, axis=1)
    return mean, np.sqrt(var)


def _counts_a12(arm: np.ndarray, base: np.ndarray, length: int) -> np.ndarray:
    """A12 of arm over base for many resamples at once from integer values in [0, length): arm (b, n_a) and
    base (b, n_b) with -1 marking no value. Works on histograms, so the cost is O(b x length), not a sort."""
    def hist(v):
        b = v.shape[0]
        ok = v >= 0
        flat = (np.arange(b)[:, None] * length + np.where(ok, v, 0))[ok]
        return np.bincount(flat, minlength=b * length).reshape(b, length).astype(float)

    ha, hb = hist(arm), hist(base)
    below = np.cumsum(hb, axis=1) - hb  # baseline values strictly below each value
    wins = np.sum(ha * (below + 0.5 * hb), axis=1)
    return wins / (ha.sum(axis=1) * hb.sum(axis=1))


def _t_interval(point: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    half = float(st.t.ppf((1 + confidence) / 2, df)) * se
    return point - half, point + half


def nested_mean_ci(values, groups, *, seed: int, confidence: float = 0.95,
                   n_resamples: int = NESTED_RESAMPLES) -> dict:
    """{mean, ci_low, ci_high, se}: the mean of all runs with a CI from its two-stage bootstrap SE.

    Two-stage: resample source models with replacement, then runs within each. The interval is
    mean +- t(K-1) x se, se the bootstrap SD of the resampled means scaled by K/(K-1) (a bootstrap of K
    clusters underestimates their variance by (K-1)/K). Percentile and bootstrap-t intervals of the same
    resamples cover too rarely with few sources (91.5% at K = 5 in the simulation of tests/test_stats_nested.py),
    because they treat a spread estimated from K cluster means as known; the t quantile with K - 1 degrees
    of freedom does not.
    """
    _check_confidence(confidence)
    x = _as_1d(values, "values")
    table, sizes = _clusters(x, np.asarray(groups))
    k, mean = sizes.size, float(x.mean())
    if k < 2:
        return {"mean": mean, "ci_low": None, "ci_high": None, "se": None}
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, n_resamples, _CHUNK):
        v, size = _two_stage(table, sizes, rng, min(_CHUNK, n_resamples - start))
        means.append(_resampled_mean_and_se(v, size)[0])
    se = float(np.std(np.concatenate(means), ddof=1) * math.sqrt(k / (k - 1)))
    if se == 0.0:
        return {"mean": mean, "ci_low": mean, "ci_high": mean, "se": 0.0}
    low, high = _t_interval(mean, se, k - 1, confidence)
    return {"mean": mean, "ci_low": low, "ci_high": high, "se": se}


def design_effect(groups, icc: float | None) -> float | None:
    """1 + (m - 1) ICC, m the mean runs per source: how many times fewer independent observations an arm of
    nested runs holds than its run count (Kish's design effect)."""
    if icc is None:
        return None
    labels = np.unique(np.asarray(groups))
    m = np.asarray(groups).size / labels.size
    return float(1.0 + (m - 1.0) * icc)


def nested_describe(values, groups, *, seed: int, confidence: float = 0.95,
                    n_resamples: int = NESTED_RESAMPLES) -> dict:
    """`describe` for runs nested in K > 1 source models: the same keys, the CI of the mean from the two-stage
    bootstrap-t, plus n_sources, icc, design_effect and n_effective (n / design effect)."""
    x = _as_1d(values, "values")
    out = describe(x, seed=seed, confidence=confidence, n_resamples=0)
    ci = nested_mean_ci(x, groups, seed=seed, confidence=confidence, n_resamples=n_resamples)
    out["ci_low"], out["ci_high"] = ci["ci_low"], ci["ci_high"]
    vc = variance_components(x, groups)
    deff = design_effect(groups, vc["icc"])
    out.update(n_sources=vc["n_groups"], icc=vc["icc"], design_effect=deff,
               n_effective=None if deff is None else float(x.size / deff))
    return out


def nested_compare(arm, baseline, arm_correct, baseline_correct, groups, *, seed: int, n_test: int | None = None,
                   confidence: float = 0.95, n_resamples: int = NESTED_RESAMPLES, a12_ci: bool = True) -> dict:
    """Compare an arm of nested runs with an independent baseline; arm, arm_correct, groups (n,); baseline,
    baseline_correct (m,). The same keys as `compare_to_baseline`, at the source-model level:

    - diff CI: diff +- t(df) x se, se from a two-stage bootstrap of the arm (sources, then runs) and a plain
      bootstrap of the baseline, df by Welch-Satterthwaite with K - 1 for the arm (see nested_mean_ci);
    - A12 = P(arm run beats baseline run) on correct counts, its CI the percentile interval of the same
      two-stage resamples (computed on count histograms, so it scales to thousands of runs);
    - welch_p: Welch's t-test of the K per-source means against the baseline's runs: the test behind the
      verdict, because a source model, not a run, is an independent observation of the arm;
    - mwu_p: the pooled Mann-Whitney p, which treats the K x R runs as independent: descriptive only.
    a12_ci=False skips A12's interval (None), for simulations that need only the difference.
    """
    _check_confidence(confidence)
    a, b = _as_1d(arm, "arm"), _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size)
    groups = np.asarray(groups)
    table, sizes = _clusters(a, groups)
    counts_table, _ = _clusters(a_correct.astype(float), groups)
    k = sizes.size
    diff = float(a.mean() - b.mean())
    a12 = float(_a12_stat(a_correct, b_correct))
    length = int(max(a_correct.max(), b_correct.max(), n_test or 0)) + 1
    rng = np.random.default_rng(seed)
    arm_means, base_means, a12s = [], [], []
    for start in range(0, n_resamples, _CHUNK):
        size_b = min(_CHUNK, n_resamples - start)
        picked = rng.integers(0, k, size=(size_b, k))
        within = np.floor(rng.random((size_b, k, table.shape[1])) * sizes[picked][..., None]).astype(np.int64)
        pad = np.arange(table.shape[1])[None, None, :] >= sizes[picked][..., None]
        va = table[picked[..., None], within]
        va[pad] = np.nan
        base_idx = rng.integers(0, b.size, size=(size_b, b.size))
        arm_means.append(_resampled_mean_and_se(va, sizes[picked])[0])
        base_means.append(b[base_idx].mean(axis=1))
        if a12_ci:
            ca = counts_table[picked[..., None], within]
            ca[pad] = -1
            a12s.append(_counts_a12(ca.reshape(size_b, -1).astype(np.int64), b_correct[base_idx], length))
    # bootstrap variances of the two means, each scaled up by n/(n-1) (a bootstrap of n units underestimates
    # the variance by (n-1)/n), and Welch-Satterthwaite degrees of freedom: K - 1 for the arm, m - 1 for the
    # baseline (see nested_mean_ci for why a t quantile and not the bootstrap's own quantiles)
    var_a = float(np.var(np.concatenate(arm_means), ddof=1)) * k / (k - 1)
    var_b = float(np.var(np.concatenate(base_means), ddof=1)) * b.size / (b.size - 1) if b.size > 1 else 0.0
    se = math.sqrt(var_a + var_b)
    if se > 0:
        df = (var_a + var_b) ** 2 / (var_a**2 / (k - 1) + (var_b**2 / (b.size - 1) if b.size > 1 else 0.0))
        diff_low, diff_high = _t_interval(diff, se, df, confidence)
    else:
        diff_low = diff_high = diff
    a12_low, a12_high = (np.quantile(np.concatenate(a12s), [(1 - confidence) / 2, (1 + confidence) / 2])
                         if a12_ci else (None, None))
    source_means = np.nanmean(table, axis=1)
    vc = variance_components(a, groups)
    deff = design_effect(groups, vc["icc"])
    return {
        "diff_mean": diff,
        "diff_ci_low": float(diff_low),
        "diff_ci_high": float(diff_high),
        "a12": a12,
        "a12_ci_low": _opt_float(a12_low),
        "a12_ci_high": _opt_float(a12_high),
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": _hedges_g(a, b),
        "welch_p": _welch_p(source_means, b),
        "mwu_p": _mwu_p(a_correct, b_correct),
        "n_arm": int(a.size),
        "n_baseline": int(b.size),
        "n_sources": int(k),
        "icc": vc["icc"],
        "design_effect": deff,
        "n_effective": None if deff is None else float(a.size / deff),
    }
