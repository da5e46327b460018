"""What a config is: the frozen dataclasses, their defaults, and the rules their values obey.

The defaults are the tutorial's protocol: two scikit-learn `make_blobs` problems (random_state 1 and 2; 1000
points, 3 classes, 2 features, cluster_std 2.0, the first 500 rows to train on and the last 500 to test on), an
MLP 2-5-5-3 (ReLU hidden layers initialised he_uniform, a softmax output), plain SGD on categorical
cross-entropy with learning rate 0.01, batch size 32 and 100 epochs, and four arms compared over 30 repeats on
Problem 2: a standalone model, and transfer from one model trained on Problem 1 with 0, 1 or 2 hidden layers
frozen. Each field's type is its annotation, which `typecheck` enforces on values read from TOML; `validate` checks
the rules a type cannot say (positive sizes, known names, arms that fit the model) whenever a `Config` is made.

May import: `blobs_transfer.errors`, `config.optimizer` and the standard library.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from blobs_transfer.config.optimizer import Optimizer, resolve
from blobs_transfer.errors import ConfigError


@dataclass(frozen=True)
class Problems:
    """The catalogue of scikit-learn `make_blobs` problems; problem k uses random_state=seeds[k-1].

    The other keys are what every problem shares unless `[source]` or `[target]` overrides them.
    """

    seeds: tuple[int, ...] = (1, 2)  # Problem 1 is random_state=1, Problem 2 is random_state=2
    n_samples: int = 1000
    centers: int = 3
    n_features: int = 2
    cluster_std: float = 2.0
    n_train: int = 500  # first 500 rows train, last 500 test; no shuffling, no scaling

    @property
    def n_test(self) -> int:
        return self.n_samples - self.n_train


@dataclass(frozen=True)
class SourceProblem:
    """Overrides for the source models only: their problem (unset: the catalogue's values) and their training
    (unset: the `[training]` block's)."""

    n_train: int | None = None
    cluster_std: float | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    batch_size: int | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class TargetProblem:
    """Overrides for the target only: its problem (the test split never changes with them) and the training of
    every arm on it (unset: the `[training]` block's, so the source models keep theirs when the target's change).

    similarity_t: the target's class centres are the source problem's centres moved a fraction t of the way
    toward the target problem's own centres, class k staying class k (0: the source's centres; 1: the
    target problem's own, exactly the catalogue problem).
    """

    n_train: int | None = None
    cluster_std: float | None = None
    similarity_t: float | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    momentum: float | None = None
    nesterov: bool | None = None
    batch_size: int | None = None
    epochs: int | None = None


@dataclass(frozen=True)
class ProblemSpec:
    """Everything that makes one problem's data, so that a source model can be keyed by it.

    Rows are make_blobs(n_samples, centers, cluster_std, random_state); the last n_test rows are the test split,
    fixed whatever n_train is; the train split is the first n_train rows, and past n_samples - n_test rows
    it continues with a second draw around the same centres. With `similarity_t` the centres are those of
    random_state `centers_from` moved a fraction t toward this problem's own.
    """

    number: int  # the catalogue problem it is (or is derived from)
    random_state: int
    centers: int = 3
    n_features: int = 2
    cluster_std: float = 2.0
    n_samples: int = 1000
    n_test: int = 500
    n_train: int = 500
    centers_from: int | None = None
    similarity_t: float | None = None

    def changes_from(self, plain: ProblemSpec) -> dict[str, Any]:
        """The keys whose values differ from `plain` (the catalogue problem), in a fixed order."""
        keys = (
            "random_state",
            "centers",
            "n_features",
            "cluster_std",
            "n_samples",
            "n_test",
            "n_train",
            "similarity_t",
        )
        return {k: getattr(self, k) for k in keys if getattr(self, k) != getattr(plain, k)}


@dataclass(frozen=True)
class Model:
    """The tutorial's MLP: Dense(5, relu) -> Dense(5, relu) -> Dense(3, softmax)."""

    hidden_units: tuple[int, ...] = (5, 5)
    hidden_initializer: str = "he_uniform"
    output_initializer: str = "glorot_uniform"  # Keras's default; all biases start at zero


@dataclass(frozen=True)
class Training:
    """Plain SGD on categorical cross-entropy at Keras's defaults, as the tutorial trains (or Keras's momentum or
    Adam: `optimizer`, resolved by `update_rule`); shared by the source models and the target's arms unless
    `[source]` or `[target]` overrides a key (`Config.source_training`, `Config.target_training`)."""

    optimizer: str = "sgd"
    learning_rate: float | None = None  # None: the optimizer's Keras default (0.01 for SGD, the tutorial's)
    momentum: float | None = None  # optimizer "momentum" only; None: 0.9
    nesterov: bool | None = None  # optimizer "momentum" only: Nesterov's step
    batch_size: int = 32  # 500 rows -> 15 batches of 32 and one of 20, reshuffled every epoch
    epochs: int = 100

    def rule(self, where: str = "training") -> Optimizer:
        """The update rule these settings name (`where` names the table in an error)."""
        return resolve(where, self.optimizer, self.learning_rate, self.momentum, self.nesterov)

    update_rule = property(rule)


@dataclass(frozen=True)
class Arm:
    """One arm of the comparison: where its starting weights come from and what stays frozen.

    weights = "fresh": every layer randomly initialised (the standalone model).
    weights = "source": the first `copy` layers come from a source model trained on `source_problem`
    (the study's source problem when unset); the remaining layers are re-initialised.
    `fixed` leading hidden layers are frozen (for a fresh arm: random frozen features).
    `add_hidden` new random hidden layers go after the source's hidden layers, before a new output layer.
    `repeats` overrides study.repeats for this arm (e.g. more runs for a baseline that has no source models).
    `init` says what a copied layer starts from: "copy" (unset: the source's weights) or "weight_stats" (the
    control of Raghu et al. 2019: each kernel and bias drawn i.i.d. normal with the mean and standard
    deviation of that source layer's own kernel or bias, nothing else of the source).
    """

    name: str
    weights: str = "fresh"
    copy: int | None = None  # layers copied from the source, counting the output layer; None = all
    fixed: int = 0
    add_hidden: int = 0
    source_problem: int | None = None
    repeats: int | None = None  # this arm's repeats (per source model); None = study.repeats
    init: str | None = None  # copied layers: "copy" (None) or "weight_stats"

    @property
    def uses_source(self) -> bool:
        return self.weights == "source"


TUTORIAL_ARMS: tuple[Arm, ...] = (
    Arm("standalone"),
    Arm("transfer fixed=0", weights="source", fixed=0),
    Arm("transfer fixed=1", weights="source", fixed=1),
    Arm("transfer fixed=2", weights="source", fixed=2),
)

ENGINES = ("numba", "tensorflow", "keras")
ENGINE_ALIASES = {"vectorized": "tensorflow"}  # the TensorFlow engine's name until the Numba engine came
WEIGHTS = ("fresh", "source")
INITS = ("copy", "weight_stats")
INITIALIZERS = ("he_uniform", "glorot_uniform")


@dataclass(frozen=True)
class Study:
    """The repeated comparison: every arm trained `repeats` times on the target problem, each repeat from its
    own seed, and compared with the baseline arm."""

    source_problem: int = 1
    target_problem: int = 2
    repeats: int = 30
    source_repeats: int = 1  # 1 = the tutorial: every transfer repeat starts from one saved source model
    seed: int = 0  # root seed; per-repeat seeds are derived from it and recorded
    baseline: str = "standalone"
    engine: str = "numba"  # all repeats batched on the CPU; "tensorflow": the same batched, on TensorFlow (a GPU
    # if it has one); "keras": the reference loop, one model.fit per repeat
    # score the source models (transferability.csv, the report's transferability section): true or false; unset,
    # a compare scores them when it has 3 or more (`Config.scores_sources`). Scoring changes no run.
    score_sources: bool | None = None

    def __post_init__(self) -> None:
        if self.engine in ENGINE_ALIASES:  # configs and runs written before the Numba engine
            object.__setattr__(self, "engine", ENGINE_ALIASES[self.engine])


@dataclass(frozen=True)
class Config:
    """The whole study: one field per TOML table (`SECTIONS`), then the arms (`[[arms]]`)."""

    problems: Problems = field(default_factory=Problems)
    source: SourceProblem = field(default_factory=SourceProblem)
    target: TargetProblem = field(default_factory=TargetProblem)
    model: Model = field(default_factory=Model)
    training: Training = field(default_factory=Training)
    study: Study = field(default_factory=Study)
    arms: tuple[Arm, ...] = TUTORIAL_ARMS

    def __post_init__(self) -> None:
        validate(self)

    def arm(self, name: str) -> Arm:
        for arm in self.arms:
            if arm.name == name:
                return arm
        raise ConfigError(f"unknown arm {name!r}; arms are {', '.join(a.name for a in self.arms)}")

    @property
    def n_classes(self) -> int:
        return self.problems.centers

    @property
    def scores_sources(self) -> bool:
        """Whether a compare scores its source models: `[study] score_sources` where set, else with K >= 3 of them
        (a rank correlation of fewer says nothing)."""
        if self.study.score_sources is not None:
            return self.study.score_sources
        return self.study.source_repeats >= 3

    def repeats_of(self, arm: Arm) -> int:
        """Repeats of an arm per source model (the arm's own `repeats`, else the study's)."""
        return arm.repeats if arm.repeats is not None else self.study.repeats

    def hidden_units_of(self, arm: Arm) -> tuple[int, ...]:
        """Hidden layer sizes of an arm's model: the study's, plus any new layers the arm adds."""
        return self.model.hidden_units + (self.model.hidden_units[-1],) * arm.add_hidden

    def source_problem_of(self, arm: Arm) -> int:
        return arm.source_problem if arm.source_problem is not None else self.study.source_problem

    def catalogue_spec(self, number: int) -> ProblemSpec:
        """Catalogue problem `number` with the shared values, no overrides."""
        p = self.problems
        return ProblemSpec(
            number, p.seeds[number - 1], p.centers, p.n_features, p.cluster_std, p.n_samples, p.n_test, p.n_train
        )

    @property
    def source_spec(self) -> ProblemSpec:
        """The study's source problem, with the `[source]` overrides."""
        spec = self.catalogue_spec(self.study.source_problem)
        return dataclasses.replace(spec, **_set(self.source, exclude=TRAINING_KEYS))

    @property
    def target_spec(self) -> ProblemSpec:
        """The study's target problem, with the `[target]` overrides (similarity relative to the source)."""
        spec = self.catalogue_spec(self.study.target_problem)
        changes = _set(self.target, exclude=TRAINING_KEYS)
        if self.target.similarity_t is not None:
            changes["centers_from"] = self.catalogue_spec(self.study.source_problem).random_state
        return dataclasses.replace(spec, **changes)

    @property
    def source_training(self) -> Training:
        """How every source model trains: `[training]` with the `[source]` overrides."""
        return dataclasses.replace(self.training, **_set(self.source, only=TRAINING_KEYS))

    @property
    def target_training(self) -> Training:
        """How every arm trains on the target: `[training]` with the `[target]` overrides."""
        return dataclasses.replace(self.training, **_set(self.target, only=TRAINING_KEYS))

    def spec_of_problem(self, number: int) -> ProblemSpec:
        """The spec a source model of problem `number` trains on: the study's source or target problem as
        overridden, else the catalogue problem (the BnB controls train on the target problem itself)."""
        if number == self.study.source_problem:
            return self.source_spec
        if number == self.study.target_problem:
            return self.target_spec
        return self.catalogue_spec(number)

    def describe_problem(self, spec: ProblemSpec) -> str:
        """'Problem 2', or 'Problem 2 (n_train=100, similarity_t=0.5)' where the spec differs from the catalogue."""
        extra = ", ".join(f"{k}={v:g}" for k, v in spec.changes_from(self.catalogue_spec(spec.number)).items())
        return f"Problem {spec.number}" + (f" ({extra})" if extra else "")

    def problem_slug(self, spec: ProblemSpec) -> str:
        """A file-name stem: 'problem1', or 'problem1-n_train=100' for a spec that differs from the catalogue."""
        changes = spec.changes_from(self.catalogue_spec(spec.number))
        return f"problem{spec.number}" + "".join(f"-{k}={v:g}" for k, v in changes.items())

    def copied_layers(self, arm: Arm) -> int:
        """How many leading layers (output layer included) an arm takes from its source model."""
        if not arm.uses_source:
            return 0
        n_source_layers = len(self.model.hidden_units) + 1
        return n_source_layers if arm.copy is None else arm.copy


SECTIONS = {
    "problems": Problems,
    "source": SourceProblem,
    "target": TargetProblem,
    "model": Model,
    "training": Training,
    "study": Study,
}  # the TOML tables, in the order they are read and written
TRAINING_KEYS = (
    "optimizer",
    "learning_rate",
    "momentum",
    "nesterov",
    "batch_size",
    "epochs",
)  # [source] / [target] keys that override [training]


def _set(table: Any, *, only: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A [source] / [target] table's keys that are set (not None), restricted to `only` or without `exclude`."""
    return {
        k: v
        for k, v in dataclasses.asdict(table).items()
        if v is not None and (k in only if only else k not in exclude)
    }


# --- The rules a type cannot say -----------------------------------------------------------------


def validate(cfg: Config) -> None:
    """Reject a config that cannot describe a study, naming the key at fault."""
    p, m, t, s = cfg.problems, cfg.model, cfg.training, cfg.study
    _positive("problems.n_samples", p.n_samples)
    _positive("problems.centers", p.centers)
    _positive("problems.n_features", p.n_features)
    if not (0 < p.n_train < p.n_samples):
        raise ConfigError(f"problems.n_train must be between 1 and n_samples-1, got {p.n_train}")
    if not (math.isfinite(p.cluster_std) and p.cluster_std > 0):
        raise ConfigError(f"problems.cluster_std must be a positive number, got {p.cluster_std}")
    if not p.seeds:
        raise ConfigError("problems.seeds must name at least one problem")
    if not m.hidden_units or any(u <= 0 for u in m.hidden_units):
        raise ConfigError(f"model.hidden_units must be positive layer sizes, got {list(m.hidden_units)}")
    for key in ("hidden_initializer", "output_initializer"):
        if getattr(m, key) not in INITIALIZERS:
            raise ConfigError(f"model.{key} must be one of {', '.join(INITIALIZERS)}, got {getattr(m, key)!r}")
    t.rule(), cfg.source_training.rule("source"), cfg.target_training.rule("target")
    _positive("training.batch_size", t.batch_size)
    _positive("training.epochs", t.epochs)
    _positive("study.repeats", s.repeats)
    _positive("study.source_repeats", s.source_repeats)
    if s.seed < 0:
        raise ConfigError(f"study.seed must be 0 or more, got {s.seed}")
    if s.engine not in ENGINES:
        raise ConfigError(f"study.engine must be one of {', '.join(ENGINES)}, got {s.engine!r}")
    for key in ("source_problem", "target_problem"):
        _problem_exists(f"study.{key}", getattr(s, key), p)
    for name, table in (("source", cfg.source), ("target", cfg.target)):
        if table.n_train is not None:
            _positive(f"{name}.n_train", table.n_train)
        if table.cluster_std is not None and not (math.isfinite(table.cluster_std) and table.cluster_std > 0):
            raise ConfigError(f"{name}.cluster_std must be a positive number, got {table.cluster_std}")
        for key in ("batch_size", "epochs"):
            if getattr(table, key) is not None:
                _positive(f"{name}.{key}", getattr(table, key))
    t = cfg.target.similarity_t
    if t is not None and not (math.isfinite(t) and 0.0 <= t <= 1.0):
        raise ConfigError(f"target.similarity_t must be a number from 0 to 1, got {t}")
    if not cfg.arms:
        raise ConfigError("arms: at least one arm is needed")
    names = [a.name for a in cfg.arms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"arms: arm name {duplicates[0]!r} is used twice")
    if s.baseline not in names:
        raise ConfigError(f"study.baseline {s.baseline!r} is not an arm; arms are {', '.join(names)}")
    for arm in cfg.arms:
        _validate_arm(cfg, arm)


def _validate_arm(cfg: Config, arm: Arm) -> None:
    where = f"arm {arm.name!r}"
    if not arm.name.strip():
        raise ConfigError("arms: an arm needs a non-empty name")
    if arm.weights not in WEIGHTS:
        raise ConfigError(f"{where}: weights must be one of {', '.join(WEIGHTS)}, got {arm.weights!r}")
    if arm.init is not None and arm.init not in INITS:
        raise ConfigError(f"{where}: init must be one of {', '.join(INITS)}, got {arm.init!r}")
    n_source_hidden = len(cfg.model.hidden_units)
    n_hidden = len(cfg.hidden_units_of(arm))
    if arm.repeats is not None:
        _positive(f"{where}: repeats", arm.repeats)
    if arm.add_hidden < 0:
        raise ConfigError(f"{where}: add_hidden must be 0 or more, got {arm.add_hidden}")
    if not (0 <= arm.fixed <= n_hidden):
        raise ConfigError(
            f"{where}: fixed={arm.fixed} but the model has {n_hidden} hidden layers (fixed must be 0..{n_hidden})"
        )
    if arm.uses_source:
        _problem_exists(f"{where}: source_problem", cfg.source_problem_of(arm), cfg.problems)
        max_copy = n_source_hidden if arm.add_hidden else n_source_hidden + 1
        copy = cfg.copied_layers(arm)
        if not (1 <= copy <= max_copy):
            raise ConfigError(
                f"{where}: copy={copy} is out of range (1..{max_copy} layers of the source model"
                + (", no output layer when adding hidden layers)" if arm.add_hidden else ")")
            )
        if arm.fixed > copy:
            raise ConfigError(f"{where}: fixed={arm.fixed} freezes more layers than it copies (copy={copy})")
    else:
        if arm.copy is not None or arm.source_problem is not None or arm.add_hidden or arm.init is not None:
            raise ConfigError(f'{where}: copy, source_problem, add_hidden and init need weights = "source"')


def _positive(key: str, value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be 1 or more, got {value}")


def _problem_exists(key: str, number: int, problems: Problems) -> None:
    if not (1 <= number <= len(problems.seeds)):
        raise ConfigError(f"{key}: there is no problem {number} (problems are 1..{len(problems.seeds)})")
