"""blobs-transfer: the Keras blobs transfer-learning study, reproduced fast and with honest statistics.

Pipeline: config -> problems -> arms -> engine / models -> experiment -> analysis (stats) -> report / plots ->
results (files) -> study (the library API) -> cli (a thin layer over `study`).
"""

__version__ = "0.1.0"

import os as _os

# LLVM's O2 for the generated training kernel: it vectorises the same lane loops as O3 (measured: the same speed)
# and compiles in 13 s instead of 16 s on the first run after an install. Numba reads this once, at its import,
# for every function it compiles in the process; set NUMBA_OPT yourself to choose otherwise.
_os.environ.setdefault("NUMBA_OPT", "2")
