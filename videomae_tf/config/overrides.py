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


#: Spellings besides JSON's: booleans in any case (Python's True, False), and Python's
#: None beside JSON's null. "none" in lower case stays text: it is a value of its own
#: (``lr_scaling=none``). Any other text that is not JSON stays a string, which a key whose
#: default is a boolean or a number then refuses (``config.checks``).
LITERALS = {"true": True, "false": False}
NONE_WORDS = ("null", "None")


def parse_value(text: str) -> object:
    """A value given as text: JSON when it parses (numbers, true/false, null, lists,
    objects), a boolean for the words in ``LITERALS`` in any case (``False``, ``TRUE``),
    None for ``None``, else the string as written."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if text in NONE_WORDS:
            return None
        return LITERALS.get(text.lower(), text)


#: What a switch given as text (an environment variable) may say, whatever its case.
SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False, "": False}


def parse_switch(text: str, name: str) -> bool:
    """A boolean given as text under ``name`` (an environment variable): only the words in
    ``SWITCH_WORDS``; anything else is an error naming ``name`` and the value."""
    value = SWITCH_WORDS.get(text.strip().lower())
    if value is None:
        raise InputError(f"{name}={text!r} is not a boolean; expected one of 1, true, yes, on "
                         "or 0, false, no, off (any case)")
    return value


def parse_override(text: str) -> tuple[list[str], object]:
    """'a.b=3' -> (['a', 'b'], 3), the value read by ``parse_value``."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise InputError(f"--set expects key=value (the key may be dotted: data.root), got {text!r}")
    return keys, parse_value(value)


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
