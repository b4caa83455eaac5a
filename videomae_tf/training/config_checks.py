"""The types and ranges of the training config values, checked before any work starts,
so that a typo (``epochs=abc``, ``batch_size=0``, ``lr=nan``, ``smoothing=2``) is one line
naming the key, the value and what was expected -- never a ZeroDivisionError later or a
run that trains silently wrong."""

import math

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
            raise ValueError(f"{command} config: {key}={value!r}; expected {_describe(*rule)}")
        if rule[0] == _INT and value is not None and not isinstance(value, int):
            holder[name] = int(value)  # 3.0 from a YAML/JSON number is 3
