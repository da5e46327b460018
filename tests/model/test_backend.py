"""TensorFlow imported quietly (blobs_transfer.model.backend): none of its start-up chatter on stderr, its
logging and Keras's backend set, and a second call a no-op. In a fresh interpreter: in this test process
TensorFlow may already be loaded, and then the import it silences has already happened."""

import os
import subprocess
import sys

import pytest

CHILD = """
import os, sys
from blobs_transfer.model.backend import import_tensorflow
assert "tensorflow" not in sys.modules
import_tensorflow()
import tensorflow
import_tensorflow()  # loaded already: returns at once
print(os.environ["TF_CPP_MIN_LOG_LEVEL"], os.environ["KERAS_BACKEND"], "keras" in sys.modules,
      tensorflow.get_logger().level == 40)
"""


@pytest.mark.slow
def test_tensorflow_is_imported_without_a_word_on_stderr():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "tensorflow", "True", "True"]
    assert done.stderr == ""
