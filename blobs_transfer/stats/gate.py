"""The regression gate: a run's per-arm statistics against a committed baseline, within stated bands.

Pure functions, no TensorFlow, no files, no words: `render.gate` formats the rows as tables. A band says how far
a statistic may move before the gate calls it a change, and each band records why it is that wide.

Why the bands are what they are. With the same seed, library versions and platform, a run reproduces its
baseline exactly, so any band passes. What the bands must tolerate is a run whose repeats and source models are
*other draws from the same distributions* (another root seed, another CPU's float rounding, a patch release of
TensorFlow), and what they must catch is a change of the distributions themselves. So each band is Z_BAND
standard errors of the difference of two independent estimates of the statistic, sqrt(2) x SE, where SE is
the statistic's bootstrap standard error in the baseline run, resampled at the right unit of replication: for
an arm whose runs are nested in K > 1 source models, a two-stage bootstrap (source models with replacement,
then runs within each), because nearly all of a transfer arm's variance is between source models; for an arm
of independent runs, a plain bootstrap of runs. Z_BAND = 4 is two-sided 6.3e-5 per statistic under normality,
below 1e-3 for a dozen statistics together (Bonferroni). Accuracies are multiples of 1/n_test, so no band is
narrower than FLOOR_ROWS test rows. The count of runs and of diverged runs must match exactly.
`benchmarks/calibrate_gate.py` measures the false alarms and detections these bands give.

The findings are guarded too, because they are what a user claims from the study ("transfer fixed=1 is worse
than standalone"), and a change can move them while every arm stays in its band (two arms shifted in opposite
directions). For each arm against the baseline arm the baseline holds the difference of means and P(arm beats
baseline) (A12), each with a band of Z_BAND x sqrt(2) x SE, the SE from one joint resample of the two arms (the
arm two-stage over its source models, the baseline arm's runs a plain bootstrap, independently), and the
verdict. The floors: FLOOR_ROWS test rows for the difference, FLOOR_P for P. A verdict that flips between
better and worse fails; one that moves to or from "no evidence" is reported as changed but does not fail: an
arm near the test's threshold crosses it between draws of the same study, and a real move of the finding
moves its difference or its P out of band.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from blobs_transfer.seeds import statistic_rng, statistic_seed
from blobs_transfer.stats.resample import Draw, Sample, Stream, resample

Z_BAND = 4.0
FLOOR_ROWS = 2
FLOOR_P = 0.01
N_RESAMPLES = 2000
STATISTICS = ("mean", "median", "std")
FINDINGS = ("diff_mean", "a12")  # of each arm against the baseline arm, as the summary's comparisons name them
DECISIVE = ("better", "worse")  # the verdicts that may not flip into each other


def finding_label(key: str, against: str) -> str:
    """How a row names a finding: "mean - standalone", "P(> standalone)", "verdict"."""
    return {"diff_mean": f"mean - {against}", "a12": f"P(> {against})", "verdict": "verdict"}[key]


def statistics_of(values: np.ndarray) -> dict[str, np.ndarray]:
    """mean, median and std (ddof=1) along the last axis; values (..., n)."""
    return {"mean": values.mean(-1), "median": np.median(values, -1), "std": values.std(-1, ddof=1)}


def _statistics_of_draws(grid: np.ndarray) -> Callable[[Draw], np.ndarray]:
    """The STATISTICS of each resample of a sample on `grid` (D,), from its histogram: (b, 3) mean, median, std
    (ddof=1), exactly what `statistics_of` gives on the drawn runs themselves (up to rounding)."""
    centred = grid - grid.mean()  # sums of squares about a nearby centre: no cancellation

    def statistic(draw: Draw) -> np.ndarray:
        hist, n = draw.hist(), draw.totals
        mean = hist @ centred / n
        var = (hist @ centred**2 - n * mean**2) / (n - 1)
        cum = np.cumsum(hist, axis=1)
        low = grid[np.argmax(cum > ((n - 1) // 2)[:, None], axis=1)]  # the middle order statistics
        high = grid[np.argmax(cum > (n // 2)[:, None], axis=1)]
        return np.stack([mean + grid.mean(), (low + high) / 2, np.sqrt(np.maximum(var, 0.0))], axis=1)

    return statistic


def bootstrap_se(
    values: np.ndarray, groups: np.ndarray | None, *, seed: int, n_resamples: int = N_RESAMPLES
) -> dict[str, float]:
    """Bootstrap SE of each statistic of one arm; values (n,) accuracies, groups (n,) source indices or None
    (two-stage when there is more than one group, else a plain bootstrap of the runs), from the resampling
    core: memory O(chunk), whatever n."""
    values = np.asarray(values, float)
    grid, index = np.unique(values, return_inverse=True)
    sample = Sample(index, grid.size, None if groups is None or len(np.unique(groups)) < 2 else np.asarray(groups))
    draws = resample(_statistics_of_draws(grid), n_resamples, Stream(sample, np.random.default_rng(seed)))
    return {stat: float(np.std(draws[:, i], ddof=1)) for i, stat in enumerate(STATISTICS)}


def finding_se(
    arm: np.ndarray, groups: np.ndarray | None, base: np.ndarray, *, seed: int, n_resamples: int = N_RESAMPLES
) -> dict[str, float]:
    """Bootstrap SE of the difference of means and of A12 = P(arm > base) + P(tie) / 2 of an arm (n,) against
    the baseline arm (m,), from one joint resample by the resampling core: the arm two-stage over its source
    models (groups (n,) with K > 1) or a plain bootstrap of its runs (None), the baseline arm's runs a plain
    bootstrap from their own named stream, so the two are drawn independently as the comparison treats them."""
    arm, base = np.asarray(arm, float), np.asarray(base, float)
    grid, index = np.unique(np.concatenate([arm, base]), return_inverse=True)
    index = index.reshape(-1)
    nested = groups is not None and len(np.unique(groups)) > 1

    def statistic(da: Draw, db: Draw) -> np.ndarray:
        hb = db.hist()
        below = np.cumsum(hb, axis=1) - 0.5 * hb  # baseline runs below each grid value, ties counting half
        a12 = np.einsum("bd,bd->b", da.hist(), below) / (da.totals * db.totals)
        return np.stack([da.sums(grid) / da.totals - db.sums(grid) / db.totals, a12], axis=1)

    draws = resample(
        statistic,
        n_resamples,
        Stream(
            Sample(index[: arm.size], grid.size, np.asarray(groups) if nested else None), np.random.default_rng(seed)
        ),
        Stream(Sample(index[arm.size :], grid.size), statistic_rng(seed, "baseline")),
    )
    return {key: float(np.std(draws[:, i], ddof=1)) for i, key in enumerate(FINDINGS)}


def _band(value: float, se: float, floor: float, floor_why: str, unit: str) -> dict[str, Any]:
    raw = Z_BAND * math.sqrt(2.0) * se
    return {
        "value": float(value),
        "se": round(se, 6),
        "tolerance": round(max(floor, raw), 4),
        "why": f"{Z_BAND:g} x sqrt(2) x SE, SE = {se:.4f} by {unit}: {raw:.4f}"
        + (f"; raised to the floor of {floor_why} ({floor:.4f})" if raw < floor else ""),
    }


def _unit(n: int, groups: np.ndarray | None) -> str:
    n_groups = len(np.unique(groups)) if groups is not None else 1
    return f"two-stage bootstrap over {n_groups} source models" if n_groups > 1 else f"bootstrap of {n} runs"


def make_findings(
    arms: Sequence[dict[str, Any]], comparisons: Sequence[dict[str, Any]], *, n_test: int, seed: int
) -> dict[str, Any]:
    """Each compared arm's findings against the baseline arm, with bands. arms as for `make_baseline`;
    comparisons: the summary's rows ({"arm", "baseline", "diff_mean", "a12", "verdict", "verdict_p_holm"});
    each arm's SEs resampled from `statistic_seed(seed, "gate finding", arm)`."""
    by_name = {a["arm"]: a for a in arms}
    out = {}
    for row in comparisons:
        arm, base = by_name[row["arm"]], by_name[row["baseline"]]
        values, groups = np.asarray(arm["accuracy"], float), arm.get("groups")
        ses = finding_se(values, groups, base["accuracy"], seed=statistic_seed(seed, "gate finding", row["arm"]))
        unit = f"{_unit(values.size, groups)} and a bootstrap of the {np.size(base['accuracy'])} {row['baseline']} runs"
        out[row["arm"]] = {
            "against": row["baseline"],
            "diff_mean": _band(
                row["diff_mean"], ses["diff_mean"], FLOOR_ROWS / n_test, f"{FLOOR_ROWS} test rows", unit
            ),
            "a12": _band(row["a12"], ses["a12"], FLOOR_P, "P", unit),
            "verdict": row["verdict"],
            "verdict_p_holm": row["verdict_p_holm"],
        }
    return out


def make_baseline(
    arms: Sequence[dict[str, Any]],
    *,
    n_test: int,
    run: dict[str, Any],
    source: str,
    seed: int,
    study: dict[str, Any] | None = None,
    comparisons: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Baseline bands from one run. arms: per arm {"arm", "n_diverged", "accuracy" (n,), "groups" (n,) or None};
    seed: the run's root seed, each arm's SEs resampled from `statistic_seed(seed, "gate", arm)` (by name, so
    an arm's band does not depend on the other arms or their order); study: the run's `study_settings`, so
    that `check` can refuse a run of another study; comparisons: the summary's, for the findings
    (`make_findings`)."""
    floor = FLOOR_ROWS / n_test
    out = {}
    for arm in arms:
        values = np.asarray(arm["accuracy"], float)
        entry: dict[str, Any] = {"n": int(values.size), "n_diverged": int(arm["n_diverged"])}
        groups = arm.get("groups")
        nested = groups is not None and len(np.unique(groups)) > 1
        if values.size >= 2:
            point = statistics_of(values)
            ses = bootstrap_se(values, groups if nested else None, seed=statistic_seed(seed, "gate", arm["arm"]))
            for stat in STATISTICS:
                entry[stat] = _band(
                    point[stat],
                    ses[stat],
                    floor,
                    f"{FLOOR_ROWS} test rows",
                    _unit(values.size, groups if nested else None),
                )
        out[arm["arm"]] = entry
    paragraphs = __doc__.split("\n\n")
    return {
        "about": " ".join(f"{paragraphs[2]} {paragraphs[3]}".split()),
        "source_run": source,
        "run": run,
        **({"study": study} if study is not None else {}),
        "z_band": Z_BAND,
        "floor_rows": FLOOR_ROWS,
        "floor_p": FLOOR_P,
        "arms": out,
        "findings": make_findings(arms, comparisons, n_test=n_test, seed=seed),
    }


# A baseline guards one study: every setting that changes the numbers, except those the bands exist to tolerate,
# another root seed (other draws of the same distributions) and another engine (the same training, computed
# another way). Paths are never part of a config.
NOT_THE_STUDY = ("study.seed", "study.engine", "study.score_sources")  # the last changes no run, only what is written
# What a baseline written before it recorded its study still tells: its "run" table, as config keys.
LEGACY_RUN_KEYS = {
    "target": "target",
    "source": "source",
    "repeats": "study.repeats",
    "source_repeats": "study.source_repeats",
    "epochs": "training.epochs",
}


def study_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved config (`config.config_to_dict`) as flat "section.key" -> value ("arms[i].key" for arms),
    without NOT_THE_STUDY."""
    flat = {}
    for section, table in config.items():
        if section == "arms":
            for i, arm in enumerate(table):
                flat.update({f"arms[{i}].{k}": v for k, v in arm.items()})
        else:
            flat.update({f"{section}.{k}": v for k, v in table.items()})
    return {k: v for k, v in flat.items() if k not in NOT_THE_STUDY}


UNSET = object()  # what `study_differences` gives for a setting one side does not have (None is a value)


def study_differences(
    baseline: dict[str, Any], settings: dict[str, Any], run: dict[str, Any]
) -> tuple[list[tuple[str, Any, Any]], bool]:
    """(the settings in which a run differs from the baseline's study, as (key, run value, baseline value) in
    key order, a value `UNSET` where that side lacks the key; whether the baseline recorded its whole study).
    settings: the run's `study_settings`; run: its summary's "run" table, compared instead for a baseline written
    before baselines recorded their study. `render.gate.difference` words a difference."""
    if "study" in baseline:
        theirs, ours, complete = baseline["study"], settings, True
    else:
        theirs = {LEGACY_RUN_KEYS[k]: v for k, v in baseline.get("run", {}).items() if k in LEGACY_RUN_KEYS}
        ours = {LEGACY_RUN_KEYS[k]: run.get(k) for k in baseline.get("run", {}) if k in LEGACY_RUN_KEYS}
        complete = False
    out = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = ours.get(key, UNSET), theirs.get(key, UNSET)
        if a != b:
            out.append((key, a, b))
    return out, complete


def check(summary: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (arm, statistic), then per (arm, finding) against the baseline arm: baseline value, run
    value, tolerance, whether it is within (`ok`), which finding it is (`finding`, None for an arm's own
    statistic) and a `note` where a verdict changed without failing (to or from "no evidence")."""
    rows = []
    by_arm = {a["arm"]: a for a in summary["arms"]}
    for name, entry in baseline["arms"].items():
        arm = by_arm.get(name)
        if arm is None:
            rows.append(_row(name, "present", "yes", "missing", None, False))
            continue
        for count in ("n", "n_diverged"):
            rows.append(_row(name, count, entry[count], arm[count], 0, entry[count] == arm[count]))
        for stat in STATISTICS:
            if stat in entry:
                rows.append(_within(name, stat, entry[stat], arm.get(stat)))
    compared = {(c["arm"], c["baseline"]): c for c in summary.get("comparisons", [])}
    for name, entry in baseline.get("findings", {}).items():  # a baseline written before findings has none
        against = entry["against"]
        found = compared.get((name, against))
        if found is None:
            rows.append(_row(name, f"against {against}", "compared", "missing", None, False, finding="present"))
            continue
        for key in FINDINGS:
            rows.append(_within(name, finding_label(key, against), entry[key], found.get(key), finding=key))
        want, got = entry["verdict"], found["verdict"]
        flipped = {want, got} == set(DECISIVE)
        note = None if want == got or flipped else f"{want} -> {got}"
        rows.append(_row(name, "verdict", want, got, None, not flipped, finding="verdict", note=note))
    return rows


def _within(arm: str, statistic: str, band: dict[str, Any], got: float | None, **extra) -> dict[str, Any]:
    want, tol = band["value"], band["tolerance"]
    return _row(arm, statistic, want, got, tol, got is not None and abs(got - want) <= tol + 1e-12, **extra)


def _row(arm, statistic, baseline, value, tolerance, ok, *, finding=None, note=None) -> dict[str, Any]:
    return {
        "arm": arm,
        "statistic": statistic,
        "baseline": baseline,
        "value": value,
        "tolerance": tolerance,
        "ok": ok,
        "finding": finding,
        "note": note,
    }


def changed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that passed with a note: verdicts that moved to or from "no evidence"."""
    return [r for r in rows if r["ok"] and r.get("note")]
