"""Sweeps: grid parsing, the files and their columns, resume after an interruption, and a one-cell sweep
equal to `compare` with the same settings and seed."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from blobs_transfer.cli import cli
from blobs_transfer.rundir.sweep_dir import BEST_STATS, CELL_STATS, COMPARISON_STATS, RUN_COLUMNS
from blobs_transfer.sweep.grid import load_sweep
from blobs_transfer.render import findings
from blobs_transfer.render import sweep as sweep_report
from blobs_transfer.rundir import sweep_dir

PNG = b"\x89PNG\r\n\x1a\n"
SMALL = """
[study]
source_repeats = 2
repeats = 2
[training]
epochs = {epochs}
[sweep]
"target.n_train" = [20, 100]
"target.similarity_t" = [0.0, 1.0]
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


BAD_GRIDS = {
    "no [sweep] table": ("[study]\nrepeats = 2\n", "[sweep]"),
    "unknown key": ('[sweep]\n"target.n_trian" = [10, 20]\n', "target.n_trian"),
    "unknown section": ('[sweep]\n"nowhere.x" = [1]\n', "nowhere.x"),
    "empty list": ('[sweep]\n"target.n_train" = []\n', "non-empty list"),
    "not a list": ('[sweep]\n"target.n_train" = 10\n', "non-empty list"),
    "wrong type": ('[sweep]\n"target.n_train" = [10, "many"]\n', "target.n_train"),
    "bad value": ('[sweep]\n"target.similarity_t" = [0.5, 2.0]\n', "similarity_t"),
}


@pytest.mark.parametrize("name", list(BAD_GRIDS))
def test_bad_grid_is_one_line_before_anything_trains(tmp_path, name):
    text, needle = BAD_GRIDS[name]
    results = tmp_path / "results"
    result = invoke("sweep", "--config", write(tmp_path, text), "--results-dir", results)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output
    assert not results.exists()  # nothing written, nothing trained


def test_grid_is_every_combination_in_order(tmp_path):
    sweep = load_sweep(write(tmp_path, SMALL.format(epochs=2)))
    assert [c.values for c in sweep.cells()] == [
        (("target.n_train", 20), ("target.similarity_t", 0.0)), (("target.n_train", 20), ("target.similarity_t", 1.0)),
        (("target.n_train", 100), ("target.similarity_t", 0.0)), (("target.n_train", 100), ("target.similarity_t", 1.0))]
    cfg = sweep.config_of(sweep.cells()[2])
    assert cfg.target_spec.n_train == 100 and cfg.target_spec.similarity_t == 0.0 and cfg.training.epochs == 2


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    result = invoke("sweep", "--config", write(folder, SMALL.format(epochs=3)), "--results-dir", folder / "results")
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def test_sweep_directory_files_and_columns(small_sweep):
    runs = read_csv(small_sweep / "runs.csv")
    assert list(runs[0]) == ["target.n_train", "target.similarity_t", *RUN_COLUMNS]
    # per cell: standalone 2 runs + 3 transfer arms x 2 sources x 2 repeats
    assert len(runs) == 4 * (2 + 3 * 2 * 2)
    assert {(r["target.n_train"], r["target.similarity_t"]) for r in runs} == {("20", "0.0"), ("20", "1.0"), ("100", "0.0"), ("100", "1.0")}
    for r in runs:
        assert int(r["test_correct"]) == round(float(r["test_accuracy"]) * 500)
    cells = read_csv(small_sweep / "cells.csv")
    assert list(cells[0]) == ["target.n_train", "target.similarity_t", "arm", *CELL_STATS, *COMPARISON_STATS,
                              *BEST_STATS]
    assert len(cells) == 4 * 4
    for row in cells:
        if row["arm"] != "standalone":
            assert float(row["diff_ci_low"]) <= float(row["diff_mean"]) <= float(row["diff_ci_high"])
            assert 0 <= float(row["a12"]) <= 1 and row["verdict"] in ("better", "worse", "no evidence")
    for k in range(0, len(cells), 4):  # per cell: the best arm has the highest mean; P(best) sums to 1
        rows = cells[k:k + 4]
        best = max(rows, key=lambda r: float(r["mean"]))
        assert {r["cell_best_arm"] for r in rows} == {best["arm"]}
        assert {r["cell_best_p"] for r in rows} == {best["p_best"]}
        assert sum(float(r["p_best"]) for r in rows) == pytest.approx(1.0, abs=1e-5)
    for name in ("benefit_target.n_train.png", "benefit_target.similarity_t.png", "heatmap_transfer_fixed1.png",
                 "best_arm.png"):
        assert (small_sweep / name).read_bytes().startswith(PNG)
    assert "<img" in (small_sweep / "report.html").read_text()
    meta = json.loads((small_sweep / "metadata.json").read_text())
    assert meta["cells"] == 4 and meta["networks"] == len(runs) and meta["root_seed"] == 0
    assert "[sweep]" in (small_sweep / "sweep.toml").read_text()
    assert not (small_sweep / "INCOMPLETE").exists()


def test_one_cell_sweep_equals_compare(tmp_path):
    base = "[study]\nsource_repeats = 2\nrepeats = 3\nseed = 4\n[training]\nepochs = 4\n[target]\nn_train = 50\n"
    compare = invoke("compare", "--config", write(tmp_path, base, "c.toml"), "--results-dir", tmp_path / "c")
    assert compare.exit_code == 0, compare.output
    run_dir = Path(compare.output.strip().splitlines()[-1])
    sweep = invoke("sweep", "--config", write(tmp_path, base.replace("[target]\nn_train = 50\n", "") +
                                               '[sweep]\n"target.n_train" = [50]\n'), "--results-dir", tmp_path / "s")
    assert sweep.exit_code == 0, sweep.output
    sweep_dir = Path(sweep.output.strip().splitlines()[-1])
    scores = [{k: r[k] for k in RUN_COLUMNS} for r in read_csv(run_dir / "scores.csv")]
    runs = [{k: r[k] for k in RUN_COLUMNS} for r in read_csv(sweep_dir / "runs.csv")]
    assert runs == scores
    summary = json.loads((run_dir / "summary.json").read_text())
    cell = json.loads((sweep_dir / "cells" / "0000" / "summary.json").read_text())
    assert cell["arms"] == summary["arms"] and cell["comparisons"] == summary["comparisons"]


@pytest.mark.slow
def test_interrupted_sweep_resumes_to_the_same_tables(tmp_path, small_sweep):
    """SIGTERM after the first cell finished: the sweep stops marked INCOMPLETE, keeps that cell, and
    `--resume` finishes it with tables byte-identical to the uninterrupted sweep's."""
    config = write(tmp_path, SMALL.format(epochs=3))
    results = tmp_path / "results"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "blobs_transfer", "sweep", "--config", str(config),
                             "--results-dir", str(results)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 180
    while time.time() < deadline and not list(results.glob("sweep-*/cells/0000/cell.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    (sweep_dir,) = results.glob("sweep-*")
    assert proc.returncode == 130, err
    assert (sweep_dir / "INCOMPLETE").exists() and not (sweep_dir / "runs.csv").exists()
    done_before = sorted(p.parent.name for p in sweep_dir.glob("cells/*/cell.json"))
    assert "0000" in done_before and len(done_before) < 4
    kept = (sweep_dir / "cells" / "0000" / "runs.csv").read_bytes()
    result = invoke("sweep", "--config", config, "--resume", sweep_dir)
    assert result.exit_code == 0, result.output
    assert "already done" in result.output
    assert (sweep_dir / "cells" / "0000" / "runs.csv").read_bytes() == kept  # not trained again
    for table in ("runs.csv", "cells.csv"):
        assert (sweep_dir / table).read_bytes() == (small_sweep / table).read_bytes()
    assert not (sweep_dir / "INCOMPLETE").exists()


def test_resume_refuses_another_sweep(tmp_path, small_sweep):
    other = write(tmp_path, SMALL.format(epochs=4))
    result = invoke("sweep", "--config", other, "--resume", small_sweep)
    assert result.exit_code == 2 and "different sweep" in result.output


def test_sweep_report_leads_with_its_finding_and_heatmaps(small_sweep):
    import html

    page = (small_sweep / "report.html").read_text()
    alts = [html.unescape(a) for a in __import__("re").findall(r'<img alt="([^"]+)"', page)]
    # the heatmaps answer the question, so they come first, titled by arm in words; then the best arm of every
    # cell, then the benefit figures
    assert alts[:3] == [f"transfer fixed={k}: the benefit over both swept axes" for k in range(3)]
    assert alts[3].startswith("The best arm of every cell")
    assert [a.split(",")[0] for a in alts[4:]] == ["The transfer benefit against target.n_train",
                                                   "The transfer benefit against target.similarity_t"]
    finding = page.index('<p class="finding">Across 4 cells (target.n_train x target.similarity_t, 2 source models')
    assert finding < page.index("<img") and page.rindex("<img") < page.index("<table")
    assert "<details>" not in page  # 12 rows: short enough to show
    from blobs_transfer.render import report

    grid = load_sweep(small_sweep / "sweep.toml")
    _, _, summaries = sweep_dir.cell_rows(grid, small_sweep)
    blocks = sweep_report.sweep_sections(grid, summaries * 3, ["heatmap_transfer_fixed0.png"])  # 36 rows: folded
    table = next(b for b in blocks if b.title == "Transfer benefit per cell")
    assert table.folded and "<details>" in report.html(blocks, "t", {})


def test_sweep_finding_without_comparisons_is_one_line(small_sweep):

    grid = load_sweep(small_sweep / "sweep.toml")
    _, _, summaries = sweep_dir.cell_rows(grid, small_sweep)
    alone = [{"cell": s["cell"], "summary": {**s["summary"], "comparisons": []}} for s in summaries]
    assert findings.sweep_finding(grid, alone) == ("4 cells over target.n_train, target.similarity_t; no arm was "
                                                 "compared with standalone.")


def test_sweep_finding_counts_verdicts_and_reads_each_axis(tmp_path):
    """Hand-made verdicts on a 2 x 2 grid: counts per arm, the axis values where most cells agree, the best cell."""

    grid = load_sweep(write(tmp_path, SMALL.format(epochs=2)))
    verdicts = {  # (n_train, similarity_t): (verdict of arm a, of arm b), a12 of arm a
        (20, 0.0): (("better", "better"), 0.9), (20, 1.0): (("worse", "worse"), 0.2),
        (100, 0.0): (("better", "no evidence"), 0.7), (100, 1.0): (("worse", "no evidence"), 0.3)}
    summaries = []
    for cell in grid.cells():
        (va, vb), a12 = verdicts[tuple(v for _, v in cell.values)]
        rows = [{"arm": "a", "verdict": va, "a12": a12, "diff_mean": a12 - 0.5},
                {"arm": "b", "verdict": vb, "a12": 0.5, "diff_mean": 0.0}]
        summaries.append({"cell": cell, "summary": {"run": {"baseline": "standalone", "source_repeats": 2},
                                                    "comparisons": rows}})
    assert findings.sweep_finding(grid, summaries) == (
        "Across 4 cells (target.n_train x target.similarity_t, 2 source models each), a / b beat standalone in 2 / 1 "
        "cells and lose in 2 / 1. Transfer is mostly better at target.similarity_t = 0.0 and mostly worse at 1.0 "
        "(in most of the cells with that value, over all arms). The highest P is 0.90 (a at target.n_train=20, "
        "target.similarity_t=0.0, difference of means +0.400). P is the probability that a run of the arm beats a "
        "run of standalone (A12); each cell's verdict tests it with the source model as the unit.")
