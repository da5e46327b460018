"""An arm nested in K > 1 source models against the baseline: two-stage t intervals and a clustered rank test.

The source model is the unit: with ICC near 1 an arm of K x R runs is worth about K observations, so the
intervals resample sources (then runs within them) and the verdict's test counts a source, not a run, as one
observation. The baseline's runs are independent. Shapes: N runs of the arm, K sources, m baseline runs, D
grid points, B resamples.
"""

from __future__ import annotations

import math

import numpy as np

from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.common import (
    exact_mean,
    grid_of,
    opt_float,
    source_index,
    st,
    t_interval,
    welch_df,
)
from blobs_transfer.stats.effects import hedges_g, mwu_p, same_partition, welch_p
from blobs_transfer.stats.nested import source_means
from blobs_transfer.stats.resample import Sample, Stream, resample


def clustered_brunner_munzel(a_correct: np.ndarray, groups: np.ndarray, b_correct: np.ndarray) -> dict:
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
    grid, (ia, ib) = grid_of(a_correct.astype(float), b_correct.astype(float))
    ha = np.bincount(ia, minlength=grid.size).astype(float)
    hb = np.bincount(ib, minlength=grid.size).astype(float)
    below_b = np.cumsum(hb) - 0.5 * hb  # #b < v + #b = v / 2
    above_a = n - np.cumsum(ha) + 0.5 * ha  # #a > v + #a = v / 2
    placement_a = below_b[ia] / m
    placement_b = above_a[ib] / n
    a12 = float(ha @ below_b) / (n * m)
    totals = np.bincount(source_index(groups), weights=placement_a - a12)
    k = totals.size
    var_a = k / (k - 1) * float(np.sum(totals**2)) / n**2
    var_b = float(np.sum((placement_b - a12) ** 2)) / (m * (m - 1)) if m > 1 else 0.0
    se = math.sqrt(var_a + var_b)
    if se > 1e-12:
        df = welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        t = (a12 - 0.5) / se
        return {"a12": a12, "se": se, "df": df, "p": float(2.0 * st.t.sf(abs(t), df))}
    if a12 == 0.5:
        return {"a12": a12, "se": 0.0, "df": None, "p": 1.0}
    _, means = source_means(a_correct.astype(float), groups)
    return {"a12": a12, "se": 0.0, "df": None, "p": mwu_p(means, b_correct.astype(float))}


def _parts(a, b, a_correct, b_correct, groups, *, seed, n_resamples, a12_ci):
    """(B, 2) or (B, 4) resampled parts of the two statistics: the arm's resampled mean and the baseline's,
    then A12(arm resample, baseline) and A12(arm, baseline resample). The arm is resampled in two stages
    (sources, then runs) from the generator of ``seed``, the baseline's runs from its own named stream.
    On the count grid when counts and accuracies determine each other (one resample serves both statistics),
    else the difference on the accuracies' grid and A12 on the counts' with streams of their own."""
    n, m = a.size, b.size
    shared = same_partition((a, a_correct), (b, b_correct))
    cgrid, (cia, cib) = grid_of(a_correct.astype(float), b_correct.astype(float))
    grid, (ia, ib) = (cgrid, (cia, cib)) if shared else grid_of(a, b)
    acc_of = np.empty(grid.size)
    acc_of[ia], acc_of[ib] = a, b
    hb_c = np.bincount(cib, minlength=cgrid.size).astype(float)
    ha_c = np.bincount(cia, minlength=cgrid.size).astype(float)
    below_b = np.cumsum(hb_c) - 0.5 * hb_c  # baseline fixed: A12(arm*, b) = hist* @ below_b / (N* m)
    above_a = n - np.cumsum(ha_c) + 0.5 * ha_c  # arm fixed: A12(a, base*) = hist_b* @ above_a / (N m)

    def means(da, db):
        return [da.sums(acc_of) / da.totals, db.sums(acc_of) / m]

    def a12s(da, db):
        return [da.sums(below_b) / (da.totals * m), db.sums(above_a) / (n * m)]

    arm = Stream(Sample(ia, grid.size, groups), np.random.default_rng(seed))
    base = Stream(Sample(ib, grid.size), statistic_rng(seed, "baseline"))
    if shared and a12_ci:
        return resample(lambda da, db: np.stack(means(da, db) + a12s(da, db), axis=1), n_resamples, arm, base)
    parts = resample(lambda da, db: np.stack(means(da, db), axis=1), n_resamples, arm, base)
    if not a12_ci:
        return parts
    carm = Stream(Sample(cia, cgrid.size, groups), statistic_rng(seed, "a12 arm"))
    cbase = Stream(Sample(cib, cgrid.size), statistic_rng(seed, "a12 baseline"))
    return np.concatenate(
        [parts, resample(lambda da, db: np.stack(a12s(da, db), axis=1), n_resamples, carm, cbase)], axis=1
    )


def compare_nested(a, b, a_correct, b_correct, groups, *, seed, confidence, n_resamples, a12_ci=True) -> dict:
    """`compare.compare_to_baseline` for an arm a (N,) nested in K > 1 sources (groups (N,)) against independent
    baseline runs b (m,), with their correct counts; see that function's docstring for the keys and methods.
    a12_ci=False skips A12's interval (None, None)."""
    n, m = a.size, b.size
    k = int(np.unique(groups).size)
    diff = exact_mean(a) - exact_mean(b)
    test = clustered_brunner_munzel(a_correct, groups, b_correct)
    a12 = test["a12"]

    def t_ci(point, arm_part, base_part, arm_fixed=False, base_fixed=False):
        # bootstrap variances of the two parts, each scaled by units/(units-1) (a bootstrap of u units has
        # (u-1)/u of their variance), and Welch-Satterthwaite df from K - 1 and m - 1 (see means.nested_mean_ci);
        # a part that cannot vary (a constant sample) is exactly 0, not the rounding noise of its resamples
        var_a = 0.0 if arm_fixed else float(np.var(arm_part, ddof=1)) * k / (k - 1)
        var_b = 0.0 if base_fixed or m < 2 else float(np.var(base_part, ddof=1)) * m / (m - 1)
        if var_a + var_b <= 0.0:
            return point, point
        df = welch_df(var_a, k - 1, var_b, max(m - 1, 1))
        return t_interval(point, math.sqrt(var_a + var_b), df, confidence)

    diff_low = diff_high = a12_low = a12_high = None
    if n_resamples >= 2:
        parts = _parts(a, b, a_correct, b_correct, groups, seed=seed, n_resamples=n_resamples, a12_ci=a12_ci)
        diff_low, diff_high = t_ci(diff, parts[:, 0], parts[:, 1], np.ptp(a) == 0, np.ptp(b) == 0)
        if a12_ci:
            a12_low, a12_high = t_ci(a12, parts[:, 2], parts[:, 3])
            a12_low, a12_high = max(0.0, a12_low), min(1.0, a12_high)
    return {
        "diff_mean": diff,
        "diff_ci_low": opt_float(diff_low),
        "diff_ci_high": opt_float(diff_high),
        "a12": a12,
        "a12_ci_low": opt_float(a12_low),
        "a12_ci_high": opt_float(a12_high),
        "cliffs_delta": 2.0 * a12 - 1.0,
        "hedges_g": hedges_g(a, b),
        "welch_p": welch_p(source_means(a, groups)[1], b),
        "mwu_p": mwu_p(a_correct, b_correct),
        "n_arm": int(n),
        "n_baseline": int(m),
        "verdict_p": test["p"],
    }
