"""Training in chunks: a replica's result does not depend on the chunk it was trained in."""

import numpy as np

from blobs_transfer.train import run as experiment

from blobs_transfer.train import plan
from blobs_transfer.config import load_config


def test_chunks_split_groups_evenly_by_architecture(cfg):
    jobs = [(arm, None, 0) for arm in cfg.arms for _ in range(5)]  # 20 jobs, one architecture
    assert [len(c) for c in plan.chunks(cfg, jobs, 8)] == [7, 7, 6]
    assert sorted(i for c in plan.chunks(cfg, jobs, 8) for i in c) == list(range(20))
    assert [len(c) for c in plan.chunks(cfg, jobs)] == [20]


def test_chunked_training_is_bit_for_bit_the_same():
    cfg = load_config(None, **{"study.repeats": 5, "study.source_repeats": 2, "training.epochs": 4})
    (models, _) = experiment.train_sources(cfg, 1, 2)
    sources = {cfg.source_spec: models}
    whole = experiment.run_comparison(cfg, sources)
    chunked = experiment.run_comparison(cfg, sources, chunk_size=7)
    assert [r.seed for r in whole.replicas] == [r.seed for r in chunked.replicas]
    for key in whole.final:
        assert np.array_equal(whole.final[key], chunked.final[key]), key
    for key in whole.history:
        assert np.array_equal(whole.history[key], chunked.history[key]), key
