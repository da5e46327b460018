"""The grid of a sweep: a base config and, per swept key, a list of values; every combination is a `Cell`.

A sweep config is an ordinary config (the base: arms, [study], [target] ...) plus a `[sweep]` table giving each
swept key a list of values, e.g. `"target.n_train" = [10, 100, 500]`. A cell is immutable and picklable; its
config is the base with the cell's values. Every cell uses the sweep's root seed, so cells share their source
models and repeat seeds where their settings allow (common random numbers: differences between cells are not
blurred by different draws), and a one-cell sweep is exactly `compare` with the same settings and seed.
Pure: reading the sweep file is the only I/O.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blobs_transfer.config import SECTIONS, Config, ConfigError, config_from_dict, dumps_table, to_toml


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its position and its values, (key, value) per swept key in grid order."""

    index: int
    values: tuple[tuple[str, Any], ...]

    @property
    def name(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.values)


@dataclass(frozen=True)
class Sweep:
    """A resolved sweep: the base config's TOML data, the axes (key, values) in order, and the root seed."""

    base: dict[str, Any]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.axes]

    def cells(self) -> list[Cell]:
        grid = itertools.product(*(values for _, values in self.axes))
        return [Cell(i, tuple(zip(self.keys, combo))) for i, combo in enumerate(grid)]

    def config_of(self, cell: Cell) -> Config:
        return config_from_dict(self.base, dict(cell.values))

    @property
    def seed(self) -> int:
        return self.config_of(self.cells()[0]).study.seed

    def to_toml(self) -> str:
        """The resolved sweep: the grid, then the base config of its first cell with every default spelled out."""
        grid = dumps_table({k: list(v) for k, v in self.axes})
        return f"[sweep]\n{grid}\n" + to_toml(config_from_dict(self.base))


def load_sweep(path: str | Path, *, seed: int | None = None) -> Sweep:
    """Read a sweep config; every bad grid (unknown key, empty list, a value of the wrong type) is a one-line
    ConfigError here, before anything trains, because every cell's config is built and validated."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sweep config {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"sweep config {str(path)!r} cannot be read: {exc}") from None
    return sweep_from_dict(data, seed=seed)


def sweep_from_dict(data: dict[str, Any], *, seed: int | None = None) -> Sweep:
    grid = data.pop("sweep", None)
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("a sweep config needs a [sweep] table with at least one key and its list of values")
    if seed is not None:
        data = {**data, "study": {**data.get("study", {}), "seed": seed}}
    axes = []
    for key, values in grid.items():
        section, _, name = key.partition(".")
        if section not in SECTIONS or not name:
            raise ConfigError(
                f"sweep: unknown key {key!r} (keys are section.key, e.g. target.n_train; sections are "
                f"{', '.join(SECTIONS)})"
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(f"sweep: {key} needs a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"sweep: {key} lists a value twice")
        axes.append((key, tuple(values)))
    sweep = Sweep(data, tuple(axes))
    config_from_dict(data)  # the base itself must be a valid config
    for cell in sweep.cells():
        try:
            sweep.config_of(cell)
        except ConfigError as exc:
            raise ConfigError(f"sweep cell {cell.name}: {exc}") from None
    return sweep
