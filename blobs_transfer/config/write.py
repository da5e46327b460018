"""Writing a config: the resolved config as TOML data (`config_to_dict`) and as TOML text (`to_toml`), which
`load_config` reads back to an equal Config.

The text is tomli-w's: its tables, keys and values, every string escaped by it. Around that output this module
does only what tomli-w leaves to its caller: it leaves out an unset `[source]` / `[target]` table, heads each
arm with `[[arms]]` (tomli-w would write short arms as one inline array), and puts each array on one line,
`seeds = [1, 2]` (tomli-w gives every item a line of its own). The bytes are those of every run's
`config.toml` written before tomli-w did the writing, so a finished run or sweep still matches what it
recorded.

May import: `blobs_transfer.errors`, `config.schema`, the standard library and tomli-w.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import tomli_w

from blobs_transfer.config.schema import SECTIONS, Config

_ARRAY = re.compile(r" = \[\n(.*?),\n\]\n", re.DOTALL)  # an array as tomli-w writes it with indent=0


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The resolved config as TOML data: every table, every key that is set, arrays as lists."""
    out: dict[str, Any] = {}
    for name in SECTIONS:
        out[name] = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(getattr(cfg, name)).items()
            if v is not None
        }
    out["arms"] = [{k: v for k, v in dataclasses.asdict(a).items() if v is not None} for a in cfg.arms]
    return out


def to_toml(cfg: Config) -> str:
    """The resolved config as TOML that `load_config` reads back to an equal Config."""
    d = config_to_dict(cfg)
    tables = {name: d[name] for name in SECTIONS if d[name]}  # an untouched [source] / [target] is left out
    return dumps_table(tables) + "".join("\n[[arms]]\n" + dumps_table(arm) for arm in d["arms"])


def dumps_table(table: dict[str, Any]) -> str:
    """tomli-w's TOML for `table`, each array on one line (also a sweep's `[sweep]` table).

    Rejoining the lines is safe: with multiline_strings off, tomli-w escapes every newline inside a string, so
    each newline in its output is its own layout, and the config's arrays hold numbers, never arrays or tables.
    """
    text = tomli_w.dumps(table, multiline_strings=False, indent=0)
    return _ARRAY.sub(lambda m: " = [" + m.group(1).replace(",\n", ", ") + "]\n", text)
