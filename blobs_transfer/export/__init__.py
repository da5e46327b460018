"""Publishing finished, verified runs elsewhere.

May import: every stage below it (rundir, stats, ...). MLflow is imported only inside `export`, so nothing else
pays its import time or needs the `mlflow` extra.

- `mlflow`: a compare run as one MLflow run, a sweep as a parent run with one child per cell.
"""
