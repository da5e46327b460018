"""The network and its weights: the tutorial's MLP as arrays and as a real Keras model, and each arm's start.

May import: errors, atomic, seeds, config, problems.

- `arms`: each arm's starting weights (copied, re-initialised or weight-statistics) and frozen layers; pure numpy.
- `forward`: the network's forward pass in NumPy (its classes, its features and softmax); pure numpy.
- `keras_file`: a source model's weights read straight from its `.keras` file with h5py (no TensorFlow).
- `keras_model`: the tutorial's Keras Sequential model, freezing and recompiling, saving and loading `.keras`
  (imports TensorFlow when imported).
- `backend`: TensorFlow and Keras imported quietly, for the few code paths that need them.
"""
