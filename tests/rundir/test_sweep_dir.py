"""A sweep's directory (blobs_transfer.rundir.sweep_dir): its files and their columns, a manifest per cell, every
damaged file named by verify, a damaged cell trained again on --resume, and a resume of another sweep refused."""

import json

import pytest

from blobs_transfer import api
from blobs_transfer.config import load_config
from blobs_transfer.errors import DamagedRunError, UnverifiedRunWarning
from blobs_transfer.rundir import sweep_dir
from blobs_transfer.rundir.sweep_dir import (
    BEST_STATS,
    CELL_DATA,
    CELL_STATS,
    COMPARISON_STATS,
    DONE,
    RUN_COLUMNS,
)
from blobs_transfer.sweep.grid import Cell, sweep_from_dict
from tests.helpers import (
    PNG,
    PROBLEM,
    assert_same_tables,
    damage,
    invoke,
    one_error_line,
    read_csv,
    write,
)
from tests.helpers import SWEEP as SMALL


def test_sweep_directory_files_and_columns(small_sweep):
    runs = read_csv(small_sweep / "runs.csv")
    assert list(runs[0]) == ["target.n_train", "target.similarity_t", *RUN_COLUMNS]
    # per cell: standalone 2 runs + 3 transfer arms x 2 sources x 2 repeats
    assert len(runs) == 4 * (2 + 3 * 2 * 2)
    assert {(r["target.n_train"], r["target.similarity_t"]) for r in runs} == {
        ("20", "0.0"),
        ("20", "1.0"),
        ("100", "0.0"),
        ("100", "1.0"),
    }
    for r in runs:
        assert int(r["test_correct"]) == round(float(r["test_accuracy"]) * 500)
    cells = read_csv(small_sweep / "cells.csv")
    assert list(cells[0]) == [
        "target.n_train",
        "target.similarity_t",
        "arm",
        *CELL_STATS,
        *COMPARISON_STATS,
        *BEST_STATS,
    ]
    assert len(cells) == 4 * 4
    meta = json.loads((small_sweep / "metadata.json").read_text())
    parts = meta["wall_parts"]  # the sweep's wall time split into parts that add up (up to rounding)
    assert sum(parts.values()) == pytest.approx(meta["wall_seconds"], abs=0.004) and min(parts.values()) >= 0
    assert min(parts[f"{name}_seconds"] for name in ("training", "statistics", "figures", "files")) > 0
    for row in cells:
        if row["arm"] != "standalone":
            assert float(row["diff_ci_low"]) <= float(row["diff_mean"]) <= float(row["diff_ci_high"])
            assert 0 <= float(row["a12"]) <= 1 and row["verdict"] in ("better", "worse", "no evidence")
    for k in range(0, len(cells), 4):  # per cell: the best arm has the highest mean; P(best) sums to 1
        rows = cells[k : k + 4]
        best = max(rows, key=lambda r: float(r["mean"]))
        assert {r["cell_best_arm"] for r in rows} == {best["arm"]}
        assert {r["cell_best_p"] for r in rows} == {best["p_best"]}
        assert sum(float(r["p_best"]) for r in rows) == pytest.approx(1.0, abs=1e-5)
    for name in (
        "benefit_target.n_train.png",
        "benefit_target.similarity_t.png",
        "heatmap_transfer_fixed1.png",
        "best_arm.png",
    ):
        assert (small_sweep / name).read_bytes().startswith(PNG)
    assert "<img" in (small_sweep / "report.html").read_text()
    meta = json.loads((small_sweep / "metadata.json").read_text())
    assert meta["cells"] == 4 and meta["networks"] == len(runs) and meta["root_seed"] == 0
    assert "[sweep]" in (small_sweep / "sweep.toml").read_text()
    assert not (small_sweep / "INCOMPLETE").exists()


def test_verify_command_checks_a_sweep_and_its_cells(sweep_copy):
    assert "11 files match its manifest, and each of its 4 cells matches its own" in invoke("verify", sweep_copy).output
    damage(sweep_copy / "cells" / "0003" / "runs.csv", "one byte changed")
    assert "cells/0003/runs.csv differs from the manifest" in one_error_line(invoke("verify", sweep_copy))


def test_every_cell_has_a_manifest_with_its_planned_networks(reference_sweep):
    for k in range(4):
        manifest = json.loads((reference_sweep / "cells" / f"{k:04d}" / DONE).read_text())
        assert manifest["index"] == k and list(manifest["files"]) == list(CELL_DATA)
        assert manifest["plan"]["networks"] == manifest["networks"] == 2 + 3 * 2 * 2
    assert json.loads((reference_sweep / "manifest.json").read_text())["plan"] == {"cells": 4, "networks": 56}


@pytest.mark.parametrize("how", list(PROBLEM))
@pytest.mark.parametrize("name", [*(f"cells/0002/{n}" for n in CELL_DATA), "runs.csv", "cells.csv", "sweep.toml"])
def test_every_damaged_sweep_file_is_named_by_verify(sweep_copy, name, how):
    damage(sweep_copy / name, how)
    with pytest.raises(DamagedRunError, match=PROBLEM[how]) as caught:
        api.verify_run(sweep_copy)
    assert str(sweep_copy / name) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("how", list(PROBLEM))
def test_a_damaged_cell_marker_is_named_by_verify(sweep_copy, how):
    damage(sweep_copy / "cells" / "0001" / DONE, how)
    with pytest.raises(DamagedRunError, match="cells/0001/cell.json (is damaged|is missing)"):
        api.verify_run(sweep_copy)


@pytest.mark.parametrize(
    "name, how", [("runs.csv", "truncated"), ("summary.json", "one byte changed"), ("config.toml", "missing")]
)
@pytest.mark.slow
def test_resume_trains_a_damaged_cell_again_and_ends_identical(sweep_copy, reference_sweep, sweep_config, name, how):
    """The issue's case: cells/0002/runs.csv cut short was counted as done and its rows were lost."""
    damage(sweep_copy / "cells" / "0002" / name, how)
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert (
        "Cell 2 (target.n_train=100, target.similarity_t=0.0) is damaged, training it again: "
        f"{sweep_copy}/cells/0002/{name}" in result.output
    )
    assert "3 of 4 cells already done" in result.output
    assert_same_tables(sweep_copy, reference_sweep)


@pytest.mark.slow
def test_resume_of_pre_manifest_cells_warns_and_retrains_one_with_rows_lost(sweep_copy, reference_sweep, sweep_config):
    for k in range(4):  # cells as written before manifests: a done marker without a file table
        marker = sweep_copy / "cells" / f"{k:04d}" / DONE
        old = json.loads(marker.read_text())
        marker.write_text(json.dumps({key: old[key] for key in ("index", "values", "networks")}))
    runs = sweep_copy / "cells" / "0001" / "runs.csv"
    runs.write_text("".join(runs.read_text().splitlines(keepends=True)[:-4]))
    result = invoke("sweep", "--config", sweep_config, "--resume", sweep_copy)
    assert result.exit_code == 0, result.output
    assert "Cell 1 (target.n_train=20, target.similarity_t=1.0) is damaged" in result.output
    assert "10 runs where the plan has 14" in result.output
    assert "Warning: 3 finished cells were written before cells verified themselves" in result.output
    with pytest.warns(UnverifiedRunWarning, match="3 cells without a manifest"):
        assert_same_tables(sweep_copy, reference_sweep)


def test_resume_refuses_another_sweep(tmp_path, small_sweep):
    other = write(tmp_path, SMALL.format(epochs=4))
    result = invoke("sweep", "--config", other, "--resume", small_sweep)
    assert result.exit_code == 2 and "different sweep" in result.output


# --- hand-made cells ----------------------------------------------------------------------------------

ONE_EACH = {"study": {"repeats": 1, "source_repeats": 1}}  # standalone 1 run, 3 transfer arms 1 run each
RECORDS = [
    {
        "arm": "standalone",
        "source_index": None,
        "repeat": 0,
        "seed": 11,
        "test_accuracy": 0.31,
        "test_correct": 155,
        "diverged": False,
    },
    {
        "arm": "transfer fixed=0",
        "source_index": 0,
        "repeat": 0,
        "seed": 12,
        "test_accuracy": 0.5,
        "test_correct": 250,
        "diverged": False,
    },
    {
        "arm": "transfer fixed=1",
        "source_index": 0,
        "repeat": 0,
        "seed": 13,
        "test_accuracy": None,
        "test_correct": None,
        "diverged": True,
    },
    {
        "arm": "transfer fixed=2",
        "source_index": 0,
        "repeat": 0,
        "seed": 14,
        "test_accuracy": 0.8,
        "test_correct": 400,
        "diverged": False,
    },
]
RUNS_CSV = (
    "arm,source_index,repeat,seed,test_accuracy,test_correct\n"
    "standalone,,0,11,0.310,155\n"
    "transfer fixed=0,0,0,12,0.500,250\n"
    "transfer fixed=1,0,0,13,,\n"
    "transfer fixed=2,0,0,14,0.800,400\n"
)
CELL_SUMMARY = {
    "arms": [
        {"arm": "standalone", "n": 1, "n_sources": None, "mean": 0.31, "ci_low": 0.2, "ci_high": 0.4},
        {"arm": "transfer fixed=0", "n": 1, "n_sources": 1, "mean": 0.5, "ci_low": 0.4, "ci_high": 0.6},
    ],
    "comparisons": [
        {
            "arm": "transfer fixed=0",
            "diff_mean": 0.19,
            "diff_ci_low": 0.1,
            "diff_ci_high": 0.3,
            "a12": 0.75,
            "a12_ci_low": 0.6,
            "a12_ci_high": 0.9,
            "verdict": "better",
        }
    ],
    "best": {
        "best_arm": "transfer fixed=0",
        "p_best": 0.9,
        "p_best_by_arm": {"standalone": 0.1, "transfer fixed=0": 0.9},
    },
}


@pytest.fixture()
def written(tmp_path):
    """Both cells of a one-axis grid written as a sweep writes them; (grid, sweep folder)."""
    grid = sweep_from_dict({**ONE_EACH, "sweep": {"target.n_train": [20, 100]}})
    for cell in grid.cells():
        sweep_dir.write_cell(tmp_path, cell, grid.config_of(cell), RECORDS, CELL_SUMMARY)
    return grid, tmp_path


def test_a_cell_is_a_numbered_folder_of_its_files_marked_done_last(written):
    grid, folder = written
    cell = grid.cells()[1]
    assert sweep_dir.cell_dir(folder, cell) == folder / "cells" / "0001"
    assert sweep_dir.cell_dir(folder, Cell(123, ())) == folder / "cells" / "0123"
    assert sorted(p.name for p in (folder / "cells" / "0001").iterdir()) == [
        "cell.json",
        "config.toml",
        "runs.csv",
        "summary.json",
    ]
    assert (folder / "cells" / "0001" / "runs.csv").read_text() == RUNS_CSV  # accuracies to three decimals
    assert json.loads((folder / "cells" / "0001" / "summary.json").read_text()) == CELL_SUMMARY
    assert load_config(folder / "cells" / "0001" / "config.toml") == grid.config_of(cell)
    marker = json.loads((folder / "cells" / "0001" / DONE).read_text())
    assert (marker["index"], marker["values"], marker["networks"]) == (1, {"target.n_train": 100}, 4)
    assert marker["plan"] == {
        "networks": 4,
        "runs_per_arm": {"standalone": 1, "transfer fixed=0": 1, "transfer fixed=1": 1, "transfer fixed=2": 1},
    }
    assert list(marker["files"]) == list(CELL_DATA)
    assert [sweep_dir.finished(folder, c) for c in grid.cells()] == [True, True]
    (folder / "cells" / "0000" / DONE).unlink()
    assert [c.index for c in sweep_dir.cells_done(grid, folder)] == [1]


def test_cell_damage_of_an_intact_a_changed_and_a_pre_manifest_cell(written):
    grid, folder = written
    cell = folder / "cells" / "0000"
    assert sweep_dir.cell_damage(cell) == (None, True)
    runs = (cell / "runs.csv").read_text()
    (cell / "runs.csv").write_text(runs.replace("0.310,155", "0.312,156"))
    assert sweep_dir.cell_damage(cell, remedy="; again") == (
        f"{cell / 'runs.csv'} differs from the manifest (same size, different SHA-256: changed in place); again",
        False,
    )
    # as written before cells verified themselves: a done marker without a file table, so only row counts
    (cell / DONE).write_text(json.dumps({"index": 0, "values": {"target.n_train": 20}, "networks": 4}))
    assert sweep_dir.cell_damage(cell) == (None, False)
    (cell / "runs.csv").write_text("".join(runs.splitlines(keepends=True)[:-1]))  # the last run lost
    assert sweep_dir.cell_damage(cell, grid.config_of(grid.cells()[0]), remedy="; again") == (
        f"{cell / 'runs.csv'} has 3 runs where the plan has 4 (transfer fixed=2 0 of 1); again",
        False,
    )
    (cell / "summary.json").write_text("{")
    problem, verified = sweep_dir.cell_damage(cell, remedy="; again")
    assert problem.startswith(f"{cell} cannot be read: ") and problem.endswith("; again") and not verified


def test_the_tables_are_assembled_from_the_cells_in_grid_order(written):
    grid, folder = written
    runs, table, summaries = sweep_dir.cell_rows(grid, folder)
    rows = [line.split(",") for line in RUNS_CSV.splitlines()[1:]]
    assert runs == [[20, *row] for row in rows] + [[100, *row] for row in rows]
    assert table[:2] == [
        [20, "standalone", 1, "", "0.31", "0.2", "0.4", "", "", "", "", "", "", "", "0.1", "transfer fixed=0", "0.9"],
        [
            20,
            "transfer fixed=0",
            1,
            1,
            "0.5",
            "0.4",
            "0.6",
            "0.19",
            "0.1",
            "0.3",
            "0.75",
            "0.6",
            "0.9",
            "better",
            "0.9",
            "transfer fixed=0",
            "0.9",
        ],
    ]
    assert [row[0] for row in table] == [20, 20, 100, 100]
    assert len(table[0]) == 2 + len(CELL_STATS) + len(COMPARISON_STATS) + len(BEST_STATS)
    assert [s["cell"] for s in summaries] == grid.cells() and summaries[0]["summary"] == CELL_SUMMARY
