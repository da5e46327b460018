"""The one typed, frozen config whose defaults are the tutorial's protocol; TOML in and out.

TOML files in `configs/` are small overrides of the defaults; command-line flags win over both. Every mistake in
a config file is a one-line `ConfigError` whose message names the offending key.

- `schema`: the frozen dataclasses (one per TOML table, and `Arm`) with the tutorial's values as defaults, the
  views a study reads (`Config.target_spec`, `Config.source_training` ...), and `validate`, the rules a type
  cannot say, applied whenever a `Config` is made.
- `optimizer`: the update rule (`training.optimizer`: sgd, momentum, adam) resolved to one `Optimizer` that
  every engine reads.
- `typecheck`: THE type check. `check_type(key, value, annotation)` checks a value read from TOML against the
  annotation of the dataclass field it fills; every table, every key of every table and arm, and every
  override goes through it, so a field's type is declared once, as its annotation.
- `load`: a config from a TOML file or TOML data, then "section.key" overrides.
- `write`: a config back to TOML data and to TOML text, written by tomli-w.

May import: `blobs_transfer.errors`, the standard library, and tomli-w. Config sits at the bottom of the
pipeline: nothing else of the package.
"""

from blobs_transfer.config.load import config_from_dict, load_config
from blobs_transfer.config.optimizer import OPTIMIZERS, Optimizer
from blobs_transfer.config.schema import (
    ENGINE_ALIASES,
    ENGINES,
    INITIALIZERS,
    INITS,
    SECTIONS,
    TRAINING_KEYS,
    TUTORIAL_ARMS,
    WEIGHTS,
    Arm,
    Config,
    Model,
    Problems,
    ProblemSpec,
    SourceProblem,
    Study,
    TargetProblem,
    Training,
    validate,
)
from blobs_transfer.config.write import config_to_dict, dumps_table, to_toml
from blobs_transfer.errors import ConfigError

__all__ = [
    "ENGINES",
    "ENGINE_ALIASES",
    "OPTIMIZERS",
    "Optimizer",
    "INITIALIZERS",
    "INITS",
    "SECTIONS",
    "TRAINING_KEYS",
    "TUTORIAL_ARMS",
    "WEIGHTS",
    "Arm",
    "Config",
    "ConfigError",
    "Model",
    "ProblemSpec",
    "Problems",
    "SourceProblem",
    "Study",
    "TargetProblem",
    "Training",
    "config_from_dict",
    "config_to_dict",
    "dumps_table",
    "load_config",
    "to_toml",
    "validate",
]
