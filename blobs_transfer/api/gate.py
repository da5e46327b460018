"""`check` and `baseline`: the regression gate over a finished run's verified files."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from blobs_transfer.config import config_to_dict
from blobs_transfer.errors import OtherStudyError, UnverifiedRunWarning
from blobs_transfer.render.gate import difference, gate_table, junit_xml, markdown
from blobs_transfer.render.report import format_table
from blobs_transfer.rundir.files import write_json
from blobs_transfer.rundir.run import read_baseline, run_summary
from blobs_transfer.stats import gate
from blobs_transfer.stats.summary import arm_accuracies


def check(run_dir: str | Path, baseline_file: str | Path, *, require_same_study: bool = True) -> list[dict[str, Any]]:
    """The regression gate: one row per (arm, statistic) of a finished run against a baseline, then per (arm,
    finding) against the baseline arm (difference of means, P(arm beats it), verdict), each with `ok`.

    The statistics are recomputed from the run's verified scores.csv, not read from summary.json, so an
    edited scores file cannot slip through. A run of another study than the baseline's (another setting
    that changes the numbers; the seed and engine may differ) is OtherStudyError naming the settings: its
    statistics would move for that reason alone. require_same_study=False compares anyway (to measure
    what the bands detect, as benchmarks/calibrate_gate.py does).
    """
    baseline = read_baseline(baseline_file)
    cfg, _, _, summary = run_summary(run_dir)
    if require_same_study:
        differences, complete = gate.study_differences(
            baseline, gate.study_settings(config_to_dict(cfg)), summary["run"]
        )
        differ = [difference(*d) for d in differences]
        if not complete:
            warnings.warn(
                f"{baseline_file} records only the target, source, repeats and epochs of its study (written "
                "before baselines recorded their config): only those are compared",
                UnverifiedRunWarning,
                stacklevel=2,
            )
        if differ:
            shown = ", ".join(differ[:4]) + (f" and {len(differ) - 4} more" if len(differ) > 4 else "")
            raise OtherStudyError(f"{run_dir} is a run of another study than {baseline_file} guards: {shown}")
    return gate.check(summary, baseline)


def write_baseline(run_dir: str | Path, out: str | Path) -> Path:
    """A regression baseline (per-arm statistics and findings with tolerance bands) from a finished run."""

    cfg, scores, _, summary = run_summary(run_dir)
    by_arm = arm_accuracies(cfg, scores)
    arms = [
        {
            "arm": a["arm"],
            "n_diverged": a["n_diverged"],
            "accuracy": by_arm[a["arm"]]["accuracy"],
            "groups": by_arm[a["arm"]]["source_index"] if by_arm[a["arm"]]["uses_source"] else None,
        }
        for a in summary["arms"]
    ]
    run = {k: summary["run"][k] for k in ("target", "source", "repeats", "source_repeats", "epochs", "seed", "engine")}
    write_json(
        Path(out),
        gate.make_baseline(
            arms,
            n_test=summary["run"]["n_test"],
            run=run,
            source=Path(run_dir).name,
            seed=cfg.study.seed,
            study=gate.study_settings(config_to_dict(cfg)),
            comparisons=summary["comparisons"],
        ),
    )
    return Path(out)


def gate_text(rows: list[dict[str, Any]]) -> str:
    """The gate's rows as the terminal table `check` prints."""
    return format_table(*gate_table(rows))


def gate_document(
    rows: list[dict[str, Any]], baseline: dict[str, Any], kind: str, *, run: str, baseline_file: str
) -> str:
    """The gate's rows as a CI document: kind "junit" (JUnit XML) or "markdown" (a job summary)."""
    render = {"junit": junit_xml, "markdown": markdown}[kind]
    return render(rows, baseline, run=run, baseline_file=baseline_file)
