"""Every seed of a study, derived from one root seed by one scheme: `SeedSequence(root, spawn_key=key)`.

A key names what the seed is for (a stream, then names or indices), never a position in a list, so adding
an arm, a source model or a statistic leaves every other seed unchanged, and repeat i's seed does not depend
on how many repeats are run (`--repeats 10` reproduces the first 10 rows of `--repeats 30`).

The statistics follow the same rule. A resampling of one thing takes the seed `statistic_seed(root, purpose,
name)` (e.g. ("describe", arm)); a statistic over several named arms (a comparison of every arm, P(best),
the gate's bands) takes the root seed and derives each arm's stream the same way, so an arm's numbers do not
depend on which other arms there are or on their order; and the streams within one statistic (an arm's
resamples and the baseline's) are named too: `statistic_rng(seed, "baseline")`.
"""

from __future__ import annotations

import zlib

import numpy as np

SOURCE_STREAM, ARM_STREAM, STATISTICS_STREAM, EXTRA_ROWS_STREAM = 0, 1, 2, 3


def derive_seed(root: int, *key: int) -> int:
    """A 32-bit seed for the stream `key` of the root seed (independent streams for different keys)."""
    return int(np.random.SeedSequence(root, spawn_key=key).generate_state(1)[0])


def name_key(name: str) -> int:
    """A stable integer for a name (an arm, a statistic) to use in a seed's key."""
    return zlib.crc32(name.encode("utf-8"))


def source_seed(root: int, problem: int, index: int) -> int:
    """Seed of source model `index` trained on catalogue problem `problem` (index 0 is what train-source makes)."""
    return derive_seed(root, SOURCE_STREAM, problem, index)


def arm_seed(root: int, arm: str, source_index: int | None, repeat: int) -> int:
    """Seed of one repeat of an arm, from one source model; it fixes the starting weights and batch order."""
    return derive_seed(root, ARM_STREAM, name_key(arm), source_index or 0, repeat)


def statistic_seed(root: int, *names: str) -> int:
    """Seed of one resampling in the statistics, keyed by what it is for, e.g. ("describe", arm); root is the
    study's root seed, or a statistic's own seed for a stream within it."""
    return derive_seed(root, STATISTICS_STREAM, *(name_key(n) for n in names))


def extra_rows_seed(random_state: int) -> int:
    """Seed of the training rows a problem draws past its first make_blobs draw (large train sizes)."""
    return derive_seed(random_state, EXTRA_ROWS_STREAM)


def replica_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators of one replica: (initial weights, minibatch order)."""
    init, order = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(init), np.random.default_rng(order)


def statistic_rng(root: int, *names: str) -> np.random.Generator:
    """The generator of `statistic_seed(root, *names)`: one named stream of draws within a statistic."""
    return np.random.default_rng(statistic_seed(root, *names))
