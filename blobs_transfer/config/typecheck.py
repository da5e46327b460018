"""The one type check of the config: a value read from TOML against the annotation of the field it fills.

`check_type(key, value, annotation)` is the only place a config value's type is checked: every `[section]`
key, every `[[arms]]` key, every command-line or sweep override, and the tables themselves. It is driven
entirely by the frozen dataclasses' field annotations (`typing.get_type_hints`), so a field's type is declared
once, where the field is:

    bool, int, str          exactly that type (a bool is not an int, an int is not a str)
    float                   a float, or an int (read as a float); not a bool
    X | None                None, or an X
    tuple[X, ...]           a TOML array whose items are each an X, as a tuple
    a dataclass             a TOML table: each key a field (checked as its annotation), every field without
                            a default present; the dataclass built from it
    tuple[<dataclass>, ...] a TOML array of tables (`[[arms]]`)

Every mistake is a one-line `ConfigError` that names the offending key as a user writes it: `study.repeats`,
`model.hidden_units[1]`, `arms[0].colour`.

May import: `blobs_transfer.errors` and the standard library.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, get_args, get_origin, get_type_hints

from blobs_transfer.errors import ConfigError

_UNIONS = (typing.Union, types.UnionType)


def check_type(key: str, value: Any, annotation: Any) -> Any:
    """`value`, as the field annotated `annotation` holds it, or a ConfigError naming `key`."""
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table ([{key}])")
        return _table(key, value, annotation)
    origin = get_origin(annotation)
    if origin in _UNIONS:
        for option in get_args(annotation):
            if option is type(None) and value is None:
                return None
            if option is not type(None) and _fits(value, option):
                return check_type(key, value, option)
    elif origin is tuple:
        item_type = _item_type(annotation)
        is_tables = dataclasses.is_dataclass(item_type)
        if is_tables and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise ConfigError(f"{key} must be an array of tables ([[{key}]])")
        if isinstance(value, list):
            return tuple(check_type(f"{key}[{i}]", v, item_type) for i, v in enumerate(value))
    elif _fits(value, annotation):
        return float(value) if annotation is float else value
    raise ConfigError(
        f"{key} has the wrong type: expected {_type_name(annotation)}, got {type(value).__name__} {value!r}"
    )


def field_annotation(cls: type, name: str, key: str) -> Any:
    """The annotation of dataclass `cls`'s field `name`, which the config spells `key` ("study.repeats")."""
    hints = _fields(cls)
    if name not in hints:
        raise ConfigError(f"unknown key {key!r} (known: {', '.join(hints)})")
    return hints[name]


def _table(key: str, table: dict[str, Any], cls: type) -> Any:
    """Dataclass `cls` from a TOML table: required fields first, then each key in the file's order."""
    for name in _required(cls):
        if name not in table:
            raise ConfigError(f"{key}: missing key {name!r}")
    values = {k: check_type(f"{key}.{k}", v, field_annotation(cls, k, f"{key}.{k}")) for k, v in table.items()}
    return cls(**values)


def _fits(value: Any, t: Any) -> bool:
    """Whether `value` is at least the right kind of thing for `t` (its items are checked by `check_type`)."""
    if dataclasses.is_dataclass(t):
        return isinstance(value, dict)
    if get_origin(t) is tuple:
        return isinstance(value, list)
    if t is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, t)


def _item_type(annotation: Any) -> Any:
    args = get_args(annotation)
    if len(args) != 2 or args[1] is not Ellipsis:
        raise TypeError(f"config fields hold tuple[X, ...], not {annotation}")
    return args[0]


def _type_name(t: Any) -> str:
    if get_origin(t) is tuple:
        return f"a list of {_type_name(_item_type(t))}"
    if get_origin(t) in _UNIONS:
        return " or ".join(_type_name(a) for a in get_args(t) if a is not type(None))
    return t.__name__


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    """Field name -> resolved annotation, in declaration order."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


@functools.cache
def _required(cls: type) -> tuple[str, ...]:
    """The fields without a default, which every table for `cls` must give."""
    missing = dataclasses.MISSING
    return tuple(f.name for f in dataclasses.fields(cls) if f.default is missing and f.default_factory is missing)
