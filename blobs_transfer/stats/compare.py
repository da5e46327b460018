"""An arm against the baseline: difference of means, A12, effect sizes, the verdict's test, Holm across arms.

Independent runs get bootstrap CIs and a tie-corrected Mann-Whitney verdict; an arm nested in K > 1 source
models gets two-stage bootstrap t intervals and a clustered Brunner-Munzel verdict (the source model as unit).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as st

from ._common import (
    _as_1d,
    _as_counts,
    _as_groups,
    _check_confidence,
    _exact_mean,
    _opt_float,
    _quiet,
    _sum_sq,
    _t_interval,
    _welch_df,
)
from .bootstrap import (
    _a12_stat,
    _bootstrap_ci,
    _chunks,
    _diff_of_means,
    _exact_path,
    _interval_from,
    _mean_jackknife,
    _multinomial,
    _resampled_means,
)
from .nested import _nested_keys, _source_means, _Sources

MWU_VERDICT = "Mann-Whitney U (tie-corrected, on correct counts)"
NESTED_VERDICT = "clustered Brunner-Munzel on A12 (source model as unit)"



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


def _same_partition(*pairs: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether accuracies and correct counts (pairs of shape (n,)) determine each other (acc = count / n_test):
    then one resampled histogram on the counts serves both the difference of means and A12."""
    acc = np.concatenate([p[0] for p in pairs])
    cnt = np.concatenate([p[1] for p in pairs]).astype(float)
    n_pairs = np.unique(np.stack([acc, cnt], axis=1), axis=0).shape[0]
    return n_pairs == np.unique(acc).size == np.unique(cnt).size


def _grid(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values (D,) of a (n,) and b (m,) together, and each sample's grid positions."""
    grid, index = np.unique(np.concatenate([a, b]), return_inverse=True)
    index = index.reshape(-1)
    return grid, index[: a.size], index[a.size :]


def _resample_on_grid(index: np.ndarray, n_grid: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """size bootstrap resamples of a sample given by its grid positions (n,) -> histograms (size, D)."""
    h = np.bincount(index, minlength=n_grid)
    cols = np.flatnonzero(h)
    out = np.zeros((size, n_grid))
    out[:, cols] = _multinomial(h[cols], size, rng)
    return out


def _independent_cis_scalable(a, b, a_correct, b_correct, diff, a12, *, diff_rng, a12_rng, confidence, n_resamples):
    """(diff_low, diff_high, a12_low, a12_high) for independent samples from histogram resamples.

    The difference of means gets BCa (acceleration from the closed-form jackknife of each mean), A12 the
    percentile interval, as on the exact path. When accuracies and counts determine each other (the usual
    case, accuracy = count / n_test) both statistics come from the same resampled count histograms
    (``diff_rng``); otherwise each has its own resamples (``diff_rng``, ``a12_rng``).
    """
    n, m = a.size, b.size
    num_a, den_a = _mean_jackknife(a)
    num_b, den_b = _mean_jackknife(b)
    accel = (num_a - num_b) / (6.0 * (den_a + den_b) ** 1.5)  # b enters the difference with a minus sign
    theta_diff = np.empty(n_resamples)
    theta_a12 = np.empty(n_resamples)
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float))
    shared = _same_partition((a, a_correct), (b, b_correct))
    if shared:
        acc_of = np.empty(grid.size)
        acc_of[ia], acc_of[ib] = a, b
    else:
        theta_diff = _resampled_means(a, n_resamples, diff_rng) - _resampled_means(b, n_resamples, diff_rng)
    for start, size in _chunks(n_resamples, grid.size):
        rng = diff_rng if shared else a12_rng
        ha = _resample_on_grid(ia, grid.size, size, rng)
        hb = _resample_on_grid(ib, grid.size, size, rng)
        theta_a12[start : start + size] = np.sum(ha * (np.cumsum(hb, axis=1) - 0.5 * hb), axis=1) / (n * m)
        if shared:
            theta_diff[start : start + size] = ha @ acc_of / n - hb @ acc_of / m
    diff_low, diff_high = _interval_from(theta_diff, diff, confidence, accel)
    a12_low, a12_high = _interval_from(theta_a12, a12, confidence, None)
    return diff_low, diff_high, a12_low, a12_high


def _compare_independent(a, b, a_correct, b_correct, *, seed, confidence, n_resamples) -> dict:
    """compare_to_baseline for runs treated as independent; see its docstring."""
    diff_rng, a12_rng = np.random.default_rng(seed).spawn(2)
    diff = _exact_mean(a) - _exact_mean(b)
    a12 = float(_a12_stat(a_correct, b_correct))
    if a.size < 2 or b.size < 2:
        diff_low = diff_high = a12_low = a12_high = None
    elif _exact_path(a.size + b.size, n_resamples):
        diff_low, diff_high = _bootstrap_ci(
            (a, b), _diff_of_means, diff, rng=diff_rng, confidence=confidence, n_resamples=n_resamples
        )
        a12_low, a12_high = _bootstrap_ci(
            (a_correct.astype(float), b_correct.astype(float)),
            _a12_stat,
            a12,
            rng=a12_rng,
            confidence=confidence,
            n_resamples=n_resamples,
            method="percentile",
        )
    else:
        diff_low, diff_high, a12_low, a12_high = _independent_cis_scalable(
            a, b, a_correct, b_correct, diff, a12,
            diff_rng=diff_rng, a12_rng=a12_rng, confidence=confidence, n_resamples=n_resamples,
        )
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            diff_low = diff_high = diff
        if np.ptp(a_correct) == 0 and np.ptp(b_correct) == 0:
            a12_low = a12_high = a12
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


def _clustered_brunner_munzel(a_correct: np.ndarray, groups: np.ndarray, b_correct: np.ndarray) -> dict:
    """Test of A12 = 1/2 for an arm of runs nested in K sources, a_correct and groups (N,), against
    independent baseline runs b_correct (m,). Returns {a12, se, df, p}.

    Brunner & Munzel's (2000) test with the arm's variance made cluster-robust (Obuchowski 1997, the
    clustered-data AUC; Datta & Satten 2005 for rank sums): with placements P_i = (#b < a_i + #b = a_i / 2) / m
    of arm run i and Q_j = (#a > b_j + #a = b_j / 2) / N of baseline run j, A12 = mean P = mean Q and

        Var(A12) ~ K/(K-1) sum_c (sum_{i in c} (P_i - A12))^2 / N^2  +  sum_j (Q_j - A12)^2 / (m (m-1)),

    the first term summing each source's placements before squaring (a source, not a run, is the unit).
    t = (A12 - 1/2) / se against Student's t with Welch-Satterthwaite df from K - 1 and m - 1. With one run
    per source it is exactly the Brunner-Munzel test (scipy.stats.brunnermunzel, t distribution).

    se = 0 (complete separation, or all runs tied): no spread to test against, so p comes from the
    tie-corrected Mann-Whitney U on the K per-source mean counts against the baseline's runs (sources as
    units), which still grows with K and m; 1.0 when A12 is exactly 1/2.
    """
    n, m = a_correct.size, b_correct.size
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float))
    ha = np.bincount(ia, minlength=grid.size).astype(float)
    hb = np.bincount(ib, minlength=grid.size).astype(float)
    below_b = np.cumsum(hb) - 0.5 * hb  # #b < v + #b = v / 2
    above_a = n - np.cumsum(ha) + 0.5 * ha  # #a > v + #a = v / 2
    placement_a = below_b[ia] / m
    placement_b = above_a[ib] / n
    a12 = float(ha @ below_b) / (n * m)
    _, source = np.unique(groups, return_inverse=True)
    totals = np.bincount(source.reshape(-1), weights=placement_a - a12)
    k = totals.size
    var_a = k / (k - 1) * float(np.sum(totals**2)) / n**2
    var_b = float(np.sum((placement_b - a12) ** 2)) / (m * (m - 1)) if m > 1 else 0.0
    se = math.sqrt(var_a + var_b)
    if se > 1e-12:
        df = _welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        t = (a12 - 0.5) / se
        return {"a12": a12, "se": se, "df": df, "p": float(2.0 * st.t.sf(abs(t), df))}
    if a12 == 0.5:
        return {"a12": a12, "se": 0.0, "df": None, "p": 1.0}
    means = _source_means(a_correct.astype(float), groups)
    return {"a12": a12, "se": 0.0, "df": None, "p": _mwu_p(means, b_correct.astype(float))}


def _compare_nested(a, b, a_correct, b_correct, groups, *, seed, confidence, n_resamples, a12_ci=True) -> dict:
    """compare_to_baseline for an arm nested in K > 1 sources; see its docstring."""
    n, m = a.size, b.size
    k = int(np.unique(groups).size)
    diff = _exact_mean(a) - _exact_mean(b)
    test = _clustered_brunner_munzel(a_correct, groups, b_correct)
    a12 = test["a12"]
    rng = np.random.default_rng(seed)
    shared = _same_partition((a, a_correct), (b, b_correct))
    # the difference's resamples: on the count grid when counts and accuracies determine each other
    # (accuracy of each grid value in acc_of), otherwise on the accuracies' own grid
    grid, ia, ib = _grid(a_correct.astype(float), b_correct.astype(float)) if shared else _grid(a, b)
    acc_of = np.empty(grid.size)
    acc_of[ia], acc_of[ib] = a, b
    sources = _Sources(ia, groups, grid.size)
    if not shared and a12_ci:  # A12 on its own count grid, with its own two-stage resamples
        cgrid, cia, cib = _grid(a_correct.astype(float), b_correct.astype(float))
        csources = _Sources(cia, groups, cgrid.size)
    else:
        cgrid, cia, cib, csources = grid, ia, ib, sources
    hb_c = np.bincount(cib, minlength=cgrid.size).astype(float)
    ha_c = np.bincount(cia, minlength=cgrid.size).astype(float)
    below_b = np.cumsum(hb_c) - 0.5 * hb_c  # baseline fixed: A12(arm*, b) = hist* @ below_b / (N* m)
    above_a = n - np.cumsum(ha_c) + 0.5 * ha_c  # arm fixed: A12(a, base*) = hist_b* @ above_a / (N m)

    arm_means, base_means = np.empty(n_resamples), np.empty(n_resamples)
    a12_arm, a12_base = np.empty(n_resamples), np.empty(n_resamples)
    for start, size in _chunks(n_resamples, max(sources.width, grid.size)):
        sl = slice(start, start + size)
        arm_hist, totals = sources.resample(size, rng)
        base_hist = _resample_on_grid(ib, grid.size, size, rng)
        arm_means[sl] = arm_hist @ acc_of / totals
        base_means[sl] = base_hist @ acc_of / m
        if a12_ci and shared:
            a12_arm[sl] = arm_hist @ below_b / (totals * m)
            a12_base[sl] = base_hist @ above_a / (n * m)
    if a12_ci and not shared:
        crng = np.random.default_rng([seed, 1])
        for start, size in _chunks(n_resamples, max(csources.width, cgrid.size)):
            sl = slice(start, start + size)
            arm_hist, totals = csources.resample(size, crng)
            a12_arm[sl] = arm_hist @ below_b / (totals * m)
            a12_base[sl] = _resample_on_grid(cib, cgrid.size, size, crng) @ above_a / (n * m)

    def t_ci(point, arm_part, base_part, arm_fixed=False, base_fixed=False):
        # bootstrap variances of the two parts, each scaled by units/(units-1) (a bootstrap of u units has
        # (u-1)/u of their variance), and Welch-Satterthwaite df from K - 1 and m - 1 (see nested_mean_ci);
        # a part that cannot vary (a constant sample) is exactly 0, not the rounding noise of its resamples
        var_a = 0.0 if arm_fixed else float(np.var(arm_part, ddof=1)) * k / (k - 1)
        var_b = 0.0 if base_fixed or m < 2 else float(np.var(base_part, ddof=1)) * m / (m - 1)
        if var_a + var_b <= 0.0:
            return point, point
        df = _welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        return _t_interval(point, math.sqrt(var_a + var_b), df, confidence)

    if n_resamples < 2:
        diff_low = diff_high = a12_low = a12_high = None
    else:
        diff_low, diff_high = t_ci(diff, arm_means, base_means, np.ptp(a) == 0, np.ptp(b) == 0)
        if a12_ci:
            a12_low, a12_high = t_ci(a12, a12_arm, a12_base)
            a12_low, a12_high = max(0.0, a12_low), min(1.0, a12_high)
        else:
            a12_low = a12_high = None
    source_means = _source_means(a, groups)
    return {
        "diff_mean": diff,
        "diff_ci_low": _opt_float(diff_low),
        "diff_ci_high": _opt_float(diff_high),
        "a12": a12,
        "a12_ci_low": _opt_float(a12_low),
        "a12_ci_high": _opt_float(a12_high),
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": _hedges_g(a, b),
        "welch_p": _welch_p(source_means, b),
        "mwu_p": _mwu_p(a_correct, b_correct),
        "n_arm": int(n),
        "n_baseline": int(m),
        "verdict_p": test["p"],
    }


def compare_to_baseline(
    arm,
    baseline,
    arm_correct,
    baseline_correct,
    *,
    seed: int,
    groups=None,
    n_test: int | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
) -> dict:
    """Compare one arm with the baseline; arm (n,), baseline (m,) accuracies, *_correct the counts,
    groups None or the source index of each arm run (n,). The baseline's runs are independent.

    Keys: diff_mean, diff_ci_low, diff_ci_high, a12, a12_ci_low, a12_ci_high, cliffs_delta,
    hedges_g, welch_p, mwu_p, n_arm, n_baseline, n_sources, icc, design_effect, n_effective,
    verdict_test, verdict_p.

    Independent runs (groups None, or one source):

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
      It is the verdict's test: verdict_test = MWU_VERDICT, verdict_p = mwu_p.
    - (n + m) x n_resamples <= 1,000,000: scipy.stats.bootstrap, the same numbers as ever for a seed;
      above, histogram resamples (same intervals up to Monte Carlo error, memory independent of n).

    Arm nested in K > 1 sources (the source model is the unit; ICC near 1 makes K x R runs worth about K):

    - diff CI: diff -+ t_df x se; se^2 = (K/(K-1)) Var*(two-stage bootstrap means of the arm: sources with
      replacement, then runs within each) + (m/(m-1)) Var*(plain bootstrap means of the baseline), df by
      Welch-Satterthwaite from K - 1 and m - 1. The t quantile, not the resamples' percentiles, because a
      spread estimated from K source means is itself uncertain (see :func:`nested_mean_ci`).
    - a12: as above on all runs; its CI is the same construction: A12 -+ t_df x se with the arm's part of
      the variance from A12(two-stage arm resample, baseline) and the baseline's from A12(arm, baseline
      resample), clipped to [0, 1] (the percentile interval of joint resamples covers too rarely at K = 5).
    - verdict_p: the clustered Brunner-Munzel test of A12 = 1/2 (:func:`_clustered_brunner_munzel`),
      verdict_test = NESTED_VERDICT. Why this test: it is about A12 itself, so its p and the verdict's
      direction (A12 vs 1/2) cannot disagree; it is rank-based, so the standalone arm's few collapsed runs
      do not dominate it (why the independent verdict uses Mann-Whitney too); and its variance treats a
      source model as one observation. Welch's t on per-source means tests means instead, is pulled by the
      collapsed runs, and can call an arm significantly better while A12 < 1/2.
    - welch_p: Welch's t on the K per-source means against the baseline's runs (valid at the source
      level; a second opinion about means). mwu_p: the pooled Mann-Whitney on all K x R runs as if
      independent, kept as a descriptive number only: it is anti-conservative for nested runs (tests/
      test_stats_nested.py shows its false-positive rate) and no verdict uses it.
    - hedges_g: on all runs (descriptive).

    CIs are None when a sample has a single run. ``seed`` drives numpy default_rng (split into independent
    streams for the two bootstraps on the independent path).
    """
    _check_confidence(confidence)
    a = _as_1d(arm, "arm")
    b = _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    g = None if groups is None else _as_groups(groups, a.size)
    if g is not None and np.unique(g).size > 1:
        result = _compare_nested(
            a, b, a_correct, b_correct, g, seed=seed, confidence=confidence, n_resamples=n_resamples
        )
        verdict_p = result.pop("verdict_p")
        return {**result, **_nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}
    result = _compare_independent(
        a, b, a_correct, b_correct, seed=seed, confidence=confidence, n_resamples=n_resamples
    )
    return {**result, **_nested_keys(a, g), "verdict_test": MWU_VERDICT, "verdict_p": result["mwu_p"]}


def nested_compare(
    arm,
    baseline,
    arm_correct,
    baseline_correct,
    groups,
    *,
    seed: int,
    n_test: int | None = None,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    a12_ci: bool = True,
) -> dict:
    """:func:`compare_to_baseline` with ``groups`` required; a12_ci=False skips A12's interval (None, None)
    for simulations that need only the difference and the verdict's p (ignored for a single source)."""
    _check_confidence(confidence)
    a = _as_1d(arm, "arm")
    g = _as_groups(groups, a.size)
    if np.unique(g).size < 2 or a12_ci:
        return compare_to_baseline(arm, baseline, arm_correct, baseline_correct, seed=seed, groups=g,
                                   n_test=n_test, confidence=confidence, n_resamples=n_resamples)
    b = _as_1d(baseline, "baseline")
    a_correct = _as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = _as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    result = _compare_nested(a, b, a_correct, b_correct, g, seed=seed, confidence=confidence,
                             n_resamples=n_resamples, a12_ci=False)
    verdict_p = result.pop("verdict_p")
    return {**result, **_nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}


def _arm_seed(seed: int, arm: str) -> int:
    """Seed for one arm's comparison, derived from (seed, arm name).

    Keyed by name rather than position so an arm's CIs do not change when other arms are
    added, removed or reordered.
    """
    entropy = [int(seed), zlib.crc32(arm.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


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
    "mwu_p_holm", "verdict_p_holm", "verdict"}. Holm adjusts across the arms compared, separately
    for Welch, Mann-Whitney and the verdict's own p-values. Each arm uses its own seed derived from
    (seed, arm name) by numpy SeedSequence.

    groups: per arm, the source index of each run (shape (R_arm,)); arms missing from it (e.g. the
    standalone baseline) are independent runs. An arm whose runs come from K > 1 source models is
    compared at the source level (two-stage bootstrap CIs, clustered Brunner-Munzel test: see
    :func:`compare_to_baseline`); every other arm exactly as before, with verdict_p = mwu_p. Every
    row names its test (verdict_test) and carries its p (verdict_p) and Holm-adjusted p
    (verdict_p_holm). n_test, if given, bounds the correct counts (0..n_test).

    Verdict: "better" if verdict_p_holm < alpha and a12 > 0.5, "worse" if verdict_p_holm < alpha
    and a12 < 0.5, else "no evidence". A rank test drives it because the standalone arm has a few
    collapsed runs: means, SDs and t-tests are dominated by those outliers, whereas P(arm beats
    baseline) is what a user choosing an arm cares about and is robust to them. For a nested arm
    the rank test is the clustered one: Mann-Whitney on K x R runs would count nested runs as
    independent and call noise significant (tests/test_stats_nested.py).
    """
    if baseline not in accuracies:
        raise ValueError(f"baseline arm {baseline!r} not in accuracies (arms: {list(accuracies)})")
    missing = [name for name in accuracies if name not in correct]
    if missing:
        raise ValueError(f"correct counts missing for arms {missing}")
    groups = groups or {}
    rows = []
    for name, values in accuracies.items():
        if name == baseline:
            continue
        result = compare_to_baseline(
            values,
            accuracies[baseline],
            correct[name],
            correct[baseline],
            seed=_arm_seed(seed, name),
            groups=groups.get(name),
            n_test=n_test,
            confidence=confidence,
            n_resamples=n_resamples,
        )
        rows.append({"arm": name, "baseline": baseline, **result})
    for key in ("welch_p", "mwu_p", "verdict_p"):
        for row, adjusted in zip(rows, holm([row[key] for row in rows])):
            row[f"{key}_holm"] = adjusted
    for row in rows:
        p = row["verdict_p_holm"]
        if p is not None and p < alpha and row["a12"] > 0.5:
            row["verdict"] = "better"
        elif p is not None and p < alpha and row["a12"] < 0.5:
            row["verdict"] = "worse"
        else:
            row["verdict"] = "no evidence"
    return rows
