"""Turn per-repeat test accuracies and learning curves into honest, JSON-ready statistics.

One job: summarise arms and compare them with a baseline (PROTOCOL.md sections 5 and 7). Pure
numpy/scipy, no TensorFlow, no plotting, no file I/O. Every random quantity takes an explicit
integer ``seed``. Results are plain dicts of Python ``float``/``int``/``str``/``None`` (never numpy
scalars, never NaN) so they can go straight into ``json.dump``; where a statistic is undefined the
value is ``None`` and the docstring says when. The one exception is :func:`curve_band`, which returns
numpy arrays because it only feeds plots.

Two things shape the code below.

- **Nested runs.** The runs of a transfer arm are nested in source models (K sources x R runs each) and
  nearly all of their variance is between sources (ICC about 0.97), so the source model, not the run, is
  the unit of replication. Pass ``groups`` (the source index of each run) to :func:`describe` and
  :func:`compare_arms` and their intervals and the verdict's test work at the source level; without it,
  runs are treated as independent, exactly as before (same numbers for the same seed).
- **Scale.** A command can hold 20,000+ runs. A bootstrap never holds a resamples-by-runs matrix: a
  resample of n runs from a sample with D distinct values is one multinomial draw on its histogram
  (accuracies are counts out of n_test, so D <= n_test + 1), the mean of a resample is a dot product,
  A12 of two histograms is a cumulative sum, and BCa's jackknife needs one leave-one-out value per
  distinct value. Samples with many distinct values (e.g. a curve's area) are resampled by index in
  chunks of bounded size. Small problems (runs x resamples <= ``_EXACT_CELLS``) still go through
  ``scipy.stats.bootstrap`` so their numbers are bit-for-bit what they always were; above that, the
  histogram path's intervals differ from scipy's only by Monte Carlo error (tests/test_stats_nested.py
  bounds it).

The modules follow the steps: ``bootstrap`` (scipy's exact path and the histogram / chunked path), ``nested``
(two-stage bootstrap, cluster SE, design effect, variance components, best arm per source), ``arm`` (one arm's
summary), ``compare`` (arm against baseline, Holm, the verdict) and ``curves`` (learning-curve bands, benefits of
transfer). Import from here: ``from blobs_transfer.stats import describe``.

Shapes: R = repeats of an arm, E = training epochs, N = number of runs, G (or K) = number of groups
(source models), D = number of distinct values of a sample, B = bootstrap resamples.
"""

from __future__ import annotations

from .arm import binomial_se, describe, nested_describe
from .bootstrap import _CHUNK_CELLS, _EXACT_CELLS, _MULTINOMIAL_COST  # noqa: F401  (tests set _EXACT_CELLS)
from .compare import (
    MWU_VERDICT,
    NESTED_VERDICT,
    compare_arms,
    compare_to_baseline,
    holm,
    nested_compare,
)
from .curves import BENEFITS, benefit_values, curve_band, transfer_benefits
from .nested import (
    cluster_se,
    design_effect,
    nested_mean_ci,
    rank_arms_per_group,
    variance_components,
)

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
    "benefit_values",
    "BENEFITS",
    "variance_components",
    "rank_arms_per_group",
    "MWU_VERDICT",
    "NESTED_VERDICT",
]
