"""Intervals from bootstrap resamples: BCa (scipy's formulas) or percentile, from the resampled statistics.

The resamples come from the one resampling core (`resample`), whatever the problem's size; this module turns
them into an interval. BCa is scipy.stats.bootstrap's interval written out for the statistics the package
bootstraps (means and their differences, whose jackknife is closed-form), so the package needs neither a second
bootstrap nor scipy.stats. Shapes: n runs, B resamples.
"""

from __future__ import annotations

import numpy as np

from blobs_transfer.stats.common import opt_float, quiet, special


def mean_jackknife(x: np.ndarray) -> tuple[float, float]:
    """BCa acceleration terms (num, den) of the mean of x (n,): scipy's num = sum U^3 / n^3 and
    den = sum U^2 / n^2 over the jackknife values U_i = (n - 1)(mean of leave-one-out means - mean without
    run i). For the mean, U_i = x_i - mean exactly, so no (n, n-1) jackknife matrix is needed."""
    n = x.size
    u = x - x.mean()
    return float(np.sum(u**3)) / n**3, float(np.sum(u**2)) / n**2


def interval_from(
    theta_b: np.ndarray, point: float, confidence: float, accel: float | None
) -> tuple[float | None, float | None]:
    """CI from bootstrap statistics theta_b (B,): BCa when ``accel`` is given (scipy's formulas: z0 from
    the share of resamples below the point, ties counting half), falling back to the percentile interval
    when BCa is not finite or inverted; the percentile interval when accel is None."""
    alpha = (1.0 - confidence) / 2.0
    if accel is not None:
        tol = 1e-12 * max(1.0, abs(point))  # a resample equal to the point up to rounding is a tie
        below = np.count_nonzero(theta_b < point - tol) + np.count_nonzero(theta_b <= point + tol)
        with quiet():
            z0 = special.ndtri(below / (2.0 * theta_b.size))
            z = special.ndtri(alpha)
            a1 = special.ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
            a2 = special.ndtr(z0 + (z0 - z) / (1 - accel * (z0 - z)))
        if np.isfinite(a1) and np.isfinite(a2):
            low, high = np.quantile(theta_b, [a1, a2])
            if low <= high:
                return opt_float(low), opt_float(high)
    low, high = np.quantile(theta_b, [alpha, 1.0 - alpha])
    return opt_float(low), opt_float(high)
