"""blobs-transfer: the Keras blobs transfer-learning study, reproduced fast and with honest statistics.

The package follows the pipeline, bottom to top; a module imports only from its own stage and the stages above
it in this list (tests/test_layout.py checks it):

errors        the expected failures, one hierarchy of one-line messages
atomic        every file written whole under a temporary name, then renamed into place
seeds         every seed derived by name from one root seed
config/       the one typed, frozen config whose defaults are the tutorial's protocol (`schema`), the update
              rule it names (`optimizer`), its one type check (`typecheck`), TOML in (`load`) and out (`write`)
problems      the synthetic make_blobs problems, as specs and arrays
model/        the network: each arm's starting weights (`arms`), its NumPy `forward` pass, `.keras` files read
              (`keras_file`) and written (`keras_model`), TensorFlow imported quietly (`backend`)
train/        training: the plan of replicas and seeds (`plan`), the engines (Numba: `engine` + `loop` +
              `update` + `kernel` + `fastmath` + `orders`; `tensorflow_engine`; the Keras `reference` loop),
              `run`, `result`
stats/        the statistics: numpy/scipy (two Numba kernels), one resampling core over (source model, run) (see
              its map)
sweep/        a grid of comparisons (`grid`), batched (`schedule`), trained (`cells`), in this process or on Dask
              (`runners`)
rundir/       results on disk: the `files` a user opens, a `manifest`, a compare `run`'s and a `sweep_dir`'s directory,
              the `listing` of runs
render/       words and pictures from the numbers: `findings`, `report`, `plots`, the `sweep` report, `gate`
              outputs for CI
export/       finished runs published to `mlflow`
api/          the study as a library: one function per command, composing the stages above
cli/          the `blobs-transfer` command line, a thin layer over `api`: `common` options and errors, one module per
              group of commands (`study`, `sweep`, `gate`, `runs`) (`__main__`: python -m blobs_transfer)
"""

__version__ = "0.1.0"

import os as _os

# LLVM's O2 for the generated training kernel: it vectorises the same lane loops as O3 (measured: the same speed)
# and compiles in 13 s instead of 16 s on the first run after an install. Numba reads this once, at its import,
# for every function it compiles in the process; set NUMBA_OPT yourself to choose otherwise.
_os.environ.setdefault("NUMBA_OPT", "2")
