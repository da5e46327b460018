"""TensorFlow and Keras imported quietly, by the code paths that need them (saving a `.keras` model, the
`tensorflow` and `keras` engines); the default Numba engine never does."""

from __future__ import annotations

import os
import sys


def import_tensorflow() -> None:
    """Import TensorFlow and Keras without their start-up chatter on stderr.

    TensorFlow 2.21 prints oneDNN and CUDA-stub notices from C++ before its logging is configured, ignoring
    TF_CPP_MIN_LOG_LEVEL, so the file descriptor itself is silenced for the import. An import error still
    raises normally once stderr is back.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow

        tensorflow.get_logger().setLevel("ERROR")  # retracing notices are ours to fix, not the user's to read
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
