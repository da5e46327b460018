"""Sweeps: a grid of comparisons, its cells trained in batches, in this process or on a Dask cluster.

May import: errors, seeds, config, problems, model, train, stats. Writes no files: the driver (`api.sweep`) does.

- `grid`: the sweep config, its axes and its immutable, picklable cells.
- `schedule`: which cells train together, in batches sized to the runner.
- `cells`: training a batch of cells (a pure function from configs to arrays) and each cell's statistics.
- `runners`: where the batches run: in this process, or as tasks on a Dask distributed cluster.
"""
