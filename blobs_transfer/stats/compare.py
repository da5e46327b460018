"""An arm against the baseline, and every arm against it: the two designs, the verdict, its test, and Holm.

`compare_arms` compares every arm, each with its own stream seeded by its name, adjusts the p-values across arms
(Holm) and gives each arm its verdict; `compare_to_baseline` sends an arm to the design of its runs:

- independent runs, `compare_independent`: the difference of means gets a BCa interval, A12 a percentile
  interval (A12 is bounded and discrete; BCa's acceleration is unstable there); the verdict's test is
  Mann-Whitney U on the correct counts. Both intervals come from the resampling core at any size.
- runs nested in K > 1 source models, `compare_nested`: the source model is the unit. With ICC near 1 an arm of
  K x R runs is worth about K observations, so the intervals resample sources (then runs within them) and the
  verdict's test (a clustered Brunner-Munzel test of A12) counts a source, not a run, as one observation. The
  baseline's runs are independent.

The effect sizes and tests both designs report are `effects`'. Shapes: n (or N) runs of the arm, m of the
baseline, K sources, D grid points, B resamples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from blobs_transfer.seeds import statistic_rng, statistic_seed
from blobs_transfer.stats.bootstrap import interval_from, mean_jackknife
from blobs_transfer.stats.common import (
    as_1d,
    as_counts,
    as_groups,
    check_confidence,
    exact_mean,
    grid_of,
    opt_float,
    source_index,
    t_interval,
    t_sf,
    welch_df,
)
from blobs_transfer.stats.effects import (
    a12_of_histograms,
    a12_of_samples,
    hedges_g,
    mwu_p,
    same_partition,
    welch_p,
)
from blobs_transfer.stats.nested import nested_keys, source_means
from blobs_transfer.stats.resample import Sample, Stream, resample

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
    - both intervals from the resampling core (scipy.stats.bootstrap's intervals up to Monte Carlo error,
      memory independent of n).

    Arm nested in K > 1 sources (the source model is the unit; ICC near 1 makes K x R runs worth about K):

    - diff CI: diff -+ t_df x se; se^2 = (K/(K-1)) Var*(two-stage bootstrap means of the arm: sources with
      replacement, then runs within each) + (m/(m-1)) Var*(plain bootstrap means of the baseline), df by
      Welch-Satterthwaite from K - 1 and m - 1. The t quantile, not the resamples' percentiles, because a
      spread estimated from K source means is itself uncertain (see :func:`arm.nested_mean_ci`).
    - a12: as above on all runs; its CI is the same construction: A12 -+ t_df x se with the arm's part of
      the variance from A12(two-stage arm resample, baseline) and the baseline's from A12(arm, baseline
      resample), clipped to [0, 1] (the percentile interval of joint resamples covers too rarely at K = 5).
    - verdict_p: the clustered Brunner-Munzel test of A12 = 1/2 (:func:`compare_nested.clustered_brunner_munzel`),
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

    CIs are None when a sample has a single run. ``seed`` seeds every draw: the arm's resamples and the
    baseline's, from streams derived from it by name (`seeds.statistic_rng`).
    """
    check_confidence(confidence)
    a = as_1d(arm, "arm")
    b = as_1d(baseline, "baseline")
    a_correct = as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    g = None if groups is None else as_groups(groups, a.size)
    if g is not None and np.unique(g).size > 1:
        result = compare_nested(
            a, b, a_correct, b_correct, g, seed=seed, confidence=confidence, n_resamples=n_resamples
        )
        verdict_p = result.pop("verdict_p")
        return {**result, **nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}
    result = compare_independent(a, b, a_correct, b_correct, seed=seed, confidence=confidence, n_resamples=n_resamples)
    return {**result, **nested_keys(a, g), "verdict_test": MWU_VERDICT, "verdict_p": result["mwu_p"]}


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
    check_confidence(confidence)
    a = as_1d(arm, "arm")
    g = as_groups(groups, a.size)
    if np.unique(g).size < 2 or a12_ci:
        return compare_to_baseline(
            arm,
            baseline,
            arm_correct,
            baseline_correct,
            seed=seed,
            groups=g,
            n_test=n_test,
            confidence=confidence,
            n_resamples=n_resamples,
        )
    b = as_1d(baseline, "baseline")
    a_correct = as_counts(arm_correct, "arm_correct", a.size, n_test)
    b_correct = as_counts(baseline_correct, "baseline_correct", b.size, n_test)
    result = compare_nested(
        a, b, a_correct, b_correct, g, seed=seed, confidence=confidence, n_resamples=n_resamples, a12_ci=False
    )
    verdict_p = result.pop("verdict_p")
    return {**result, **nested_keys(a, g), "verdict_test": NESTED_VERDICT, "verdict_p": verdict_p}


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
    for Welch, Mann-Whitney and the verdict's own p-values. ``seed`` is the study's root seed: each arm's
    comparison takes `seeds.statistic_seed(seed, "compare", arm)`, so an arm's CIs do not change when other
    arms are added, removed or reordered.

    groups: per arm, the source index of each run (shape (R_arm,)); arms missing from it (e.g. the
    standalone baseline) are independent runs. An arm whose runs come from K > 1 source models is
    compared at the source level (two-stage bootstrap CIs, clustered Brunner-Munzel test: see
    :func:`compare_to_baseline`); every other arm as independent runs, with verdict_p = mwu_p. Every
    row names its test (verdict_test) and carries its p (verdict_p) and Holm-adjusted p
    (verdict_p_holm). n_test, if given, bounds the correct counts (0..n_test).

    Verdict: "better" if verdict_p_holm < alpha and a12 > 0.5, "worse" if verdict_p_holm < alpha
    and a12 < 0.5, else "no evidence". A rank test drives it because the standalone arm has a few
    collapsed runs: means, SDs and t-tests are dominated by those outliers, whereas P(arm beats
    baseline) is what a user choosing an arm cares about and is robust to them. For a nested arm
    the rank test is the clustered one: Mann-Whitney on K x R runs would count nested runs as
    independent and call noise significant (tests/stats/test_nested.py).
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
            seed=statistic_seed(seed, "compare", name),
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


def _cis_from_core(a, b, a_correct, b_correct, diff, a12, *, seed, confidence, n_resamples):
    """(diff_low, diff_high, a12_low, a12_high) from the resampling core: the arm's and the baseline's runs
    resampled independently, each from its own named stream.

    The difference of means gets BCa (acceleration from the closed-form jackknife of each mean), A12 the
    percentile interval (as scipy.stats.bootstrap would). When accuracies and counts determine each other (the usual
    case, accuracy = count / n_test) both statistics come from the same resamples on the count grid;
    otherwise the difference is resampled on the accuracies' own grid.
    """
    n, m = a.size, b.size
    num_a, den_a = mean_jackknife(a)
    num_b, den_b = mean_jackknife(b)
    # b enters the difference with a minus sign; both samples constant: no acceleration (the caller's CI is (d, d))
    accel = (num_a - num_b) / (6.0 * (den_a + den_b) ** 1.5) if den_a + den_b > 0 else None
    grid, (ia, ib) = grid_of(a_correct.astype(float), b_correct.astype(float))
    arm = Stream(Sample(ia, grid.size), statistic_rng(seed, "arm"))
    base = Stream(Sample(ib, grid.size), statistic_rng(seed, "baseline"))
    if same_partition((a, a_correct), (b, b_correct)):
        acc_of = np.empty(grid.size)
        acc_of[ia], acc_of[ib] = a, b

        def both(da, db):
            return np.stack([da.sums(acc_of) / n - db.sums(acc_of) / m, a12_of_histograms(da.hist(), db.hist())], 1)

        theta_diff, theta_a12 = resample(both, n_resamples, arm, base).T
    else:
        agrid, (aa, ab) = grid_of(a, b)
        theta_diff = resample(
            lambda da, db: da.sums(agrid) / n - db.sums(agrid) / m,
            n_resamples,
            Stream(Sample(aa, agrid.size), statistic_rng(seed, "arm accuracy")),
            Stream(Sample(ab, agrid.size), statistic_rng(seed, "baseline accuracy")),
        )
        theta_a12 = resample(lambda da, db: a12_of_histograms(da.hist(), db.hist()), n_resamples, arm, base)
    diff_low, diff_high = interval_from(theta_diff, diff, confidence, accel)
    a12_low, a12_high = interval_from(theta_a12, a12, confidence, None)
    return diff_low, diff_high, a12_low, a12_high


def compare_independent(a, b, a_correct, b_correct, *, seed, confidence, n_resamples) -> dict:
    """`compare.compare_to_baseline` for runs treated as independent: arm a (n,) and baseline b (m,)
    accuracies with their correct counts; see that function's docstring for the keys."""
    diff = exact_mean(a) - exact_mean(b)
    a12 = a12_of_samples(a_correct, b_correct)
    if a.size < 2 or b.size < 2:
        diff_low = diff_high = a12_low = a12_high = None
    else:
        diff_low, diff_high, a12_low, a12_high = _cis_from_core(
            a, b, a_correct, b_correct, diff, a12, seed=seed, confidence=confidence, n_resamples=n_resamples
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
        "hedges_g": hedges_g(a, b),
        "welch_p": welch_p(a, b),
        "mwu_p": mwu_p(a_correct, b_correct),
        "n_arm": int(a.size),
        "n_baseline": int(b.size),
    }


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
        return {"a12": a12, "se": se, "df": df, "p": float(2.0 * t_sf(abs(t), df))}
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
        # (u-1)/u of their variance), and Welch-Satterthwaite df from K - 1 and m - 1 (see arm.nested_mean_ci);
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
