"""Which source model will transfer: transferability scores of source models, and how well they ranked them.

A `compare` run with K >= 2 source models saves each source model as `source_models/source_NNN.keras` (written
without TensorFlow; a `.json` beside each records its seed), so a user can keep the best one; where it scores them
(`[study] score_sources`, by default with K >= 3; `compare` has a forked child score them while it trains,
`scoring`) it writes `transferability.csv` (one row per source model: its index and seed, every score of
`stats.transferability.SCORES` on the target's training split, and per transfer arm the source's realised mean test
accuracy, an exact fraction of its correct counts, so that equal means are equal in the table and in every statistic
computed from it). The run's summary then says, per transfer arm and score, how well the score ranked the sources
(`stats.rank_agreement`), and a figure shows each score against the realised mean. `rank_sources` scores saved
source models on a target problem before any target training; like every reader here it reads `.keras` files with
h5py, without TensorFlow. Given a sweep's directory, `api.setups.rank_sweep` asks the same of every cell.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from blobs_transfer import atomic
from blobs_transfer.api.sources import load_source_model
from blobs_transfer.config import Config, ProblemSpec
from blobs_transfer.errors import ResultsError, SourceModelError
from blobs_transfer.model.arms import Weights
from blobs_transfer.model.forward import mlp_outputs
from blobs_transfer.model.keras_file import write_weights
from blobs_transfer.problems import make_problem
from blobs_transfer.render import report
from blobs_transfer.render.transferability import ranking_table, scores_figure
from blobs_transfer.rundir.files import Forked, write_csv, write_json
from blobs_transfer.seeds import statistic_seed
from blobs_transfer.stats import exact_means, rank_agreement
from blobs_transfer.stats.summary import arm_accuracies
from blobs_transfer.stats.transferability import FIRST_SCORES, SCORES, score_rows
from blobs_transfer.train.plan import Sources

CSV_NAME = "transferability.csv"
MODELS = "source_models"
FIGURE = "transferability.png"
N_RESAMPLES = 1000  # two-stage resamples per transfer arm for the CIs of rho and tau
MIN_SOURCES = 3  # a rank correlation of fewer source models says nothing
NLEEP_SEED = "nleep"  # the name of N-LEEP's mixture's seed (`seeds.statistic_seed` of the study's root seed)
SPLIT_AT = 50  # from this many source models, `score_models` splits them over two processes
REFERENCE = "probe_accuracy"  # every score's rho is also given as a paired difference to the plain probe's


def model_file(index: int) -> str:
    """The run-relative path of source model `index`'s .keras file."""
    return f"{MODELS}/source_{index:03d}.keras"


def score_models(
    cfg: Config, weights: Sequence[Weights], spec: ProblemSpec | None = None, *, split: bool = True
) -> list[dict[str, float]]:
    """Every score of every source model (in order) on the training split of `spec` (default: the target), all
    models at once (`score_rows`). N-LEEP's mixture starts from the seed named "nleep" of the study's root seed,
    the same for every source. split: from SPLIT_AT models, the second half is scored in a forked child on the
    other core (`files.Forked`) while this process scores the first: every model's scores are the same to the
    bit however the models are batched (tested)."""
    if not weights:
        return []
    if split and len(weights) >= SPLIT_AT:
        half = len(weights) // 2
        with Forked(partial(score_models, cfg, weights[half:], spec, split=False)) as rest:
            return score_models(cfg, weights[:half], spec, split=False) + rest.result()
    problem = make_problem(spec or cfg.target_spec)
    seed = statistic_seed(cfg.study.seed, NLEEP_SEED)
    features, probs = zip(*(mlp_outputs(w, problem.x_train) for w in weights))
    with threadpool_limits(limits=1):  # small products: a second BLAS thread only waits (2x the CPU, 2 cores)
        rows = score_rows(np.stack(features), np.stack(probs), problem.y_train, seed)
    return [{name: float(values[i]) for name, values in rows.items()} for i in range(len(weights))]


def transfer_arms(cfg: Config) -> list[str]:
    """The arms whose runs start from the study's source models (their realised means are the truth)."""
    return [a.name for a in cfg.arms if a.uses_source and cfg.source_problem_of(a) == cfg.study.source_problem]


def realised_means(cfg: Config, records: Sequence[dict[str, Any]]) -> dict[str, dict[int, float]]:
    """Per transfer arm: source index -> mean test accuracy of its finished runs (diverged runs left out), their
    summed correct counts over their summed test rows (`exact_means`: equal fractions, equal means)."""
    by_arm = arm_accuracies(cfg, records)
    out = {}
    for arm in transfer_arms(cfg):
        out[arm] = {}
        if len(by_arm[arm]["accuracy"]):
            labels, means = exact_means.realised_means(
                by_arm[arm]["correct"], cfg.target_spec.n_test, by_arm[arm]["source_index"]
            )
            out[arm] = {int(k): float(m) for k, m in zip(labels, means)}
    return out


def scored_models(cfg: Config, sources: Sources | None) -> list[Any]:
    """The source models a run saves (and scores, where `Config.scores_sources`): its K >= 2 models of the
    study's source problem where a transfer arm starts from them; else none."""
    models = (sources or {}).get(cfg.source_spec, [])
    return list(models) if len(models) >= 2 and transfer_arms(cfg) else []


def scoring(cfg: Config, sources: Sources | None) -> Forked | None:
    """Where the run scores its source models, a forked child that scores them (`score_models`, in one process:
    this one trains meanwhile) from now on, for `write_table`; else None."""
    models = scored_models(cfg, sources)
    if not (models and cfg.scores_sources):
        return None
    return Forked(partial(score_models, cfg, [m.weights for m in models], split=False))


def save_source_files(run_dir: Path, cfg: Config, sources: Sources | None) -> None:
    """The source models' .keras files of a run with K >= 2 source models (`scored_models`; else nothing)."""
    models = scored_models(cfg, sources)
    save_models(run_dir, cfg, [m.weights for m in models], [m.seed for m in models])


def write_scores_table(
    run_dir: Path, cfg: Config, sources: Sources | None, records: Sequence[dict[str, Any]], scores: Forked | None
) -> None:
    """transferability.csv, where the run scores its source models (`Config.scores_sources`, `scored_models`);
    scores: the child already scoring them (`scoring`), else they are scored here."""
    models = scored_models(cfg, sources)
    if models and cfg.scores_sources:
        write_table(run_dir, cfg, models, records, scores.result() if scores is not None else None)


def write_table(
    run_dir: Path,
    cfg: Config,
    models: Sequence[Any],
    records: Sequence[dict[str, Any]],
    scores: Sequence[dict[str, float]] | None = None,
) -> None:
    """transferability.csv: every score of each source model (with .weights and .seed, in index order; scores:
    `score_models`' rows of them where already computed) and its realised mean per transfer arm from the run's
    records (scores.csv rows)."""
    scores = score_models(cfg, [m.weights for m in models]) if scores is None else scores
    truth = realised_means(cfg, records)
    arms = transfer_arms(cfg)
    rows = []
    for index, (model, row) in enumerate(zip(models, scores)):
        means = [truth[a].get(index) for a in arms]
        rows.append(
            [
                index,
                "" if model.seed is None else model.seed,
                *(f"{row[s]:.9g}" for s in SCORES),
                *("" if m is None else f"{m:.6f}" for m in means),
            ]
        )
    write_csv(run_dir / CSV_NAME, ["source_index", "source_seed", *SCORES, *arms], rows)


def save_models(run_dir: Path, cfg: Config, weights: Sequence[Weights], seeds: Sequence[int | None]) -> None:
    """Each source model as source_models/source_NNN.keras (written without TensorFlow, loaded by Keras) with its
    seed in a .json beside it."""
    for index, (w, seed) in enumerate(zip(weights, seeds)):
        path = run_dir / model_file(index)
        try:
            write_weights(path, cfg, w)
        except OSError as exc:
            raise atomic.cannot_write(path, exc) from None
        write_json(
            path.with_suffix(".json"),
            {"source_index": index, "seed": seed, "problem": cfg.study.source_problem, "root_seed": cfg.study.seed},
        )


def data_files(run_dir: Path) -> tuple[str, ...]:
    """The run-relative names of what `save_source_files` and `write_scores_table` wrote (data a run's manifest
    vouches for)."""
    models = sorted(
        p.relative_to(run_dir).as_posix()
        for p in (run_dir / MODELS).glob("source_*.*")
        if p.suffix in (".keras", ".json")
    )
    return ((CSV_NAME,) if (run_dir / CSV_NAME).is_file() else ()) + tuple(models)


def read_table(path: Path) -> dict[str, np.ndarray]:
    """transferability.csv as columns: source_index (K,) int, every score and arm (K,) float (NaN where empty). A
    table written before issue 34 has only the first six scores (`FIRST_SCORES`), which is all a reader needs."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        columns = {"source_index": np.array([int(r["source_index"]) for r in rows])}
        for name in rows[0] if rows else []:
            if name not in ("source_index", "source_seed"):
                columns[name] = np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{path} cannot be read as a transferability table: {exc}") from None
    missing = [s for s in FIRST_SCORES if s not in columns]
    if missing:
        raise ResultsError(f"{path} lacks the score columns {', '.join(missing)}")
    return columns


def scores_in(table: dict[str, np.ndarray]) -> list[str]:
    """The scores of `SCORES` that a transferability table has, in that order."""
    return [s for s in SCORES if s in table]


def add_to_summary(run_dir: Path, cfg: Config, records: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """summary["transferability"], from transferability.csv and the run's scores, where the run has the table and
    at least MIN_SOURCES source models: per transfer arm and score, `rank_agreement.agreement`."""
    if not (Path(run_dir) / CSV_NAME).is_file():
        return
    table = read_table(Path(run_dir) / CSV_NAME)
    labels = table["source_index"]
    names = scores_in(table)
    by_arm = arm_accuracies(cfg, records)
    arms = {}
    for arm in transfer_arms(cfg):
        data = by_arm[arm]
        if np.unique(data["source_index"]).size < MIN_SOURCES:
            continue
        with threadpool_limits(limits=1):  # as in score_models
            arms[arm] = rank_agreement.agreement(
                {s: table[s] for s in names},
                labels,
                data["accuracy"],
                data["source_index"],
                seed=cfg.study.seed,
                arm=arm,
                n_resamples=N_RESAMPLES,
                reference=REFERENCE,
                n_test=cfg.target_spec.n_test,
            )
    if arms:
        summary["transferability"] = {
            "n_sources": int(labels.size),
            "scores": names,
            "arms": arms,
            "n_resamples": N_RESAMPLES,
            "top_share": rank_agreement.TOP_SHARE,
            "reference": REFERENCE,
        }


def figures(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """{"transferability.png": each score against the realised mean, one panel per arm} for a run whose summary
    has the statistics; else {}."""
    if "transferability" not in summary:
        return {}
    table = read_table(Path(run_dir) / CSV_NAME)
    arms = list(summary["transferability"]["arms"])
    return {
        FIGURE: scores_figure(
            {s: table[s] for s in scores_in(table)}, {a: table[a] for a in arms}, summary["transferability"]
        )
    }


# --- rank-sources --------------------------------------------------------------------------------------

_INDEX = re.compile(r"source_(\d+)$")


def source_files(paths: Sequence[str | Path]) -> list[Path]:
    """The .keras files named, a run directory standing for its source_models/*.keras (in index order)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted((p / MODELS).glob("source_*.keras")) or sorted(p.glob("*.keras"))
            if not found:
                raise SourceModelError(
                    f"{p} holds no source models (no {MODELS}/source_*.keras and no *.keras): "
                    "a compare run saves them when it trains 2 or more"
                )
            out += found
        else:
            out.append(p)
    if not out:
        raise SourceModelError("no source models given: name .keras files or a compare run's directory")
    return out


def rank_sources(cfg: Config, paths: Sequence[str | Path], out: str | Path | None = None) -> list[dict[str, Any]]:
    """Score saved source models on the target problem's training split, before any target training: rows of
    {"file", "source_index" (from a source_NNN name, else None), "source_seed" (from its .json, else None), and
    every score}, in the order given; written as CSV to `out` if given. No TensorFlow."""
    files = source_files(paths)
    models = [load_source_model(f, cfg) for f in files]
    rows = []
    for f, model, scores in zip(files, models, score_models(cfg, [m.weights for m in models])):
        match = _INDEX.search(f.stem)
        rows.append(
            {
                "file": str(f),
                "source_index": int(match.group(1)) if match else None,
                "source_seed": model.seed,
                **scores,
            }
        )
    if out is not None:
        columns = ["file", "source_index", "source_seed", *SCORES]
        write_csv(
            Path(out),
            columns,
            (
                [
                    ("" if r[c] is None else r[c]) if c in ("file", "source_index", "source_seed") else f"{r[c]:.9g}"
                    for c in columns
                ]
                for r in rows
            ),
        )
    return rows


def ranking_text(cfg: Config, rows: list[dict[str, Any]]) -> str:
    """rank-sources' terminal output: the table of scores and which source each score picks."""
    intro, scores, picks = ranking_table(rows, SCORES, cfg.describe_problem(cfg.target_spec))
    return "\n".join([intro, report.format_table(*scores), "", *picks])
