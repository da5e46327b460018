"""Every seed from one root seed (blobs_transfer.seeds): derived by name, never by position, so adding an arm,
a source model or a repeat leaves every other seed unchanged; the values are the ones the committed runs
recorded."""

import json
import zlib

import numpy as np

from blobs_transfer import seeds
from blobs_transfer.config import load_config
from blobs_transfer.train import plan
from tests.helpers import ROOT


def test_derived_seeds_are_stable_and_distinct():
    derived = [seeds.derive_seed(0, 1, 7, 0, r) for r in range(30)]
    assert len(set(derived)) == 30
    assert derived[:10] == [seeds.derive_seed(0, 1, 7, 0, r) for r in range(10)]
    assert seeds.derive_seed(1, 1, 7, 0, 0) != derived[0]
    # stable across processes and versions, not only within this one: numpy's SeedSequence of (root, key)
    assert derived[0] == 298438752
    assert derived == [int(np.random.SeedSequence(0, spawn_key=(1, 7, 0, r)).generate_state(1)[0]) for r in range(30)]


def test_the_committed_example_run_recorded_these_seeds():
    """results/example was made by `compare --repeats 30` at seed 0: its recorded seeds are what the scheme
    derives today, so any row of it can be re-run alone."""
    run = ROOT / "results" / "example"
    meta = json.loads((run / "metadata.json").read_text())
    cfg = load_config(run / "config.toml")
    assert meta["root_seed"] == cfg.study.seed == 0
    assert meta["source_models"]["problem1"]["seeds"] == [seeds.source_seed(0, 1, 0)] == [1246905493]
    for arm in cfg.arms:
        recorded = meta["repeat_seeds"][arm.name]
        assert len(recorded) == 30
        source_index = 0 if arm.uses_source else None
        assert recorded == [seeds.arm_seed(0, arm.name, source_index, r) for r in range(30)], arm.name
    assert meta["repeat_seeds"]["standalone"][:2] == [2784355650, 2910253699]
    assert [r.seed for r in plan.plan_replicas(cfg)] == [s for arm in cfg.arms for s in meta["repeat_seeds"][arm.name]]


def test_seeds_are_keyed_by_name_not_position():
    assert seeds.name_key("standalone") == zlib.crc32(b"standalone") == 1469667136
    assert seeds.arm_seed(0, "standalone", None, 3) == seeds.derive_seed(0, seeds.ARM_STREAM, 1469667136, 0, 3)
    # a source-free arm is keyed as source 0; the repeat index, the source index and the name each change it
    assert seeds.arm_seed(0, "a", None, 0) == seeds.arm_seed(0, "a", 0, 0)
    assert (
        len(
            {
                seeds.arm_seed(0, "a", 1, 0),
                seeds.arm_seed(0, "a", 0, 1),
                seeds.arm_seed(0, "b", 0, 0),
                seeds.arm_seed(1, "a", 0, 0),
                seeds.arm_seed(0, "a", 0, 0),
            }
        )
        == 5
    )
    # the streams never meet: a source model, an arm and a statistic with the same numbers get other seeds
    assert seeds.source_seed(0, 1, 0) == seeds.derive_seed(0, seeds.SOURCE_STREAM, 1, 0)
    assert (
        seeds.statistic_seed(0, "describe", "standalone")
        == seeds.derive_seed(0, seeds.STATISTICS_STREAM, zlib.crc32(b"describe"), zlib.crc32(b"standalone"))
        == 534445661
    )
    assert seeds.extra_rows_seed(2) == seeds.derive_seed(2, seeds.EXTRA_ROWS_STREAM) == 2854122131
    assert len({seeds.SOURCE_STREAM, seeds.ARM_STREAM, seeds.STATISTICS_STREAM, seeds.EXTRA_ROWS_STREAM}) == 4


def test_a_replica_gets_two_independent_generators_from_its_seed():
    init, order = seeds.replica_rngs(42)
    a, b = np.random.SeedSequence(42).spawn(2)
    assert init.random(3).tolist() == np.random.default_rng(a).random(3).tolist()
    assert order.random(3).tolist() == np.random.default_rng(b).random(3).tolist()
    again_init, _ = seeds.replica_rngs(42)
    assert again_init.random(3).tolist() == np.random.default_rng(a).random(3).tolist()
    assert seeds.replica_rngs(43)[0].random() != np.random.default_rng(a).random()
