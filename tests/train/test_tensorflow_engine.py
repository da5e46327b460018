"""The TensorFlow engine (blobs_transfer.train.tensorflow_engine): its compiled step is reused across calls.
Its equality with the Keras loop and the Numba engine is in test_engine.py."""

import numpy as np
import pytest

from blobs_transfer.config import Optimizer
from blobs_transfer.model import arms
from blobs_transfer.seeds import replica_rngs
from blobs_transfer.train import update
from tests.helpers import LazyModule

tensorflow_engine = LazyModule("blobs_transfer.train.tensorflow_engine")


@pytest.mark.slow
@pytest.mark.parametrize("rule", [Optimizer(), Optimizer("adam", 0.001)], ids=["sgd", "adam"])
def test_the_compiled_step_is_reused_across_calls(cfg, problem2, rule):
    """Reused, and reset: the weights, and the optimizer's state and step count (fresh for every training)."""
    initial = arms.stack([arms.initial_weights(cfg, cfg.arms[0], None, replica_rngs(s)[0]) for s in (1, 2)])

    def run():
        return tensorflow_engine.train_replicas(
            problem2, initial, np.ones((2, 3), bool), [1, 2], epochs=2, batch_size=32, optimizer=rule
        )

    first = run()
    step = tensorflow_engine._step_for(initial, update.settings(rule)[0])
    traces = step.run_epoch.experimental_get_tracing_count()
    assert traces >= 1  # the step the first run traced (a fresh, untraced step would make the check below empty)
    second = run()
    assert step.run_epoch.experimental_get_tracing_count() == traces  # no new trace, no new compile
    assert (
        tensorflow_engine._step_for(initial, update.settings(rule)[0]) is step
    )  # and the second run used that very step
    for key in first.final:  # and the variables were reset: the same start gives the same result
        np.testing.assert_array_equal(first.final[key], second.final[key])
