"""An arm against the baseline, and every arm against it: the verdict, its test, and Holm across arms.

`compare_to_baseline` sends an arm of independent runs to `compare_independent` and an arm nested in K > 1
source models to `compare_nested`; `compare_arms` compares every arm, each with its own stream seeded by its
name, adjusts the p-values across arms (Holm) and gives each arm its verdict.
Shapes: n runs of the arm, m of the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from blobs_transfer.seeds import statistic_seed
from blobs_transfer.stats.common import as_1d, as_counts, as_groups, check_confidence
from blobs_transfer.stats.compare_independent import compare_independent
from blobs_transfer.stats.compare_nested import compare_nested
from blobs_transfer.stats.nested import nested_keys

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
    - (n + m) x n_resamples <= 1,000,000: scipy.stats.bootstrap (scipy's own intervals);
      above, the resampling core's (same intervals up to Monte Carlo error, memory independent of n).

    Arm nested in K > 1 sources (the source model is the unit; ICC near 1 makes K x R runs worth about K):

    - diff CI: diff -+ t_df x se; se^2 = (K/(K-1)) Var*(two-stage bootstrap means of the arm: sources with
      replacement, then runs within each) + (m/(m-1)) Var*(plain bootstrap means of the baseline), df by
      Welch-Satterthwaite from K - 1 and m - 1. The t quantile, not the resamples' percentiles, because a
      spread estimated from K source means is itself uncertain (see :func:`means.nested_mean_ci`).
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

    CIs are None when a sample has a single run. ``seed`` seeds every draw: the arm's resamples, and the
    baseline's (and the exact path's two bootstraps) from streams derived from it by name
    (`seeds.statistic_rng`).
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
