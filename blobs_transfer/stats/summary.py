"""A run's statistics as one JSON-ready summary: pure functions over its scores and test curves.

No TensorFlow, no files, no rendering: `summarise` is what `compare` computes at the end of a run and what
`report` recomputes from the run's files, and the same records give the same summary byte for byte (every
resampling is seeded by name from the run's root seed, see `seeds.statistic_seed`: ("describe", arm),
("compare", arm), ("benefits", arm), ("best arm", ...)).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from blobs_transfer.config import Arm, Config
from blobs_transfer.seeds import statistic_seed
from blobs_transfer.stats import ranking
from blobs_transfer.stats.arm import binomial_se, describe
from blobs_transfer.stats.compare import compare_arms
from blobs_transfer.stats.curves import curve_band, transfer_benefits
from blobs_transfer.stats.nested import rank_arms_per_group, variance_components


def arm_kind(cfg: Config, arm: Arm) -> str:
    """What an arm is, for the words about it: "baseline" (the study's baseline arm), "transfer" (it starts from a
    source model's learned weights: the tutorial's arms, AnB, a new output layer, an added layer), or "control"
    (any other: frozen random layers, a source trained on the target problem itself (BnB), the weight-statistics
    control, another fresh arm). A control is never transfer, whatever its name."""
    if arm.name == cfg.study.baseline:
        return "baseline"
    copies = cfg.copied_layers(arm) > 0 and arm.init != "weight_stats"
    from_another_problem = cfg.source_problem_of(arm) != cfg.study.target_problem
    return "transfer" if copies and from_another_problem else "control"


def arm_accuracies(cfg: Config, records: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm (config order): the rows of its finished runs, their correct counts (n,), accuracies (n,) and
    source indices (n,); diverged runs are left out here and counted in the summary."""
    n_test = cfg.target_spec.n_test
    arm_of = np.array([r["arm"] for r in records], dtype=object)
    finished = ~np.array([bool(r["diverged"]) for r in records], dtype=bool)
    out = {}
    for arm in cfg.arms:
        rows = np.flatnonzero((arm_of == arm.name) & finished).tolist() if records else []
        correct = np.array([records[i]["test_correct"] for i in rows], dtype=np.int64)
        out[arm.name] = {
            "rows": rows,
            "correct": correct,
            "accuracy": correct / n_test,
            "source_index": np.array(
                [records[i]["source_index"] if records[i]["source_index"] is not None else -1 for i in rows]
            ),
            "uses_source": arm.uses_source,
        }
    return out


def summarise(
    cfg: Config,
    records: Sequence[dict[str, Any]],
    test_accuracy_curves: np.ndarray,
    source_models: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's statistics; records are scores.csv rows (see `rundir.files.read_scores`), curves (N, epochs + 1)
    in the same order; source_models is metadata.json's record of where the source models came from."""
    root = cfg.study.seed
    n_test = cfg.target_spec.n_test
    by_arm = arm_accuracies(cfg, records)
    arms_out = []
    for arm in cfg.arms:
        data = by_arm[arm.name]
        row: dict[str, Any] = {
            "arm": arm.name,
            "kind": arm_kind(cfg, arm),
            "n_diverged": sum(r["arm"] == arm.name and r["diverged"] for r in records),
        }
        if len(data["accuracy"]):
            seed = statistic_seed(root, "describe", arm.name)
            # transfer runs are nested in their source models: with K > 1 the intervals are at that level
            groups = data["source_index"] if data["uses_source"] else None
            row.update(describe(data["accuracy"], seed=seed, groups=groups))
            row["binomial_se"] = binomial_se(row["mean"], n_test)
        else:
            row["n"] = 0
        arms_out.append(row)
    usable = {n: d for n, d in by_arm.items() if len(d["accuracy"])}
    comparisons = []
    if cfg.study.baseline in usable and len(usable) > 1:
        comparisons = compare_arms(  # each arm's comparison seeded by ("compare", arm) from the root seed
            {n: d["accuracy"] for n, d in usable.items()},
            {n: d["correct"] for n, d in usable.items()},
            cfg.study.baseline,
            seed=root,
            n_test=n_test,
            groups={n: d["source_index"] for n, d in usable.items() if d["uses_source"]},
        )
    benefits = {}
    for name, data in usable.items():
        curves = test_accuracy_curves[data["rows"]]
        if np.isfinite(curves).all():
            # like the arm's mean: at the source-model level when the runs come from K > 1 source models
            benefits[name] = transfer_benefits(
                curves,
                seed=statistic_seed(root, "benefits", name),
                groups=data["source_index"] if data["uses_source"] else None,
            )
    base = next((a for a in arms_out if a["arm"] == cfg.study.baseline and a["n"]), None)
    typical = round(base["mean"], 2) if base else 0.8  # the SE of one accuracy, quoted near the baseline's mean
    summary: dict[str, Any] = {
        "run": {
            "target_problem": cfg.study.target_problem,
            "target": cfg.describe_problem(cfg.target_spec),
            "source_problem": cfg.study.source_problem,
            "source": cfg.describe_problem(cfg.source_spec),
            "repeats": cfg.study.repeats,
            "source_repeats": cfg.study.source_repeats,
            "epochs": cfg.target_training.epochs,
            "engine": cfg.study.engine,
            "seed": root,
            "n_test": n_test,
            "baseline": cfg.study.baseline,
            "typical_accuracy": typical,
            "binomial_se": binomial_se(typical, n_test),
        },
        "arms": arms_out,
        "comparisons": comparisons,
        "benefits": benefits,
    }
    if any(arm.uses_source for arm in cfg.arms):
        summary["run"]["source_model"] = _study_source(cfg, source_models or {})
    if cfg.study.source_repeats > 1:
        summary["sources"] = _source_analysis(usable)
    return summary


def _study_source(cfg: Config, source_models: dict[str, Any]) -> dict[str, Any]:
    """Which source model(s) of the study's source problem the transfer arms start from: path and seeds."""
    entry = source_models.get(cfg.problem_slug(cfg.source_spec))
    if isinstance(entry, str):  # runs written before seeds were recorded: "loaded from PATH"
        entry = {"path": entry.removeprefix("loaded from ")}
    entry = dict(entry or {})
    return {"count": cfg.study.source_repeats, "path": entry.get("path"), "seeds": entry.get("seeds")}


def _source_analysis(by_arm: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Between-source vs within-source variance per source arm, and which arm ranks best per source."""
    source_arms = {n: d for n, d in by_arm.items() if d["uses_source"]}
    return {
        "variance": {n: variance_components(d["accuracy"], d["source_index"]) for n, d in source_arms.items()},
        "ranking": rank_arms_per_group(
            {n: d["accuracy"] for n, d in source_arms.items()}, {n: d["source_index"] for n, d in source_arms.items()}
        ),
    }


def best_arm(cfg: Config, records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The arm with the highest mean accuracy and P(it is the best), from the two-stage bootstrap over source
    models (`ranking.best_arm`; arms from one source problem share their source models); None without runs."""
    usable = {n: d for n, d in arm_accuracies(cfg, records).items() if len(d["accuracy"])}
    if not usable:
        return None
    groups = {n: d["source_index"] for n, d in usable.items() if d["uses_source"]}
    pools = {n: cfg.source_problem_of(cfg.arm(n)) for n in groups}
    return ranking.best_arm(
        {n: d["accuracy"] for n, d in usable.items()}, groups, pools=pools, seed=cfg.study.seed
    )  # streams seeded by ("best arm", ...) from the root seed


def figure_numbers(
    cfg: Config, summary: dict[str, Any], records: Sequence[dict[str, Any]], curves: dict[str, np.ndarray]
) -> dict[str, Any]:
    """What a run's figures draw, computed here so `render` only draws: per arm with finished runs (summary
    order), its accuracies, its test accuracy and loss bands (at the source-model level for an arm whose runs
    come from source models: cluster-robust SE) and its mean curve per epoch of every curve; and, for a study of
    K > 1 source models with the baseline arm among them, each source model's mean per source-using arm
    (`sources`: arms, means (K, arms) with NaN where a source has no finished run, the baseline's accuracies).
    curves: key -> (N, epochs + 1), rows in records order."""
    by_arm = arm_accuracies(cfg, records)
    names = [a["arm"] for a in summary["arms"] if a["n"]]
    bands = {
        key: {
            n: curve_band(
                curves[key][by_arm[n]["rows"]], groups=by_arm[n]["source_index"] if by_arm[n]["uses_source"] else None
            )
            for n in names
        }
        for key in ("test_accuracy", "test_loss")
    }
    out = {
        "names": names,
        "accuracies": [by_arm[n]["accuracy"] for n in names],
        "bands": bands,
        "means": {n: {k: curves[k][by_arm[n]["rows"]].mean(axis=0) for k in curves} for n in names},
        "sources": None,
    }
    nested = [n for n in names if by_arm[n]["uses_source"]]
    if cfg.study.source_repeats > 1 and nested and cfg.study.baseline in names:
        k = cfg.study.source_repeats
        per_source = np.full((k, len(nested)), np.nan)
        for a, n in enumerate(nested):
            for g in range(k):
                runs = by_arm[n]["accuracy"][by_arm[n]["source_index"] == g]
                per_source[g, a] = runs.mean() if len(runs) else np.nan
        out["sources"] = {"arms": nested, "means": per_source, "baseline": by_arm[cfg.study.baseline]["accuracy"]}
    return out
