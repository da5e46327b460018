"""Training: R replicas of the MLP trained together by the chosen engine, from a plan that fixes every seed.

May import: errors, atomic, seeds, config, problems, model.

- `plan`: which replicas (arm, source index, repeat, seed) a comparison trains, and in which batches; pure.
- `run`: the comparison trained by the chosen engine, as plain arrays (`train`, `train_sources`,
  `run_comparison(s)`).
- `result`: `TrainResult` and the minibatch rules every engine shares.
- `engine`: the default Numba engine's front end (threads, blocks of lanes, the compiled-kernel cache).
- `loop`: the Numba engine's training loop, plain Numba: staging, shuffles, minibatches, evaluation.
- `update`: the update rule, the one place where a gradient moves the weights (SGD, momentum, Adam).
- `kernel`: the generator of the per-architecture row body (forward, loss, backward), all that is unrolled.
- `fastmath`: `exp` and `log` written out for the kernel, and the kernel's Numba settings.
- `orders`: each replica's minibatch orders, drawn in the kernel from its seed.
- `tensorflow_engine`: the same computation in TensorFlow (`--engine tensorflow`, the GPU path; imports
  TensorFlow when imported).
- `reference`: the reference loop, one `keras.Model.fit` per repeat (`--engine keras`; imports TensorFlow).
"""
