"""Turn per-repeat test accuracies and learning curves into honest, JSON-ready statistics.

One job: summarise arms and compare them with a baseline, at the right unit of replication. Pure numpy/scipy (and
two Numba kernels, each imported on first use: k-NN accuracy's neighbours in `transferability` and the rank
agreement's counts in `rank_agreement`): no TensorFlow, no plotting, no file I/O. May import `blobs_transfer.seeds`,
`errors` and `config` (for the summary), nothing further down the pipeline. Every random quantity takes an explicit
integer ``seed``, derived by name from the study's root seed (`seeds.statistic_seed`). Results are plain dicts of
Python ``float``/``int``/``str``/``None`` (never numpy scalars, never NaN) so they can go straight into
``json.dump``; where a statistic is undefined the value is ``None`` and the docstring says when. The one exception
is :func:`curve_band`, which returns numpy arrays because it only feeds plots.

Two things shape the code.

- **Nested runs.** The runs of a transfer arm are nested in source models (K sources x R runs each) and
  nearly all of their variance is between sources (ICC about 0.97), so the source model, not the run, is
  the unit of replication. Pass ``groups`` (the source index of each run) to :func:`describe` and
  :func:`compare_arms` and their intervals and the verdict's test work at the source level; without it,
  runs are treated as independent.
- **Scale.** A command can hold 20,000+ runs. Every resampling goes through one core (`resample`), which
  never holds a resamples-by-runs matrix: a resample is a multinomial draw on a histogram of few distinct
  values (accuracies are counts out of n_test) or index draws in chunks of bounded size, and a statistic is a
  function of the resampled histograms, at every size (there is no second bootstrap). The package never imports
  scipy.stats: its t and normal distributions are scipy.special's functions, and its tests scipy's written out.

The modules, from the bottom up (each imports only modules above it in this list):

- ``common``: the package's internal API, what its modules share (checked arrays, NaN-free floats, t
  intervals, grids);
- ``resample``: the one resampling core, two-stage (source, then run) or plain bootstrap resamples with the
  statistic as a parameter, chunked; and the closed-form cluster-robust variance of the same design;
- ``bootstrap``: intervals from resampled statistics (BCa with scipy's formulas, percentile);
- ``nested``: runs nested in source models in closed form (cluster SE, design effect, variance components,
  best arm per source);
- ``arm``: one arm on its own (:func:`describe`), and the CI of a mean at the unit of replication it rests on
  (BCa for independent runs, a two-stage t interval for nested ones; the benefits of transfer use it too);
- ``effects``: effect sizes and tests both designs of a comparison report (Hedges' g, Welch, Mann-Whitney, A12);
- ``compare``: an arm against the baseline, in the design of its runs (independent runs, or runs nested in
  K > 1 sources), and every arm against it: Holm across arms and the verdict;
- ``curves``: learning-curve bands and the benefits of transfer;
- ``ranking``: P(best) of each arm;
- ``gate``: the regression gate: the bands of the per-arm statistics and of the findings (each arm against the
  baseline arm), and the check;
- ``transferability``: transferability scores of a source model on a target (LEEP, NCE, LogME at the global
  maximum of its evidence, the shrunk and the plain H-score, TransRate, GBC, N-LEEP, the source's own accuracy,
  k-NN accuracy, a logistic probe's accuracy and log-loss), from its outputs and features, before any target
  training;
- ``exact_means``: realised means from exact integer counts, in a resample too, so that equal means tie;
- ``rank_agreement``: how well a score ranks source models by their realised means (Spearman, weighted
  Kendall tau, their two-stage CIs, the top pick);
- ``setups``: which score to trust across setups (each setup's noise ceiling and rho beyond the dead units;
  win rates, beating the probe, mean ranks, with CIs over setups and Holm-adjusted tests);
- ``summary``: a run's whole summary from its records (the only module that reads a config).

Import from here: ``from blobs_transfer.stats import describe``; `ranking`, `gate`, `summary`, `transferability`,
`exact_means` and `rank_agreement` by module.

Shapes: R = repeats of an arm, E = training epochs, N = number of runs, G (or K) = number of groups
(source models), D = number of distinct values of a sample, B = bootstrap resamples.
"""

from __future__ import annotations

from blobs_transfer.stats.arm import binomial_se, describe, nested_describe, nested_mean_ci
from blobs_transfer.stats.compare import (
    MWU_VERDICT,
    NESTED_VERDICT,
    compare_arms,
    compare_to_baseline,
    holm,
    nested_compare,
)
from blobs_transfer.stats.curves import (
    BENEFITS,
    benefit_values,
    curve_band,
    transfer_benefits,
)
from blobs_transfer.stats.nested import (
    cluster_se,
    design_effect,
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
