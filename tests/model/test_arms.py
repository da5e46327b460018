"""Every kind of arm, end to end: which weights come from the source, which are fresh, which stay frozen.

One short training (3 epochs, 2 replicas per arm) checks the declarations against what the vectorised engine
really does; configs/*.toml all load, bad arm declarations are one-line errors with exit code 2, and the
Yosinski config runs through the command line.

Layer sizes of the tutorial MLP (kernel + bias):
  hidden 1  Dense(2 -> 5):  2*5 + 5 = 15
  hidden 2  Dense(5 -> 5):  5*5 + 5 = 30
  output    Dense(5 -> 3):  5*3 + 3 = 18       total 63
With add_hidden = 1 a new Dense(5 -> 5) (30) sits between hidden 2 and the output: total 93.
"""

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from blobs_transfer.model import arms

from blobs_transfer.train import run as experiment

from blobs_transfer.train import plan
from blobs_transfer.cli import cli
from blobs_transfer.config import Arm, Config, config_from_dict, load_config, validate
from blobs_transfer.train.engine import train_replicas

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.toml"))
EPOCHS, REPLICAS = 3, 2


@dataclass(frozen=True)
class Kind:
    arm: Arm
    copied: tuple[int, ...]  # layers bit-identical to the source model at the start
    frozen: tuple[int, ...]  # layers that must stay bit-identical through training
    trainable: int  # exact trainable parameter count
    total: int = 63  # parameters of the arm's model
    source: str | None = "A"  # A = source trained on Problem 1, B = on Problem 2 (the target itself)


KINDS = [
    Kind(Arm("standalone"), (), (), 63, source=None),
    # the tutorial: all three layers copied; fixed=k freezes the first k hidden layers
    Kind(Arm("transfer fixed=0", weights="source", fixed=0), (0, 1, 2), (), 63),
    Kind(Arm("transfer fixed=1", weights="source", fixed=1), (0, 1, 2), (0,), 48),  # 63 - 15
    Kind(Arm("transfer fixed=2", weights="source", fixed=2), (0, 1, 2), (0, 1), 18),  # 63 - 15 - 30: output only
    # re-initialise above layer 1 (A1B) and its fine-tuned variant (A1B+)
    Kind(Arm("A1B", weights="source", copy=1, fixed=1), (0,), (0,), 48),  # 30 + 18 re-initialised and trained
    Kind(Arm("A1B+", weights="source", copy=1, fixed=0), (0,), (), 63),
    # add a hidden layer: both source hidden layers frozen; new Dense(5,5) = 30 + new output Dense(5,3) = 18
    Kind(Arm("add hidden", weights="source", copy=2, fixed=2, add_hidden=1), (0, 1), (0, 1), 48, total=93),
    # Yosinski n = 2: copy both hidden layers, re-initialise the output
    Kind(Arm("A2B", weights="source", copy=2, fixed=2), (0, 1), (0, 1), 18),  # output only
    Kind(Arm("A2B+", weights="source", copy=2, fixed=0), (0, 1), (), 63),
    # BnB-style: the same declarations with the source trained on the target problem
    Kind(Arm("B1B", weights="source", copy=1, fixed=1, source_problem=2), (0,), (0,), 48, source="B"),
    Kind(Arm("B2B+", weights="source", copy=2, fixed=0, source_problem=2), (0, 1), (), 63, source="B"),
    # random frozen features: nothing copied, the first n random layers never train
    Kind(Arm("random1", fixed=1), (), (0,), 48, source=None),  # 63 - 15
    Kind(Arm("random2", fixed=2), (), (0, 1), 18, source=None),  # 63 - 15 - 30
]
IDS = [k.arm.name for k in KINDS]


def n_layers(kind: Kind) -> int:
    return 3 + kind.arm.add_hidden


@pytest.fixture(scope="module")
def sources(problem1, problem2):
    """Two real source models (3 epochs of a standalone model): A on Problem 1, B on Problem 2.

    Trained weights have non-zero biases, so a copied layer can never pass for a fresh one.
    """
    cfg = Config()
    out = {}
    for name, problem, seed in (("A", problem1, 11), ("B", problem2, 12)):
        init = arms.initial_weights(cfg, Arm("standalone"), None, np.random.default_rng(seed))
        result = train_replicas(problem, arms.stack([init]), np.ones((1, 3), bool), [seed],
                                epochs=EPOCHS, batch_size=32, learning_rate=0.01)
        out[name] = arms.unstack(result.weights, 0)
    return out


@pytest.fixture(scope="module")
def trained(cfg, sources, problem2):
    """Every kind: REPLICAS starting weights and the weights after EPOCHS epochs on Problem 2.

    Replicas of one architecture train together, as the vectorised engine does in a real run.
    """
    start = {}
    for k, kind in enumerate(KINDS):
        source = sources[kind.source] if kind.source else None
        start[kind.arm.name] = [
            arms.initial_weights(cfg, kind.arm, source, np.random.default_rng([k, r])) for r in range(REPLICAS)
        ]
    end = {}
    for depth in sorted({n_layers(kind) for kind in KINDS}):
        group = [kind for kind in KINDS if n_layers(kind) == depth]
        initial = [w for kind in group for w in start[kind.arm.name]]
        mask = [arms.trainable_layers(cfg, kind.arm) for kind in group for _ in range(REPLICAS)]
        result = train_replicas(problem2, arms.stack(initial), np.array(mask), list(range(len(initial))),
                                epochs=EPOCHS, batch_size=32, learning_rate=0.01)
        assert np.isfinite(result.final["train_loss"]).all()
        for g, kind in enumerate(group):
            end[kind.arm.name] = [arms.unstack(result.weights, g * REPLICAS + r) for r in range(REPLICAS)]
    return start, end


def same(a, b) -> bool:
    """Bit-identical (kernel, bias) pairs."""
    return a[0].shape == b[0].shape and np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_declaration_validates_and_counts_parameters(cfg, kind):
    c = replace(cfg, arms=(Arm("standalone"), kind.arm) if kind.arm.name != "standalone" else (kind.arm,))
    validate(c)
    shapes = arms.layer_shapes(c, kind.arm)
    assert len(shapes) == n_layers(kind)
    assert sum((fan_in + 1) * fan_out for fan_in, fan_out in shapes) == kind.total
    assert arms.trainable_layers(c, kind.arm) == [i not in kind.frozen for i in range(n_layers(kind))]
    assert arms.trainable_parameter_count(c, kind.arm) == kind.trainable
    assert c.copied_layers(kind.arm) == len(kind.copied)
    if kind.arm.uses_source:
        assert c.source_problem_of(kind.arm) == {"A": 1, "B": 2}[kind.source]


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_starting_weights(cfg, sources, trained, kind):
    start, _ = trained
    source = sources[kind.source] if kind.source else None
    other = sources["B" if kind.source == "A" else "A"]
    shapes = arms.layer_shapes(cfg, kind.arm)
    for i, (fan_in, fan_out) in enumerate(shapes):
        layers = [w[i] for w in start[kind.arm.name]]
        for kernel, bias in layers:
            assert kernel.dtype == np.float32 and kernel.shape == (fan_in, fan_out) and bias.shape == (fan_out,)
        if i in kind.copied:
            assert all(same(layer, source[i]) for layer in layers), f"layer {i + 1} should be the source's"
            assert not any(same(layer, other[i]) for layer in layers), f"layer {i + 1} comes from the wrong source"
        else:
            is_output = i == len(shapes) - 1
            limit = np.sqrt(6 / (fan_in + fan_out)) if is_output else np.sqrt(6 / fan_in)  # glorot / he uniform
            for kernel, bias in layers:
                assert np.abs(kernel).max() <= limit, f"layer {i + 1} exceeds its initialiser's bound"
                assert not bias.any(), f"fresh layer {i + 1} has non-zero biases"
                for s in (sources["A"], sources["B"]):  # not any source layer of that shape
                    assert not any(k.shape == kernel.shape and np.array_equal(k, kernel) for k, _ in s)
            # each replica draws its own fresh layers
            assert not np.array_equal(layers[0][0], layers[1][0]), f"layer {i + 1} is shared by the replicas"


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_frozen_layers_stay_and_the_rest_train(trained, kind):
    start, end = trained
    for before, after in zip(start[kind.arm.name], end[kind.arm.name]):
        for i in range(n_layers(kind)):
            if i in kind.frozen:
                assert same(before[i], after[i]), f"frozen layer {i + 1} moved"
            else:
                assert not np.array_equal(before[i][0], after[i][0]), f"kernel of layer {i + 1} did not train"
                assert not np.array_equal(before[i][1], after[i][1]), f"bias of layer {i + 1} did not train"


def test_each_arm_starts_from_its_own_source_problem(problem2):
    """run_comparison hands a BnB arm the Problem 2 source and an AnB arm the Problem 1 source.

    Column 0 of the history is measured before any training, so with every layer copied it is the source
    model's own test loss on the target problem.
    """
    cfg = config_from_dict({"training": {"epochs": 1}, "study": {"repeats": 1}, "arms": [
        {"name": "standalone"},
        {"name": "from A", "weights": "source"},
        {"name": "from B", "weights": "source", "source_problem": 2},
    ]})
    assert plan.sources_needed(cfg) == [1, 2]
    rng = np.random.default_rng(5)
    a = arms.initial_weights(cfg, Arm("standalone"), None, rng)
    b = [(k * 1.5, b + 0.1) for k, b in arms.initial_weights(cfg, Arm("standalone"), None, rng)]

    def test_loss(w):
        h = problem2.x_test.astype(np.float64)
        for i, (k, bias) in enumerate(w):
            h = h @ k + bias
            if i < len(w) - 1:
                h = np.maximum(h, 0)
        h -= h.max(1, keepdims=True)
        log_p = h - np.log(np.exp(h).sum(1, keepdims=True))
        return -np.mean(log_p[np.arange(len(h)), problem2.y_test])

    sources = {cfg.source_spec: [plan.SourceModel(cfg.source_spec, a, None)],
               cfg.target_spec: [plan.SourceModel(cfg.target_spec, b, None)]}
    run = experiment.run_comparison(cfg, sources)
    by_arm = {rep.arm.name: i for i, rep in enumerate(run.replicas)}
    assert run.history["test_loss"][by_arm["from A"], 0] == pytest.approx(test_loss(a), rel=1e-4)
    assert run.history["test_loss"][by_arm["from B"], 0] == pytest.approx(test_loss(b), rel=1e-4)
    assert [run.replicas[by_arm[n]].source_index for n in ("standalone", "from A", "from B")] == [None, 0, 0]


# --- config files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_config_file_loads_and_validates(path):
    if "[sweep]" in path.read_text():  # a sweep: every cell's config must load
        from blobs_transfer.sweep.grid import load_sweep

        sweep = load_sweep(path)
        configs = [sweep.config_of(c) for c in sweep.cells()]
    else:
        configs = [load_config(path)]
    for cfg in configs:
        validate(cfg)
        assert cfg.arm(cfg.study.baseline)


def test_new_configs_say_what_they_promise():
    ext = load_config(ROOT / "configs" / "extensions.toml")
    assert {a.name: (a.weights, ext.copied_layers(a), a.fixed, a.add_hidden) for a in ext.arms} == {
        "standalone": ("fresh", 0, 0, 0),
        "transfer fixed=1": ("source", 3, 1, 0),
        "reinit above layer 1 (A1B)": ("source", 1, 1, 0),
        "reinit above layer 1, fine-tuned (A1B+)": ("source", 1, 0, 0),
        "add hidden layer": ("source", 2, 2, 1),
    }
    yos = load_config(ROOT / "configs" / "yosinski.toml")
    expected = {"standalone": ("fresh", 0, 0, None)}
    for n in (1, 2):
        expected |= {f"A{n}B": ("source", n, n, 1), f"A{n}B+": ("source", n, 0, 1),
                     f"B{n}B": ("source", n, n, 2), f"B{n}B+": ("source", n, 0, 2), f"random{n}": ("fresh", 0, n, None)}
    got = {a.name: (a.weights, yos.copied_layers(a), a.fixed, yos.source_problem_of(a) if a.uses_source else None)
           for a in yos.arms}
    assert got == expected and yos.study.baseline == "standalone"
    rev = load_config(ROOT / "configs" / "reverse.toml")
    assert (rev.study.source_problem, rev.study.target_problem, rev.arms) == (2, 1, Config().arms)
    src = load_config(ROOT / "configs" / "sources.toml")
    assert src.study.source_repeats == 10 and src.arms == Config().arms


# --- bad arm declarations through the command line ------------------------------------------------

BAD = {
    "unknown weights": ("[[arms]]\nname = 'x'\nweights = 'magic'\n", "weights"),
    "fixed out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\nfixed = 5\n", "fixed=5"),
    "fresh fixed out of range": ("[[arms]]\nname = 'x'\nfixed = 5\n", "fixed=5"),
    "copy out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 7\n", "copy=7"),
    "fixed and copy out of range": ("[[arms]]\nname = 'x'\nweights = 'source'\nfixed = 5\ncopy = 7\n", "fixed=5"),
    "copy 0": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 0\n", "copy=0"),
    "copy output with add_hidden": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 3\nadd_hidden = 1\n", "copy=3"),
    "fixed above copy": ("[[arms]]\nname = 'x'\nweights = 'source'\ncopy = 1\nfixed = 2\n", "fixed=2"),
    "copy on a fresh arm": ("[[arms]]\nname = 'x'\ncopy = 1\n", "copy"),
    "no source problem 9": ("[[arms]]\nname = 'x'\nweights = 'source'\nsource_problem = 9\n", "source_problem"),
    "no study source problem 9": ("[[arms]]\nname = 'x'\nweights = 'source'\n[study]\nsource_problem = 9\n",
                                  "study.source_problem"),
}


@pytest.mark.parametrize("text,needle", BAD.values(), ids=BAD.keys())
def test_bad_arm_is_one_line_exit_2_and_writes_nothing(tmp_path, tmp_path_factory, text, needle):
    config = tmp_path_factory.mktemp("bad") / "BAD.toml"
    config.write_text(text + ("" if "[study]" in text else "[study]\n") + "baseline = 'x'\n")
    results = tmp_path / "results"
    result = CliRunner().invoke(cli, ["compare", "--config", str(config), "--results-dir", str(results)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# --- the Yosinski config end to end ---------------------------------------------------------------


def test_yosinski_config_runs_through_the_cli(tmp_path):
    def run(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result.output

    run("train-source", "--epochs", 2, "--results-dir", tmp_path)
    out = run("compare", "--config", ROOT / "configs" / "yosinski.toml", "--repeats", 2, "--epochs", 2,
              "--results-dir", tmp_path)
    run_dir = Path(out.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path
    with open(run_dir / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cfg = load_config(ROOT / "configs" / "yosinski.toml")
    assert [r["arm"] for r in rows] == [a.name for a in cfg.arms for _ in range(2)]
    for row in rows:
        uses_source = cfg.arm(row["arm"]).uses_source
        assert row["source_index"] == ("0" if uses_source else ""), row
        assert row["diverged"] == "0" and 0 <= float(row["test_accuracy"]) <= 1
    assert {r["arm"] for r in rows if r["source_index"]} >= {"B1B", "B1B+", "B2B", "B2B+"}
    sources = json.loads((run_dir / "metadata.json").read_text())["source_models"]
    assert sources["problem1"]["path"] == str(tmp_path / "source" / "problem1.keras")  # the saved model of train-source
    assert sources["problem1"]["seeds"] == [plan.source_seed(cfg, 1, 0)]  # its seed, from its metadata
    assert sources["problem2"]["seeds"] == [plan.source_seed(cfg, 2, 0)]  # trained in the run, seed recorded
