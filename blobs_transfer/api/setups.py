"""Transferability over a sweep's cells, each cell a setup: which score ranked source models best, and where.

`rank_sweep` scores every cell's source models (trained again from their recorded seeds, as the sweep trained
them) on the cell's target training split and sets them against each source's realised means there
(`rank_agreement.agreement` per transfer arm); per cell it adds the noise ceiling and each score's rho beyond
the number of dead units (`stats.setups`), and across cells whether a score's mean over the sources ranks the
targets by their benefit of transfer. With `out` it writes the rows (transferability.csv, one per cell and
source model) and everything beside them: transferability.json, and for two or more cells the study across
setups (`study`): setups.csv (one row per setup, transfer arm and score), win_rates.csv (per arm and score, over
the setups), three figures and transferability.html, whose sentences say which score to trust
(`render.setups`). configs/transferability.toml is the committed study (results/transferability).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from blobs_transfer.api.common import Progress, phase, write_text
from blobs_transfer.api.transferability import MIN_SOURCES, N_RESAMPLES, REFERENCE, score_models, transfer_arms
from blobs_transfer.model.forward import mlp_outputs
from blobs_transfer.problems import make_problem
from blobs_transfer.render import report
from blobs_transfer.render import setups as words
from blobs_transfer.render.transferability import sweep_tables
from blobs_transfer.rundir.files import save_figures, write_csv, write_json
from blobs_transfer.rundir.run import verify_run
from blobs_transfer.rundir.sweep_dir import read_cell
from blobs_transfer.stats import exact_means, rank_agreement, setups
from blobs_transfer.stats.common import opt_float
from blobs_transfer.stats.transferability import SCORES
from blobs_transfer.sweep.cells import cell_sources
from blobs_transfer.sweep.grid import load_sweep

SETUPS_CSV = "setups.csv"
WIN_RATES_CSV = "win_rates.csv"
REPORT = "transferability.html"


def _cell_truth(rows: list[list[str]], arms: Sequence[str], n_test: int) -> dict[str, dict[int, float]]:
    """A cell's runs.csv rows (arm, source_index, repeat, seed, test_accuracy, test_correct, ...) -> per arm,
    source -> mean, its summed correct counts over its summed test rows (`exact_means`)."""
    out: dict[str, dict[int, float]] = {a: {} for a in arms}
    for arm in arms:
        mine = [r for r in rows if r[0] == arm and r[1] != "" and r[4] != ""]
        if mine:
            labels, means = exact_means.realised_means([int(r[5]) for r in mine], n_test, [int(r[1]) for r in mine])
            out[arm] = {int(k): float(m) for k, m in zip(labels, means)}
    return out


def _correct(rows: list[list[str]], arm: str, k: int) -> np.ndarray:
    """(K, R) one arm's correct counts per source model and repeat (NaN for a diverged or missing run)."""
    mine = [r for r in rows if r[0] == arm and r[1] != ""]
    repeats = 1 + max((int(r[2]) for r in mine), default=0)
    out = np.full((k, repeats), np.nan)
    for r in mine:
        if r[4] != "":
            out[int(r[1]), int(r[2])] = int(r[5])
    return out


def _cell_setups(columns, dead, means, correct) -> dict[str, Any]:
    """A cell's arm beyond its agreement: the reliability and ceiling of its realised means, each score's rho
    controlling for the dead units, and the dead units' own rho (fewer ranked higher). means (K,) in source
    order, NaN where a source has no finished run."""
    rel = setups.reliability(correct)
    have = np.isfinite(means)
    return {
        "reliability": opt_float(rel),
        "ceiling": setups.ceiling(rel),
        "partial_rho": {s: setups.partial_rho(v[have], means[have], dead[have]) for s, v in columns.items()},
        "dead_units_rho": opt_float(rank_agreement.spearman_rows(-dead[have][None], means[have][None])[0]),
    }


def rank_sweep(
    sweep_path: str | Path, out: str | Path | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """Transferability over a finished sweep's cells (see the module). Returns {"keys", "n_sources", "cells":
    [{"values", "scores": {score: mean}, "benefit": {arm: comparison}, "agreement": {arm: {score: row}},
    "dead_units": [per source], "setups": {arm: {"reliability", "ceiling", "partial_rho"}}}], "targets": {arm:
    {score: rho}}, and for 2 or more cells "study" (`study`)}. progress: told each cell scored ("scoring cells")."""
    sweep_path = Path(sweep_path)
    verify_run(sweep_path)
    sweep = load_sweep(sweep_path / "sweep.toml")
    keys, cells, table = sweep.keys, [], []
    scored = phase(progress, "scoring cells", len(sweep.cells()))
    for cell in sweep.cells():
        cfg = sweep.config_of(cell)
        arms = transfer_arms(cfg)
        models = cell_sources(cfg)[cfg.source_spec]
        scores = score_models(cfg, [m.weights for m in models])
        x_train = make_problem(cfg.target_spec).x_train
        dead = np.array([setups.dead_units(mlp_outputs(m.weights, x_train)[0]) for m in models])
        rows, summary = read_cell(sweep_path, cell)
        truth = _cell_truth(rows, arms, cfg.target_spec.n_test)
        columns = {s: np.array([r[s] for r in scores]) for s in SCORES}
        agreement, extra = {}, {}
        for arm in arms:
            labels = np.array(sorted(truth[arm]))
            if labels.size >= MIN_SOURCES:
                groups = np.array([int(r[1]) for r in rows if r[0] == arm and r[4] != ""])
                accuracy = np.array([float(r[4]) for r in rows if r[0] == arm and r[4] != ""])
                agreement[arm] = rank_agreement.agreement(
                    columns,
                    np.arange(len(models)),
                    accuracy,
                    groups,
                    seed=cfg.study.seed,
                    arm=arm,
                    n_resamples=N_RESAMPLES,
                    reference=REFERENCE,
                    n_test=cfg.target_spec.n_test,
                )
                means = np.array([truth[arm].get(i, np.nan) for i in range(len(models))])
                extra[arm] = _cell_setups(columns, dead, means, _correct(rows, arm, len(models)))
        benefit = {c["arm"]: c for c in summary["comparisons"] if c["arm"] in arms}
        cells.append(
            {
                "values": dict(cell.values),
                "scores": {s: float(np.mean(columns[s])) for s in SCORES},
                "benefit": benefit,
                "agreement": agreement,
                "dead_units": dead.tolist(),
                "setups": extra,
            }
        )
        if scored:
            scored(len(cells))
        for index, (model, row) in enumerate(zip(models, scores)):
            table.append(
                [
                    *(v for _, v in cell.values),
                    index,
                    model.seed,
                    *(f"{row[s]:.9g}" for s in SCORES),
                    int(dead[index]),
                    *("" if truth[a].get(index) is None else f"{truth[a][index]:.6f}" for a in arms),
                ]
            )
    first = sweep.config_of(sweep.cells()[0])
    arms = transfer_arms(first)
    targets = {}
    for arm in arms:
        diffs = np.array([c["benefit"].get(arm, {}).get("diff_mean", np.nan) for c in cells], dtype=float)
        targets[arm] = {
            s: opt_float(rank_agreement.spearman_rows(np.array([[c["scores"][s] for c in cells]]), diffs[None, :])[0])
            for s in SCORES
        }
    result = {"keys": keys, "n_sources": len(models), "cells": cells, "targets": targets}
    if sum(1 for c in cells if set(arms) <= set(c["agreement"])) >= 2:  # two setups, each with its sources ranked
        result["study"] = study(result, arms, seed=first.study.seed)
    if out is not None:  # the rows, and every statistic beside them as JSON
        out = Path(out)
        write_csv(out, [*keys, "source_index", "source_seed", *SCORES, "dead_units", *arms], table)
        write_json(out.with_suffix(".json"), result)
        if "study" in result:
            write_study(out.parent, result)
    return result


def setup_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per cell, transfer arm and score: the cell's keys, rho and weighted tau with their CIs,
    partial_rho, reliability, ceiling and the number of source models."""
    rows = []
    for cell in result["cells"]:
        for arm, by_score in cell["agreement"].items():
            extra = cell["setups"][arm]
            for score, a in by_score.items():
                rows.append(
                    {
                        **cell["values"],
                        "arm": arm,
                        "score": score,
                        "rho": a["rho"],
                        "rho_ci_low": a["rho_ci"][0],
                        "rho_ci_high": a["rho_ci"][1],
                        "tau": a["tau"],
                        "tau_ci_low": a["tau_ci"][0],
                        "tau_ci_high": a["tau_ci"][1],
                        "partial_rho": extra["partial_rho"][score],
                        "dead_units_rho": extra["dead_units_rho"],
                        "reliability": extra["reliability"],
                        "ceiling": extra["ceiling"],
                        "n_sources": a["n_sources"],
                    }
                )
    return rows


def study(result: dict[str, Any], arms: Sequence[str], *, seed: int) -> dict[str, Any]:
    """Across the cells (setups): `stats.setups.across_setups` per transfer arm and over all of them, and the
    sentences that answer which score to trust (`render.setups.findings`)."""
    cells = [c for c in result["cells"] if all(a in c["agreement"] for a in arms)]
    rho = {
        arm: np.array(
            [
                [np.nan if c["agreement"][arm][s]["rho"] is None else c["agreement"][arm][s]["rho"] for s in SCORES]
                for c in cells
            ]
        )
        for arm in arms
    }
    rows = setups.across_setups(rho, SCORES, reference=REFERENCE, seed=seed)
    out = {
        "n_setups": len(cells),
        "reference": REFERENCE,
        "margin": setups.MARGIN,
        "n_resamples": setups.N_RESAMPLES,
        "best": setups.best_score(rows),
        "win_rates": rows,
    }
    out["findings"] = words.findings(result["keys"], cells, out)
    return out


def write_study(folder: Path, result: dict[str, Any]) -> None:
    """setups.csv, win_rates.csv, the figures and transferability.html beside transferability.csv."""
    keys, block = result["keys"], result["study"]
    rows = setup_rows(result)
    columns = [*keys, "arm", "score", *(c for c in rows[0] if c not in keys and c not in ("arm", "score"))]
    write_csv(folder / SETUPS_CSV, columns, ([_cell(r[c]) for c in columns] for r in rows))
    rate_columns = ["arm", "score", "n_setups"]
    for key in ("win_rate", "beats_reference", "mean_rank", "mean_rho", "rho_diff"):
        rate_columns += [key, f"{key}_ci_low", f"{key}_ci_high"]
    rate_columns += ["p_diff", "p_diff_holm", "p_equivalent", "p_equivalent_holm", "verdict"]
    flat = [
        {
            **r,
            **{
                f"{k}_ci_{side}": r[f"{k}_ci"][i]
                for k in ("win_rate", "beats_reference", "mean_rank", "mean_rho", "rho_diff")
                for i, side in enumerate(("low", "high"))
            },
        }
        for r in block["win_rates"]
    ]
    write_csv(folder / WIN_RATES_CSV, rate_columns, ([_cell(r.get(c)) for c in rate_columns] for r in flat))
    figures = words.figures(keys, rows, block)
    save_figures({folder / name: fig for name, fig in figures.items()})
    pngs = {name: (folder / name).read_bytes() for name in figures}
    blocks = words.sections(keys, rows, block, list(figures))
    write_text(folder / REPORT, report.html(blocks, words.title(result, block), pngs))


def _cell(v: Any) -> str:
    """A CSV cell: floats to 6 significant digits, None empty."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def sweep_text(result: dict[str, Any]) -> str:
    """rank-sources' output for a sweep: per cell and arm the best-ranking score, the targets ranked, and across
    setups which score to trust."""
    intro, (header, body), targets = sweep_tables(result)
    lines = [intro, report.format_table(header, body), "", *targets]
    if "study" in result:
        lines += ["", *result["study"]["findings"]]
    return "\n".join(lines)
