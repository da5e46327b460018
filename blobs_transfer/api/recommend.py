"""`rank-sources`' answer: which source model to pick, by the score the committed study found most reliable, and,
where a run holds realised means, which source model did best there and how stable that pick is.

`recommend(cfg, rows, run_dir)` composes the scores of `api.transferability.rank_sources` (rows, one per source
model), a run's realised means (its scores.csv) and the rho of each score that its summary.json records. The
stability of a pick is its rate of being first over resamples of each source model's runs, drawn by the one
resampling core (`stats.resample`) from generators seeded by name (`seeds.statistic_rng`). Words are
`render.recommendation`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer.api.transferability import realised_means, transfer_arms
from blobs_transfer.config import Config
from blobs_transfer.render import recommendation
from blobs_transfer.render.recommendation import RELIABLE_SCORE
from blobs_transfer.rundir import files
from blobs_transfer.seeds import statistic_rng
from blobs_transfer.stats.resample import Sample, Stream, resample
from blobs_transfer.stats.summary import arm_accuracies

N_RESAMPLES = 1000
TOP = 5


def first_rate(values: dict[int, np.ndarray], pick: int, seed: int, arm: str) -> float:
    """The share of resamples (each source model's runs drawn with replacement, independently) in which `pick`
    has the highest mean: how stable the pick of the best source model is."""
    keys = sorted(values)
    streams = []
    grids = []
    for k in keys:
        grid, index = np.unique(np.asarray(values[k], float), return_inverse=True)
        grids.append(grid)
        streams.append(Stream(Sample(index, grid.size), statistic_rng(seed, "recommend", arm, str(k))))

    def statistic(*draws):
        means = np.stack([d.sums(g) / d.totals for d, g in zip(draws, grids)], axis=1)
        return np.argmax(means, axis=1) == keys.index(pick)

    return float(np.mean(resample(statistic, N_RESAMPLES, *streams)))


def recommend(cfg: Config, rows: Sequence[dict[str, Any]], run_dir: Path | None = None) -> dict[str, Any]:
    """One JSON-able answer: the source models ranked by RELIABLE_SCORE (each with its realised mean per transfer
    arm where the run has them), each score's rho [95% CI] per arm where the run recorded them, and the pick."""
    order = sorted(range(len(rows)), key=lambda i: -rows[i][RELIABLE_SCORE])
    ranked = [{**rows[i], "rank": r + 1} for r, i in enumerate(order)]
    out: dict[str, Any] = {"score": RELIABLE_SCORE, "prediction": True, "target": None, "rows": ranked, "rho": {}}
    out["target"] = cfg.describe_problem(cfg.target_spec)
    scores_csv = run_dir / "scores.csv" if run_dir is not None else None
    if scores_csv is None or not scores_csv.is_file() or not transfer_arms(cfg):
        first = ranked[0]
        out["pick"] = {"file": first["file"], "source_index": first["source_index"], "by": RELIABLE_SCORE}
        return out
    records = files.read_scores(scores_csv)
    truth = realised_means(cfg, records)
    out["prediction"] = False
    for r in ranked:
        r["realised"] = {arm: truth[arm].get(r["source_index"]) for arm in truth}
    summary = run_dir / "summary.json"
    block = json.loads(summary.read_text(encoding="utf-8")).get("transferability") if summary.is_file() else None
    if block:
        out["rho"] = {
            arm: {s: {"rho": row["rho"], "ci": row["rho_ci"]} for s, row in by_score.items()}
            for arm, by_score in block["arms"].items()
        }
    # the pick: the best source model of the arm with the highest realised mean, as measured, with its stability
    by_arm = arm_accuracies(cfg, records)
    arm = max(truth, key=lambda a: max(truth[a].values(), default=-1.0))
    pick = max(truth[arm], key=truth[arm].get)
    runs = {
        int(k): by_arm[arm]["accuracy"][by_arm[arm]["source_index"] == k]
        for k in np.unique(by_arm[arm]["source_index"])
    }
    picked = next(r for r in ranked if r["source_index"] == pick)
    out["pick"] = {
        "file": picked["file"],
        "source_index": pick,
        "arm": arm,
        "mean": truth[arm][pick],
        "n_sources": len(truth[arm]),
        "first_rate": first_rate(runs, pick, cfg.study.seed, arm),
        "n_resamples": N_RESAMPLES,
        "score_rank": picked["rank"],
        "by": "realised mean",
    }
    return out


def text(answer: dict[str, Any], *, every: bool = False) -> str:
    """The answer as rank-sources prints it (`render.recommendation.text`)."""
    return recommendation.text(answer, every=every)
