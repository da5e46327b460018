"""Results on disk: run and sweep directories, their files, their manifests, and reading them back verified.

May import: errors, atomic, seeds, config, problems, model, train, stats, sweep. Never imports TensorFlow. With `api`,
`model.keras_model` (the `.keras` file) and `train.engine` (its compiled-kernel cache), the only code that
writes files.

- `files`: the INCOMPLETE marker, scores.csv and curves, metadata, figures saved as PNG.
- `manifest`: manifests that let a run or sweep verify itself, and one writer per sweep folder.
- `run`: a compare run's directory: sealing it, verifying it, loading it and recomputing its summary.
- `sweep_dir`: a sweep's directory: one folder per finished cell, verified, and the tables assembled from them.
- `listing`: the runs and sweeps under a results folder, one row each.
"""
