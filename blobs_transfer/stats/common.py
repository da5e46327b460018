"""The stats package's internal API: what its modules share. Checked arrays, NaN-free floats, t intervals.

Nothing here is for callers outside `blobs_transfer.stats` (they use the names `stats/__init__` exports);
the modules of the package import these by name instead of reaching into each other's private helpers.
Shapes: n runs.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import warnings
from types import ModuleType

import numpy as np


class Lazy:
    """A module imported on first use. scipy.special takes a few tenths of a second to import, and a command
    that computes no statistic (`--help`, `runs`, `verify`, a bad option) should not wait for it. The package
    never imports scipy.stats (over half a second more, on every compare's start): the t and normal
    distributions here are scipy.special's functions, which are what scipy.stats itself calls."""

    def __init__(self, name: str) -> None:
        self._name, self._module = name, None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module: ModuleType | None = importlib.import_module(self._name)
        return getattr(self._module, attr)


special = Lazy("scipy.special")


@contextlib.contextmanager
def quiet():
    """Silence numpy's floating-point warnings inside a computation whose output we check ourselves.

    Degenerate input (constant samples, zero variance) divides by zero; every caller here detects that case
    explicitly and returns a fallback or None, so the warning is noise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def as_1d(values, name: str) -> np.ndarray:
    """Validate a non-empty, finite 1-D array (shape (n,)) and return it as float64."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one repeat")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def as_counts(values, name: str, n: int, n_test: int | None = None) -> np.ndarray:
    """Validate integer correct counts of shape (n,) matching the accuracies they belong to
    (and within 0..n_test when n_test is given)."""
    arr = as_1d(values, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} has {arr.size} entries but its accuracies have {n}")
    if not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must be integer correct counts, not accuracies")
    if n_test is not None and (arr.min() < 0 or arr.max() > n_test):
        raise ValueError(f"{name} must lie in 0..n_test={n_test}, got {arr.min():g}..{arr.max():g}")
    return arr.astype(np.int64)


def as_groups(groups, n: int, name: str = "groups") -> np.ndarray:
    """Validate source labels of shape (n,), one per run (any sortable labels: ints or strings)."""
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"{name} has shape {g.shape} but there are {n} runs")
    return g


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def opt_float(x) -> float | None:
    """Python float, or None where the value is not finite (never leak NaN into JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def exact_mean(x: np.ndarray) -> float:
    """Mean of shape (n,), exactly the value for a constant sample (np.mean can be an ulp off,
    which would turn zero spread into 1e-33 and a ratio of two such crumbs into a bogus ICC)."""
    return float(x[0]) if np.ptp(x) == 0 else float(np.mean(x))


def sum_sq(x: np.ndarray) -> float:
    """Sum of squared deviations from the mean of shape (n,), exactly 0 for a constant sample."""
    return 0.0 if np.ptp(x) == 0 else float(np.sum((x - x.mean()) ** 2))


def t_quantile(q, df):
    """Student's t quantile, scipy.stats.t.ppf(q, df) exactly (scipy computes it as stdtrit(df, q))."""
    return special.stdtrit(df, q)


def t_sf(x, df):
    """Student's t survival function, scipy.stats.t.sf(x, df) exactly (scipy computes it as stdtr(df, -x))."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def normal_sf(x):
    """Standard normal survival function, scipy.stats.norm.sf(x) and mannwhitneyu's ndtr(-x) exactly."""
    return special.ndtr(-np.asarray(x, dtype=float))


def t_interval(point: float, se: float, df: float, confidence: float) -> tuple[float, float]:
    """point -+ t_{(1+confidence)/2, df} x se."""
    half = float(t_quantile((1 + confidence) / 2, df)) * se
    return point - half, point + half


def welch_df(var_a: float, df_a: float, var_b: float, df_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of var_a + var_b, each part with its own df (> 0 when its
    variance is > 0); at least one variance must be positive."""
    den = (var_a**2 / df_a if var_a > 0 else 0.0) + (var_b**2 / df_b if var_b > 0 else 0.0)
    return (var_a + var_b) ** 2 / den


def grid_of(*samples: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The sorted distinct values (D,) of several samples together, and each sample's runs' positions on
    that grid (shapes (n_i,)): the layout the resampler draws on."""
    grid, index = np.unique(np.concatenate(samples), return_inverse=True)
    index = index.reshape(-1)
    bounds = np.cumsum([0] + [s.size for s in samples])
    return grid, [index[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def source_index(groups: np.ndarray) -> np.ndarray:
    """Each run's source as a position 0..K-1 among the sorted distinct labels, shape (n,)."""
    _, source = np.unique(groups, return_inverse=True)
    return source.reshape(-1)
