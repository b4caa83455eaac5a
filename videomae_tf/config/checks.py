"""Checks of a run config before any work starts: the types and ranges of its values, so
that a typo (``epochs=abc``, ``batch_size=0``, ``lr=nan``, ``smoothing=2``) is one line
naming the key, the value and what was expected -- never a ZeroDivisionError later or a
run that trains silently wrong -- and the model options that the run's own keys set, which
must not say something else (``model.img_size=160`` beside ``input_size=224``)."""

import math

from videomae_tf.errors import InputError, UnknownNameError

_INT, _NUMBER = "an integer", "a number"

#: key (dotted for sections) -> (kind, low, high, low inclusive, high inclusive, may be None)
RULES = {
    "epochs": (_INT, 1, None, True, True, False),
    "batch_size": (_INT, 1, None, True, True, False),
    "update_freq": (_INT, 1, None, True, True, False),
    "num_classes": (_INT, 1, None, True, True, False),
    "num_frames": (_INT, 1, None, True, True, False),
    "input_size": (_INT, 1, None, True, True, False),
    "keep_checkpoints": (_INT, 1, None, True, True, False),
    "log_every": (_INT, 1, None, True, True, False),
    "eval_every": (_INT, 1, None, True, True, False),
    "checkpoint_every": (_INT, 0, None, True, True, True),
    "visualize_every": (_INT, 0, None, True, True, True),
    "warmup_epochs": (_INT, 0, None, True, True, False),
    "warmup_steps": (_INT, -1, None, True, True, False),
    "steps_per_epoch": (_INT, 1, None, True, True, True),
    "val_batch_size": (_INT, 1, None, True, True, True),
    "model_parallel": (_INT, 1, None, True, True, False),
    "seed": (_INT, 0, None, True, True, False),
    "lr": (_NUMBER, 0, None, False, True, False),
    "min_lr": (_NUMBER, 0, None, True, True, False),
    "warmup_lr": (_NUMBER, 0, None, True, True, False),
    "weight_decay": (_NUMBER, 0, None, True, True, False),
    "opt_eps": (_NUMBER, 0, None, False, True, False),
    "clip_grad": (_NUMBER, 0, None, False, True, True),
    "layer_decay": (_NUMBER, 0, 1, False, True, True),
    "backbone_lr_scale": (_NUMBER, 0, None, False, True, False),
    "drop_path": (_NUMBER, 0, 1, True, False, False),
    "fc_drop_rate": (_NUMBER, 0, 1, True, False, False),
    "smoothing": (_NUMBER, 0, 1, True, False, False),
    "mixup": (_NUMBER, 0, None, True, True, False),
    "cutmix": (_NUMBER, 0, None, True, True, False),
    "mixup_prob": (_NUMBER, 0, 1, True, True, False),
    "mixup_switch_prob": (_NUMBER, 0, 1, True, True, False),
    "mask_ratio": (_NUMBER, 0, 1, False, False, False),
    "decoder_mask_ratio": (_NUMBER, 0, 1, False, False, False),
    "collective_timeout": (_NUMBER, 0, None, False, True, False),
    "data.num_sample": (_INT, 1, None, True, True, False),
    "data.sampling_rate": (_INT, 1, None, True, True, False),
    "data.erase_prob": (_NUMBER, 0, 1, True, True, False),
    "data.erase_max_area": (_NUMBER, 0, 1, False, True, False),
    "data.num_parallel_calls": (_INT, 1, None, True, True, True),
}


def _describe(kind, low, high, low_in, high_in, optional):
    parts = [kind]
    if low is not None:
        parts.append(f"{'>=' if low_in else '>'} {low}")
    if high is not None:
        parts.append(f"{'<=' if high_in else '<'} {high}")
    return " ".join(parts[:1]) + (" " + " and ".join(parts[1:]) if parts[1:] else "") + (
        " (or null)" if optional else "")


def _ok(value, kind, low, high, low_in, high_in, optional):
    if value is None:
        return optional
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if kind == _INT and not float(value).is_integer():
        return False
    if not math.isfinite(value):
        return False
    if low is not None and (value < low or (value == low and not low_in)):
        return False
    return high is None or value < high or (value == high and high_in)


def check_values(cfg, command):
    """Raise ValueError naming the first key of ``cfg`` whose value breaks ``RULES``."""
    for key, rule in RULES.items():
        section, _, name = key.rpartition(".")
        holder = cfg.get(section) if section else cfg
        if not isinstance(holder, dict) or name not in holder:
            continue
        value = holder[name]
        if not _ok(value, *rule):
            raise InputError(f"{command} config: {key}={value!r}; expected {_describe(*rule)}")
        if rule[0] == _INT and value is not None and not isinstance(value, int):
            holder[name] = int(value)  # 3.0 from a YAML/JSON number is 3


def check_types(cfg: dict, base: dict, command: str, prefix: str = "") -> None:
    """Raise InputError for a key whose default in ``base`` is a boolean or a number but
    whose value in ``cfg`` is not one (the text "False" is truthy, "3" is not a number:
    neither may reach the run). A number key may also be null."""
    for key, default in base.items():
        if key not in cfg:
            continue
        value = cfg[key]
        if isinstance(default, dict) and isinstance(value, dict):
            check_types(value, default, command, f"{prefix}{key}.")
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise InputError(f"{command} config: {prefix}{key}={value!r}; expected a boolean "
                             "(true or false)")
        elif (isinstance(default, (int, float)) and not isinstance(default, bool)
              and value is not None
              and (isinstance(value, bool) or not isinstance(value, (int, float)))):
            raise InputError(f"{command} config: {prefix}{key}={value!r}; expected a number")


#: Model options a run sets from its own keys (the official scripts' words): model option
#: -> run key. The run key is the one to set; the same option under ``model`` must agree.
RUN_KEY_OF_MODEL_OPTION = {
    "finetune": dict(num_classes="num_classes", num_frames="num_frames", img_size="input_size",
                     drop_path_rate="drop_path", head_drop_rate="fc_drop_rate"),
    "pretrain": dict(num_frames="num_frames", img_size="input_size", drop_path_rate="drop_path",
                     normalize_target="normalize_target"),
}


def run_model_options(cfg, command) -> dict:
    """The model options ``cfg``'s run keys set: {option: cfg[run key]} (e.g. img_size from
    input_size), what the run builds its model with."""
    return {option: cfg[run_key] for option, run_key in RUN_KEY_OF_MODEL_OPTION[command].items()}


def _same(model_value, run_value) -> bool:
    """img_size 224 and [224, 224] say the same."""
    pair = (lambda v: list(v) if isinstance(v, (list, tuple)) else [v, v])
    return model_value == run_value or pair(model_value) == pair(run_value)


def check_agreement(cfg, command):
    """Raise InputError when ``cfg["model"]`` sets an option that a run key owns to another
    value than that key (the run key would silently win)."""
    model = cfg.get("model") or {}
    for option, run_key in RUN_KEY_OF_MODEL_OPTION[command].items():
        if option in model and not _same(model[option], cfg.get(run_key)):
            owner = "it" if option == run_key else f"the model's {option}"
            raise InputError(
                f"{command} config: model.{option}={model[option]!r} disagrees with "
                f"{run_key}={cfg.get(run_key)!r} (the run's key for {owner}): set {run_key} "
                f"and leave model.{option} out")


def check_keys(config, defaults, command):
    """Raise UnknownNameError for keys of ``config`` (top level and ``data.*``) that
    ``defaults`` does not have: they are usually typos."""
    unknown = sorted(set(config) - set(defaults))
    unknown += sorted(f"data.{k}" for k in set(config.get("data") or {}) - set(defaults["data"]))
    if unknown:
        raise UnknownNameError(f"unknown {command} config keys {unknown}; known: "
                               f"{sorted(defaults)} and data.{{{', '.join(sorted(defaults['data']))}}}")
