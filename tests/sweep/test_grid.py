"""A sweep's grid (blobs_transfer.sweep.grid): every combination in order, each cell's config, and every bad grid
one line before anything trains."""

import pickle

import pytest

from blobs_transfer.config import ConfigError, config_from_dict, to_toml
from blobs_transfer.sweep.grid import Cell, load_sweep, sweep_from_dict
from tests.helpers import SWEEP as SMALL
from tests.helpers import invoke, write

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
        (("target.n_train", 20), ("target.similarity_t", 0.0)),
        (("target.n_train", 20), ("target.similarity_t", 1.0)),
        (("target.n_train", 100), ("target.similarity_t", 0.0)),
        (("target.n_train", 100), ("target.similarity_t", 1.0)),
    ]
    cfg = sweep.config_of(sweep.cells()[2])
    assert cfg.target_spec.n_train == 100 and cfg.target_spec.similarity_t == 0.0 and cfg.training.epochs == 2


# --- hand-made grids ------------------------------------------------------------------------------


def test_cells_are_named_by_their_values_and_picklable():
    grid = sweep_from_dict(
        {"study": {"repeats": 3}, "sweep": {"target.n_train": [20, 100], "model.hidden_units": [[5, 5], [8, 4]]}}
    )
    assert grid.keys == ["target.n_train", "model.hidden_units"]
    cells = grid.cells()
    assert [c.index for c in cells] == [0, 1, 2, 3]
    assert cells[1].name == "target.n_train=20, model.hidden_units=[8, 4]"
    assert (
        pickle.loads(pickle.dumps(cells[3]))
        == cells[3]
        == Cell(3, (("target.n_train", 100), ("model.hidden_units", [8, 4])))
    )
    cfg = grid.config_of(cells[3])
    assert (cfg.target_spec.n_train, cfg.model.hidden_units, cfg.study.repeats) == (100, (8, 4), 3)


def test_the_root_seed_is_the_configs_unless_given():
    data = {"study": {"seed": 3}, "sweep": {"target.n_train": [20]}}
    assert sweep_from_dict(dict(data)).seed == 3
    assert sweep_from_dict(dict(data), seed=7).seed == 7
    assert sweep_from_dict({"sweep": {"target.n_train": [20]}}).seed == 0


def test_the_resolved_sweep_is_the_grid_then_the_base_config():
    grid = sweep_from_dict(
        {"training": {"epochs": 4}, "sweep": {"target.n_train": [20, 100], "target.similarity_t": [0.0, 1.0]}}
    )
    text = grid.to_toml()
    assert text.startswith('[sweep]\n"target.n_train" = [20, 100]\n"target.similarity_t" = [0.0, 1.0]\n\n')
    assert text == text.split("\n\n", 1)[0] + "\n\n" + to_toml(config_from_dict({"training": {"epochs": 4}}))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"sweep": {"target.n_train": [10, 10]}}, "sweep: target.n_train lists a value twice"),
        (
            {"sweep": {"target.n_train": [10, 0]}},
            "sweep cell target.n_train=0: target.n_train must be 1 or more, got 0",
        ),
        ({"sweep": {"nowhere": [1]}}, "sweep: unknown key 'nowhere' (keys are section.key"),
        ({"study": {"repeat": 1}, "sweep": {"target.n_train": [10]}}, "unknown key 'study.repeat'"),
        ({"sweep": {}}, "a sweep config needs a [sweep] table with at least one key and its list of values"),
    ],
)
def test_a_bad_grid_is_one_config_error_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        sweep_from_dict(data)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_missing_sweep_file_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^sweep config '.*nope.toml' does not exist$"):
        load_sweep(tmp_path / "nope.toml")
