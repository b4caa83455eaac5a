"""Putting settings on top of a config: deep merges and ``key.sub=value`` overrides, the one
parser behind ``videomae-tf --set`` and ``videomae-convert --set``."""

from __future__ import annotations

import copy
import json

from videomae_tf.errors import InputError


def merge(base: dict, override: dict) -> dict:
    """A deep copy of ``base`` with ``override`` on top (dicts merge key by key)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], object]:
    """'a.b=3' -> (['a', 'b'], 3). Values are JSON when they parse (numbers, true/false,
    null, lists, objects), else the string as written."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise InputError(f"--set expects key=value (the key may be dotted: data.root), got {text!r}")
    try:
        return keys, json.loads(value)
    except json.JSONDecodeError:
        return keys, value.strip()


def set_path(config: dict, keys: list[str], value) -> None:
    """config[k0][k1]... = value, creating the sections on the way."""
    node = config
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise InputError(f"cannot set {'.'.join(keys)}: {key} is not a section")
        node = child
    node[keys[-1]] = value


def apply_settings(config: dict, named: dict[str, object], overrides: list[str]) -> dict:
    """A copy of ``config`` with ``named`` (dotted key -> value, e.g. from dedicated
    command-line flags; None: not given) and then every ``KEY=VALUE`` of ``overrides`` on top.

    A key given twice with different values (``--epochs 3 --set epochs=5``) is an error:
    neither silently wins.
    """
    out = copy.deepcopy(config)
    given: dict[str, tuple[object, str]] = {}
    settings = [(key, value, "its flag") for key, value in named.items() if value is not None]
    for text in overrides:
        keys, value = parse_override(text)
        settings.append((".".join(keys), value, "--set"))
    for key, value, origin in settings:
        if key in given and given[key][0] != value:
            raise InputError(f"{key} is given twice with different values: "
                             f"{given[key][0]!r} ({given[key][1]}) and {value!r} ({origin}); "
                             "give it once")
        given[key] = (value, origin)
        set_path(out, key.split("."), value)
    return out
