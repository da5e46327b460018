"""Which update rule trains the networks: `training.optimizer` and its settings, resolved to one `Optimizer`.

The tutorial trains with plain SGD at learning rate 0.01 (Keras's SGD default), and that is the default.
`momentum` is Keras's SGD with momentum (0.9, Keras's value, unless `training.momentum` says otherwise; with
`training.nesterov = true` its Nesterov step), `adam` is Keras's Adam with its defaults (learning rate 0.001
unless `training.learning_rate` is given, beta_1 0.9, beta_2 0.999, epsilon 1e-7). Every engine reads the
same resolved `Optimizer`, so the rule's settings are written down once, here.

May import: `blobs_transfer.errors` and the standard library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from blobs_transfer.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_LEARNING_RATE = {"sgd": 0.01, "momentum": 0.01, "adam": 0.001}  # Keras's own defaults
DEFAULT_MOMENTUM = 0.9  # what Keras users set; Keras's SGD itself defaults to 0 (plain SGD, our "sgd")
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7  # keras.optimizers.Adam's defaults


@dataclass(frozen=True)
class Optimizer:
    """A resolved update rule: every number an engine needs, none left to a default elsewhere.

    name: "sgd", "momentum" or "adam". momentum and nesterov matter for "momentum" only; beta_1, beta_2 and
    epsilon for "adam" only. The default is the tutorial's: plain SGD at 0.01.
    """

    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    beta_1: float = ADAM_BETA_1
    beta_2: float = ADAM_BETA_2
    epsilon: float = ADAM_EPSILON

    def describe(self) -> str:
        """In words, for reports: 'SGD, learning rate 0.01', 'Adam, learning rate 0.001' ..."""
        if self.name == "momentum":
            kind = f"SGD with {'Nesterov ' if self.nesterov else ''}momentum {self.momentum:g}"
        else:
            kind = {"sgd": "plain SGD", "adam": "Adam"}[self.name]
        return f"{kind}, learning rate {self.learning_rate:g}"


def resolve(
    where: str, name: str, learning_rate: float | None, momentum: float | None, nesterov: bool | None
) -> Optimizer:
    """The `Optimizer` for a table's settings (`where` names the table in errors: 'training', 'target' ...).

    Rejects an unknown optimizer, a learning rate that is not a positive number, a momentum outside [0, 1],
    and momentum or nesterov given for an optimizer that has none (they would be silently ignored)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"{where}.optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    rate = DEFAULT_LEARNING_RATE[name] if learning_rate is None else learning_rate
    if not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"{where}.learning_rate must be a positive number, got {rate}")
    if name != "momentum":
        for key, value in (("momentum", momentum), ("nesterov", nesterov)):
            if value is not None:
                raise ConfigError(
                    f'{where}.{key} is set, but optimizer {name!r} has no momentum (use optimizer = "momentum")'
                )
        return Optimizer(name, rate)
    m = DEFAULT_MOMENTUM if momentum is None else momentum
    if not (math.isfinite(m) and 0.0 <= m <= 1.0):
        raise ConfigError(f"{where}.momentum must be a number from 0 to 1, got {m}")
    return Optimizer(name, rate, momentum=m, nesterov=bool(nesterov))
