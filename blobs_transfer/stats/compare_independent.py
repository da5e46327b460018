"""An arm of independent runs against the baseline: bootstrap CIs of the difference and of A12, and the tests.

The difference of means gets a BCa interval, A12 a percentile interval (A12 is bounded and discrete; BCa's
acceleration is unstable there); the verdict's test is Mann-Whitney U on the correct counts. Small problems go
through scipy.stats.bootstrap (`bootstrap.exact_path`), larger ones through the resampling core.
Shapes: n runs of the arm, m of the baseline, D grid points, B resamples.
"""

from __future__ import annotations

import numpy as np

from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.bootstrap import (
    a12_stat,
    bootstrap_ci,
    diff_of_means,
    exact_path,
    interval_from,
    mean_jackknife,
)
from blobs_transfer.stats.common import exact_mean, grid_of
from blobs_transfer.stats.effects import (
    a12_of_histograms,
    hedges_g,
    mwu_p,
    same_partition,
    welch_p,
)
from blobs_transfer.stats.resample import Sample, Stream, resample


def _cis_from_core(a, b, a_correct, b_correct, diff, a12, *, seed, confidence, n_resamples):
    """(diff_low, diff_high, a12_low, a12_high) from the resampling core: the arm's and the baseline's runs
    resampled independently, each from its own named stream.

    The difference of means gets BCa (acceleration from the closed-form jackknife of each mean), A12 the
    percentile interval, as on the exact path. When accuracies and counts determine each other (the usual
    case, accuracy = count / n_test) both statistics come from the same resamples on the count grid;
    otherwise the difference is resampled on the accuracies' own grid.
    """
    n, m = a.size, b.size
    num_a, den_a = mean_jackknife(a)
    num_b, den_b = mean_jackknife(b)
    accel = (num_a - num_b) / (6.0 * (den_a + den_b) ** 1.5)  # b enters the difference with a minus sign
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
    a12 = float(a12_stat(a_correct, b_correct))
    if a.size < 2 or b.size < 2:
        diff_low = diff_high = a12_low = a12_high = None
    elif exact_path(a.size + b.size, n_resamples):
        diff_low, diff_high = bootstrap_ci(
            (a, b),
            diff_of_means,
            diff,
            rng=statistic_rng(seed, "difference"),
            confidence=confidence,
            n_resamples=n_resamples,
        )
        a12_low, a12_high = bootstrap_ci(
            (a_correct.astype(float), b_correct.astype(float)),
            a12_stat,
            a12,
            rng=statistic_rng(seed, "a12"),
            confidence=confidence,
            n_resamples=n_resamples,
            method="percentile",
        )
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
