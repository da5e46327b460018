"""Transferability across a sweep's setups (blobs_transfer.api.setups): `rank-sources SWEEP --out` writes the
study beside its rows, and every number in it is recomputed here from the files a user gets (runs.csv,
transferability.csv) with scipy, not with the package's own functions."""

import csv
import html
import json
from itertools import combinations

import numpy as np
import pytest
from scipy.stats import spearmanr

from blobs_transfer.api import setups as api_setups
from blobs_transfer.render import setups as words
from blobs_transfer.stats.setups import ALL_ARMS
from blobs_transfer.stats.transferability import SCORES
from tests.helpers import PNG, invoke, last_line_dir, write

SWEEP = """
[study]
source_repeats = 5
repeats = 2

[training]
epochs = 4

[[arms]]
name = "standalone"
weights = "fresh"
repeats = 4

[[arms]]
name = "transfer fixed=0"
weights = "source"
fixed = 0

[[arms]]
name = "transfer fixed=2"
weights = "source"
fixed = 2

[sweep]
"target.n_train" = [50, 100]
"source.cluster_std" = [1.0, 2.0]
"""
ARMS = ("transfer fixed=0", "transfer fixed=2")
KEYS = ("target.n_train", "source.cluster_std")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A 2 x 2 sweep of 5 source models and 2 runs each, ranked by `rank-sources --out`."""
    folder = tmp_path_factory.mktemp("setups")
    config = write(folder, SWEEP)
    made = invoke("sweep", "--config", config, "--results-dir", folder / "results")
    assert made.exit_code == 0, made.output
    sweep = last_line_dir(made, folder / "results")
    out = sweep / "transferability.csv"
    ranked = invoke("rank-sources", sweep, "--out", out)
    assert ranked.exit_code == 0, ranked.output
    return {"sweep": sweep, "out": out, "output": ranked.output}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def key_of(row):
    return tuple(float(row[k]) for k in KEYS)


def test_every_setup_rho_partial_rho_and_ceiling_recomputed_from_the_files(study):
    table, runs, setups_csv = rows(study["out"]), rows(study["sweep"] / "runs.csv"), rows(study["sweep"] / "setups.csv")
    assert len(setups_csv) == 4 * len(ARMS) * len(SCORES)
    assert list(setups_csv[0])[:5] == [*KEYS, "arm", "score", "rho"]
    checked = 0
    for row in setups_csv:
        mine = [t for t in table if key_of(t) == key_of(row)]
        means = np.array([float(t[row["arm"]]) for t in mine])
        score = np.array([float(t[row["score"]]) for t in mine])
        dead = np.array([float(t["dead_units"]) for t in mine])
        rho = spearmanr(score, means).statistic
        if not np.isfinite(rho):
            assert row["rho"] == ""
            continue
        assert float(row["rho"]) == pytest.approx(rho, abs=5e-6)
        assert float(row["rho_ci_low"]) <= float(row["rho_ci_high"])
        r_xz, r_yz = spearmanr(score, dead).statistic, spearmanr(means, dead).statistic
        if np.isfinite(r_xz) and np.isfinite(r_yz) and row["partial_rho"] != "":
            partial = (rho - r_xz * r_yz) / np.sqrt((1 - r_xz**2) * (1 - r_yz**2))
            assert float(row["partial_rho"]) == pytest.approx(partial, abs=5e-6)
        # the ceiling from the runs: one column per repeat, each pair's rho, stepped up to 2 runs
        arm_runs = [r for r in runs if key_of(r) == key_of(row) and r["arm"] == row["arm"]]
        correct = np.zeros((5, 2))
        for r in arm_runs:
            correct[int(r["source_index"]), int(r["repeat"])] = int(r["test_correct"])
        r1 = np.mean([spearmanr(correct[:, i], correct[:, j]).statistic for i, j in combinations(range(2), 2)])
        reliability = 2 * r1 / (1 + r1)
        assert float(row["reliability"]) == pytest.approx(reliability, abs=5e-6)
        assert float(row["ceiling"]) == pytest.approx(np.sqrt(max(reliability, 0)), abs=5e-6)
        checked += 1
    assert checked >= len(setups_csv) // 2


def test_win_rates_are_the_shares_of_setups_each_score_tops(study):
    setups_csv, rates = rows(study["sweep"] / "setups.csv"), rows(study["sweep"] / "win_rates.csv")
    assert {r["arm"] for r in rates} == {*ARMS, ALL_ARMS}
    wins = {arm: dict.fromkeys(SCORES, 0.0) for arm in ARMS}
    for arm in ARMS:
        for setup in {key_of(r) for r in setups_csv}:
            rho = {r["score"]: float(r["rho"] or 0) for r in setups_csv if key_of(r) == setup and r["arm"] == arm}
            top = [s for s, v in rho.items() if v == max(rho.values())]
            for s in top:
                wins[arm][s] += 1 / len(top) / 4
    for r in rates:
        expected = wins[r["arm"]][r["score"]] if r["arm"] != ALL_ARMS else np.mean([wins[a][r["score"]] for a in ARMS])
        assert float(r["win_rate"]) == pytest.approx(expected, abs=5e-6)
        assert float(r["win_rate_ci_low"]) <= float(r["win_rate"]) + 1e-9 <= float(r["win_rate_ci_high"]) + 2e-9


def test_the_study_is_written_and_said(study):
    sweep = study["sweep"]
    result = json.loads((sweep / "transferability.json").read_text())
    block = result["study"]
    assert block["n_setups"] == 4 and block["reference"] == "probe_accuracy"
    best = words.label(block["best"])
    assert block["findings"][0].split(":")[0] in (f"Trust {best}", f"The best bet is {best}")
    for finding in block["findings"]:
        assert finding in study["output"]
    page = (sweep / api_setups.REPORT).read_text()
    assert "Win rates over every transfer arm" in page and html.escape(block["findings"][2]) in page
    for name in (words.HEATMAP, words.WIN_RATES, words.CEILING):
        assert (sweep / name).read_bytes().startswith(PNG)


def test_a_sweep_with_too_few_source_models_gets_no_study(small_sweep, tmp_path):
    """Two source models per cell rank nothing, so there is no study and no study files."""
    out = tmp_path / "r.csv"
    assert invoke("rank-sources", small_sweep, "--out", out).exit_code == 0
    assert "study" not in json.loads(out.with_suffix(".json").read_text())
    assert not (tmp_path / "setups.csv").exists() and not (tmp_path / api_setups.REPORT).exists()
