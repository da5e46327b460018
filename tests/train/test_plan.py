"""The plan of a comparison (blobs_transfer.train.plan): which replicas train, with which seeds, in which batches.
With no `[target]` / `[source]` training settings everything resolves exactly as before (same settings, same
seeds); the work counts each side with its own epochs."""

import zlib
from types import SimpleNamespace

import numpy as np

from blobs_transfer.config import Arm, Training, config_from_dict, to_toml
from blobs_transfer.train import plan

TUTORIAL = Training(batch_size=32, epochs=100)


def test_default_config_resolves_as_before(cfg):
    assert cfg.training == cfg.source_training == cfg.target_training == TUTORIAL
    assert plan.training_key(cfg) == (TUTORIAL, cfg.model, "numba", 500)
    assert "[source]" not in to_toml(cfg) and "[target]" not in to_toml(cfg)  # resolved TOML unchanged
    # seeds never depend on the training settings: the values results/example/metadata.json records
    assert plan.source_seed(cfg, 1, 0) == 1246905493
    replicas = plan.plan_replicas(cfg)
    assert [r.seed for r in replicas[:2]] == [2784355650, 2910253699]
    changed = config_from_dict({"target": {"epochs": 5, "learning_rate": 0.1}, "source": {"batch_size": 8}})
    assert [r.seed for r in plan.plan_replicas(changed)] == [r.seed for r in replicas]
    assert plan.source_seed(changed, 1, 0) == 1246905493


def test_chunks_split_groups_evenly_by_architecture(cfg):
    jobs = [(arm, None, 0) for arm in cfg.arms for _ in range(5)]  # 20 jobs, one architecture
    assert [len(c) for c in plan.chunks(cfg, jobs, 8)] == [7, 7, 6]
    assert sorted(i for c in plan.chunks(cfg, jobs, 8) for i in c) == list(range(20))
    assert [len(c) for c in plan.chunks(cfg, jobs)] == [20]


def test_epochs_of_work_counts_each_side_with_its_epochs():
    c = config_from_dict({"target": {"epochs": 5}, "source": {"epochs": 7}})
    # 120 replicas of one architecture and train size: one batched group on the vectorised engine
    assert plan.epochs_of_work(c, {1: 20}) == 1 * 5 + 1 * 7
    keras = config_from_dict({"target": {"epochs": 5}, "source": {"epochs": 7}, "study": {"engine": "keras"}})
    assert plan.epochs_of_work(keras, {1: 20}) == 120 * 5 + 20 * 7


# --- a tiny config whose plan is known ----------------------------------------------------------------

TINY = {"study": {"repeats": 2, "source_repeats": 3}}


def independent_seed(name, source_index, repeat, root=0):
    """The seed scheme written out: numpy's SeedSequence of (root, arm stream 1, crc32(name), source, repeat)."""
    return int(
        np.random.SeedSequence(
            root, spawn_key=(1, zlib.crc32(name.encode()), source_index or 0, repeat)
        ).generate_state(1)[0]
    )


def test_the_plan_of_a_tiny_config_arm_by_arm_source_by_source():
    cfg = config_from_dict(TINY)
    replicas = plan.plan_replicas(cfg)
    transfer = ["transfer fixed=0", "transfer fixed=1", "transfer fixed=2"]
    assert [(r.arm.name, r.source_index, r.repeat) for r in replicas] == (
        [("standalone", None, 0), ("standalone", None, 1)]
        + [(arm, k, r) for arm in transfer for k in range(3) for r in range(2)]
    )
    assert plan.planned_runs(cfg) == {
        "standalone": 2,
        "transfer fixed=0": 6,
        "transfer fixed=1": 6,
        "transfer fixed=2": 6,
    }
    assert [r.seed for r in replicas] == [independent_seed(r.arm.name, r.source_index, r.repeat) for r in replicas]
    assert [r.seed for r in replicas[:3]] == [2784355650, 2910253699, 3083820757]
    assert len({r.seed for r in replicas}) == 20
    assert plan.source_seed(cfg, 1, 2) == int(np.random.SeedSequence(0, spawn_key=(0, 1, 2)).generate_state(1)[0])


def test_seeds_do_not_depend_on_the_other_arms_or_the_number_of_repeats():
    cfg = config_from_dict(TINY)
    more_arms = config_from_dict(
        {
            **TINY,
            "arms": [
                {"name": "new first", "fixed": 1},
                {"name": "standalone"},
                {"name": "transfer fixed=2", "weights": "source", "fixed": 2},
            ],
        }
    )
    seed_of = {(r.arm.name, r.source_index, r.repeat): r.seed for r in plan.plan_replicas(cfg)}
    for r in plan.plan_replicas(more_arms):
        if r.arm.name != "new first":
            assert seed_of[(r.arm.name, r.source_index, r.repeat)] == r.seed
    three = config_from_dict({"study": {"repeats": 3, "source_repeats": 3}})
    seed_of_three = {(r.arm.name, r.source_index, r.repeat): r.seed for r in plan.plan_replicas(three)}
    assert all(seed_of_three[key] == seed for key, seed in seed_of.items())  # repeats 2 are the first 2 of 3
    other_root = config_from_dict({"study": {**TINY["study"], "seed": 1}})
    assert not {r.seed for r in plan.plan_replicas(other_root)} & set(seed_of.values())


def test_the_work_of_a_tiny_config():
    cfg = config_from_dict(TINY)
    # one architecture and one train size: all 20 replicas are one batch, trained 100 epochs, plus one pass
    # of 100 epochs for the source models of problem 1
    assert plan.epochs_of_work(cfg) == 100 and plan.epochs_of_work(cfg, {1: 3}) == 200
    assert plan.epochs_of_work(cfg, {1: 0}) == 100  # nothing to train for a problem of 0 models
    keras = config_from_dict({**TINY, "study": {**TINY["study"], "engine": "keras"}})
    assert plan.epochs_of_work(keras, {1: 3}) == 20 * 100 + 3 * 100  # one network at a time


def test_chunks_keep_each_architecture_and_number_of_minibatches_apart():
    cfg = config_from_dict(TINY)
    wide = Arm("add hidden", weights="source", copy=2, fixed=2, add_hidden=1)
    standalone = cfg.arm("standalone")
    jobs = [(standalone, None, 0)] * 6 + [(wide, None, 0)] * 2
    problems = [SimpleNamespace(x_train=np.zeros((n, 2))) for n in (20, 100, 30, 500, 20, 100, 20, 20)]
    # minibatches of 32 rows: 1, 4, 1, 16, 1, 4; the two wide networks are one more group
    assert plan.chunks(cfg, jobs, problems=problems) == [[0, 2, 4], [1, 5], [3], [6, 7]]
    assert plan.chunks(cfg, jobs, 2, problems=problems) == [[0, 2], [4], [1, 5], [3], [6, 7]]
    assert plan.chunks(cfg, jobs, problems=problems, training=Training(batch_size=128)) == [
        [0, 1, 2, 4, 5],
        [3],
        [6, 7],
    ]
    assert plan.chunks(cfg, jobs) == [[0, 1, 2, 3, 4, 5], [6, 7]]  # without problems: by architecture only


def test_sources_needed_put_the_studys_own_source_problem_first():
    assert plan.sources_needed(config_from_dict(TINY)) == [1]
    assert plan.sources_needed(config_from_dict({"arms": [{"name": "standalone"}]})) == []
    reverse = config_from_dict(
        {
            "study": {"source_problem": 2, "target_problem": 1},
            "arms": [
                {"name": "standalone"},
                {"name": "from 1", "weights": "source", "source_problem": 1},
                {"name": "from 2", "weights": "source"},
            ],
        }
    )
    assert plan.sources_needed(reverse) == [2, 1]


def test_a_runs_diverged_replicas_and_its_records():
    replicas = [plan.Replica(Arm("standalone"), None, 0, 7), plan.Replica(Arm("standalone"), None, 1, 8)]
    final = {
        "test_accuracy": np.array([0.81234, 0.5]),
        "test_correct": np.array([406, 250]),
        "train_accuracy": np.array([0.7, 0.5]),
        "train_loss": np.array([0.12345678, 1.0]),
        "test_loss": np.array([0.2, np.nan]),
    }
    result = plan.RunResult(replicas, final, {})
    assert result.diverged.tolist() == [False, True]  # a non-finite test loss is enough
    assert result.records() == [
        {
            "arm": "standalone",
            "source_index": None,
            "repeat": 0,
            "seed": 7,
            "test_accuracy": 0.812,
            "test_correct": 406,
            "train_accuracy": 0.7,
            "final_loss": 0.123457,
            "test_loss": 0.2,
            "diverged": False,
        },
        {
            "arm": "standalone",
            "source_index": None,
            "repeat": 1,
            "seed": 8,
            "test_accuracy": None,
            "test_correct": None,
            "train_accuracy": None,
            "final_loss": None,
            "test_loss": None,
            "diverged": True,
        },
    ]


def test_source_provenance_names_each_problem_its_seeds_and_its_file():
    cfg = config_from_dict({"target": {"n_train": 100}})
    one = [
        plan.SourceModel(cfg.source_spec, [], 5, "results/source/problem1.keras"),
        plan.SourceModel(cfg.source_spec, [], 6),
    ]
    bnb = [plan.SourceModel(cfg.target_spec, [], None)]
    assert plan.source_provenance(cfg, {cfg.source_spec: one, cfg.target_spec: bnb}) == {
        "problem1": {"problem": "Problem 1", "seeds": [5, 6], "path": "results/source/problem1.keras"},
        "problem2-n_train=100": {"problem": "Problem 2 (n_train=100)", "seeds": [None]},
    }
