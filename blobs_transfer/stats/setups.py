"""Which transferability score to trust across setups: per setup how high a score's rho could go and what it adds
beyond a trivial rival; across setups each score's win rate, its rate of beating the probe and its mean rank.

A setup is one sweep cell (one target, one source problem, one label budget) and, within it, one transfer arm.
Its scores' rho, tau and their CIs are `rank_agreement.agreement`'s; this module adds:

- `reliability`: how reproducible the realised means are, the ranking a perfect score would have to match.
  With R runs per source model (run r of every source a parallel measurement), the Spearman rho between two
  single runs across the sources, averaged over the R(R-1)/2 pairs of runs, is stepped up to the mean of R runs
  by Spearman-Brown, R r / (1 + (R - 1) r): the split-half reliability generalised to R parts.
- `ceiling`: sqrt(reliability), the rho that the sources' *true* means would reach against the realised ones
  (a correlation with a measurement is at most the root of its reliability). No score can be trusted to beat it.
- `partial_rho`: a score's Spearman rho with the realised means, controlling for the number of dead units of the
  source model's last hidden layer (`dead_units`), the trivial rival: what the score knows beyond them.

Across setups (`across_setups`) the unit of replication is the setup: every CI resamples setups with
replacement through the one resampling core (`stats.resample`, a plain bootstrap), seeded by name
(`statistic_rng(root, "setups", arm)`). A score with no rho in a setup (constant over its source models) counts
there as rho 0, the expectation of a ranking that knows nothing. Against the reference score (the logistic
probe) each score's mean difference in rho gets a two-sided bootstrap p-value and a TOST p-value for
equivalence within +-`margin`, both Holm-adjusted over every comparison of the table; "as good as" is claimed
only from the adjusted TOST.

Shapes: K source models, R runs per source model, S setups, M scores, B resamples, b resamples in a chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.common import opt_float
from blobs_transfer.stats.rank_agreement import spearman_rows
from blobs_transfer.stats.resample import Sample, Stream, resample

MARGIN = 0.1  # "as good as the probe": the mean rho within 0.1 of the probe's, across setups
N_RESAMPLES = 4000  # setup resamples: enough for p-values near the Holm thresholds of ~40 comparisons
ALPHA = 0.05
ALL_ARMS = "all transfer arms"  # the row of each score over every transfer arm (a setup's arms averaged)


def dead_units(features: np.ndarray) -> int:
    """The last hidden layer's units that output 0 on every row, features (n, D): a dead ReLU unit carries nothing
    to the target, so their number is the simplest guess at which source model transfers worse."""
    return int(np.sum(np.max(features, axis=0) <= 0.0))


def reliability(correct: np.ndarray) -> float | None:
    """correct (K, R): each source model's correct test rows in each of its R >= 2 runs of one arm (NaN for a
    missing run) -> the reliability of the K realised means (see the module); None where no pair of runs ranks
    the sources (a run constant over them)."""
    correct = np.asarray(correct, dtype=float)
    rhos = []
    for i, j in combinations(range(correct.shape[1]), 2):
        both = np.isfinite(correct[:, i]) & np.isfinite(correct[:, j])
        if both.sum() >= 3:
            rhos.append(spearman_rows(correct[both, i][None], correct[both, j][None])[0])
    rhos = [r for r in rhos if np.isfinite(r)]
    if not rhos:
        return None
    r, parts = float(np.mean(rhos)), correct.shape[1]
    return parts * r / (1.0 + (parts - 1) * r)


def ceiling(rel: float | None) -> float | None:
    """The highest rho a score can expect against realised means of reliability `rel` (0 if it is negative)."""
    return None if rel is None else float(np.sqrt(max(rel, 0.0)))


def partial_rho(score: np.ndarray, means: np.ndarray, control: np.ndarray) -> float | None:
    """Spearman's rho of score and means (K,) controlling for control (K,): (r_xy - r_xz r_yz) /
    sqrt((1 - r_xz^2)(1 - r_yz^2)) on the three rank correlations. A constant control removes nothing (rho
    itself); None where the score is constant or the control orders it exactly."""
    x, y, z = (np.asarray(v, dtype=float)[None] for v in (score, means, control))
    r_xy, r_xz, r_yz = (float(spearman_rows(a, b)[0]) for a, b in ((x, y), (x, z), (y, z)))
    if not np.isfinite(r_xy):
        return None
    if not (np.isfinite(r_xz) and np.isfinite(r_yz)):
        return r_xy
    denominator = (1.0 - r_xz**2) * (1.0 - r_yz**2)
    return float((r_xy - r_xz * r_yz) / np.sqrt(denominator)) if denominator > 1e-12 else None


def win_shares(rho: np.ndarray) -> np.ndarray:
    """rho (S, M) -> (S, M): each setup's win split evenly among the scores tied at its highest rho."""
    top = rho >= rho.max(axis=1, keepdims=True)
    return top / top.sum(axis=1, keepdims=True)


def ranks(rho: np.ndarray) -> np.ndarray:
    """rho (S, M) -> (S, M): each score's rank in its setup, 1 = highest rho, ties sharing their mean rank."""
    above = (rho[:, None, :] > rho[:, :, None]).sum(axis=2)
    level = (rho[:, None, :] == rho[:, :, None]).sum(axis=2)
    return above + (level + 1) / 2.0


def beats(rho: np.ndarray, reference: int) -> np.ndarray:
    """rho (S, M) -> (S, M): 1 where a score's rho is above the reference score's, 1/2 where equal, else 0."""
    return (rho > rho[:, [reference]]) + 0.5 * (rho == rho[:, [reference]])


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values (m,), each adjusted p at most 1."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _tail(draws: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(B, M) resampled values, side (M,) a boolean condition's share + 1 over B + 1: a bootstrap p-value that is
    never 0."""
    return (np.sum(side, axis=0) + 1.0) / (draws.shape[0] + 1.0)


def across_setups(
    rho_by_arm: dict[str, np.ndarray],
    names: Sequence[str],
    *,
    reference: str,
    seed: int,
    n_resamples: int = N_RESAMPLES,
    confidence: float = 0.95,
    margin: float = MARGIN,
) -> list[dict[str, Any]]:
    """One row per arm (and `ALL_ARMS`, each setup's arms averaged) and score: its win rate, its rate of beating
    `reference`, its mean rank and mean rho, each with a percentile CI over resampled setups, and against the
    reference the mean difference in rho, its CI, Holm-adjusted p-values for a difference and for equivalence
    within +-margin, and the verdict these give ("better", "worse", "as good as", "inconclusive").

    rho_by_arm[arm]: (S, M) every setup's rho per score in `names` order, NaN where undefined (counted as 0);
    every arm over the same S setups."""
    ref = list(names).index(reference)
    per_arm = {arm: np.nan_to_num(np.asarray(r, dtype=float), nan=0.0) for arm, r in rho_by_arm.items()}
    n_setups = next(iter(per_arm.values())).shape[0]
    tables = {}
    for arm, rho in per_arm.items():
        tables[arm] = np.stack([win_shares(rho), beats(rho, ref), ranks(rho), rho, rho - rho[:, [ref]]])
    tables[ALL_ARMS] = np.mean(np.stack(list(tables.values())), axis=0)  # (5, S, M): a setup's arms averaged
    tail = 50.0 * (1.0 - confidence)
    rows = []
    for arm, table in tables.items():
        sample = Sample(np.arange(n_setups), n_setups)
        stream = Stream(sample, statistic_rng(seed, "setups", arm))

        def statistic(draw, table=table):
            return np.einsum("bs,ksm->bkm", draw.hist(), table) / draw.totals[:, None, None]

        draws = resample(statistic, n_resamples, stream)  # (B, 5, M)
        point = table.mean(axis=1)  # (5, M)
        low, high = np.percentile(draws, [tail, 100.0 - tail], axis=0)
        diff = draws[:, 4]
        p_diff = np.minimum(1.0, 2.0 * np.minimum(_tail(diff, diff <= 0), _tail(diff, diff >= 0)))
        p_equal = np.maximum(_tail(diff, diff <= -margin), _tail(diff, diff >= margin))
        for m, name in enumerate(names):
            rows.append(
                {
                    "arm": arm,
                    "score": name,
                    "n_setups": n_setups,
                    **{
                        key: opt_float(point[k, m])
                        for k, key in enumerate(("win_rate", "beats_reference", "mean_rank", "mean_rho"))
                    },
                    **{
                        f"{key}_ci": [opt_float(low[k, m]), opt_float(high[k, m])]
                        for k, key in enumerate(("win_rate", "beats_reference", "mean_rank", "mean_rho", "rho_diff"))
                    },
                    "rho_diff": opt_float(point[4, m]),
                    "p_diff": None if m == ref else float(p_diff[m]),
                    "p_equivalent": None if m == ref else float(p_equal[m]),
                }
            )
    tested = [r for r in rows if r["p_diff"] is not None]
    for key in ("p_diff", "p_equivalent"):
        for r, adjusted in zip(tested, holm(np.array([r[key] for r in tested]))):
            r[f"{key}_holm"] = float(adjusted)
    for r in rows:
        r["verdict"] = verdict(r)
    return rows


def verdict(row: dict[str, Any]) -> str | None:
    """A score against the reference across setups, from the Holm-adjusted p-values: "better" or "worse" (a
    difference in mean rho), "as good as" (equivalent within the margin), else "inconclusive"; None for the
    reference itself."""
    if row.get("p_diff_holm") is None:
        return None
    if row["p_diff_holm"] < ALPHA:
        return "better" if row["rho_diff"] > 0 else "worse"
    if row["p_equivalent_holm"] < ALPHA:
        return "as good as"
    return "inconclusive"


def best_score(rows: Sequence[dict[str, Any]], arm: str = ALL_ARMS) -> str:
    """The score with the highest win rate over `arm`'s setups (ties: the lower mean rank, then the name)."""
    mine = [r for r in rows if r["arm"] == arm]
    return min(mine, key=lambda r: (-r["win_rate"], r["mean_rank"], r["score"]))["score"]
