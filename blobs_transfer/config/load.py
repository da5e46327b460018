"""Reading a config: the defaults, then a TOML file's tables, then "section.key" overrides (command-line flags,
a sweep cell's values), each value type-checked by `typecheck.check_type` and the result validated as it is made.

May import: `blobs_transfer.errors`, `config.schema`, `config.typecheck` and the standard library.
"""

from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from blobs_transfer.config.schema import SECTIONS, Config
from blobs_transfer.config.typecheck import check_type, field_annotation
from blobs_transfer.errors import ConfigError

# the committed configs: configs/ of a clone, shipped in a wheel as the package blobs_transfer.configs
CLONE_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def shipped_config(name: str) -> Path | None:
    """A committed config named without a path ('headline' or 'headline.toml'): ./configs/, the clone's configs/,
    then the installed package's copy; None if none has it."""
    stem = name.removesuffix(".toml")
    candidates = [Path("configs") / f"{stem}.toml", CLONE_CONFIGS / f"{stem}.toml"]
    try:
        candidates.append(Path(str(resources.files("blobs_transfer.configs").joinpath(f"{stem}.toml"))))
    except ModuleNotFoundError:
        pass
    return next((c for c in candidates if c.is_file()), None)


def resolve_config(path: str | Path) -> Path:
    """The config file a user named: the path itself when it exists or names a folder, else a committed config by
    its name (`--config headline`)."""
    path = Path(path)
    if path.exists() or len(path.parts) > 1 or path.suffix not in ("", ".toml"):
        return path
    return shipped_config(path.name) or path


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Defaults, then the TOML file's overrides, then non-None `overrides` ("section.key": value). A path that
    does not exist may name a committed config ('headline', see `resolve_config`)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = resolve_config(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return config_from_dict(data, overrides)


def config_from_dict(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> Config:
    """A config from TOML data, then `overrides` ("section.key": value, type-checked like the file's values)."""
    overrides = overrides or {}
    bad = sorted(k for k in overrides if k.partition(".")[0] not in SECTIONS)
    if bad:
        raise ConfigError(f"unknown key {bad[0]!r} (keys are section.key; sections are {', '.join(SECTIONS)})")
    unknown = sorted(set(data) - set(SECTIONS) - {"arms"})
    if "sweep" in unknown:
        raise ConfigError(
            "this is a sweep config (it has a [sweep] table): run it with `blobs-transfer sweep --config`"
        )
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} (top-level keys are {', '.join([*SECTIONS, 'arms'])})")
    fields: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        table = check_type(name, data.get(name, {}), field_annotation(Config, name, name))
        changes = {}
        for key, value in overrides.items():
            section, _, k = key.partition(".")
            if section == name and value is not None:
                changes[k] = check_type(key, value, field_annotation(cls, k, key))
        fields[name] = dataclasses.replace(table, **changes)
    if "arms" in data:
        fields["arms"] = check_type("arms", data["arms"], field_annotation(Config, "arms", "arms"))
    return Config(**fields)
