"""Training: R replicas of the MLP trained together by the chosen engine, from a plan that fixes every seed.

May import: errors, seeds, config, problems, model.

- `plan`: which replicas (arm, source index, repeat, seed) a comparison trains, and in which batches; pure.
- `run`: the comparison trained by the chosen engine, as plain arrays (`train`, `train_sources`,
  `run_comparison(s)`).
- `result`: `TrainResult` and the minibatch rules every engine shares.
- `engine`: the default Numba engine's front end (threads, blocks of lanes, the compiled-kernel cache).
- `kernel`: the generated per-architecture Numba training kernel.
- `fastmath`: `exp` and `log` written out for the kernel, and the kernel's Numba settings.
- `orders`: each replica's minibatch orders, drawn in the kernel from its seed.
- `tensorflow_engine`: the same computation in TensorFlow (`--engine tensorflow`, the GPU path; imports
  TensorFlow when imported).
- `reference`: the reference loop, one `keras.Model.fit` per repeat (`--engine keras`; imports TensorFlow).
"""
