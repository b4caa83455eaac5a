"""``videomae-tf finetune`` and ``pretrain``: a recipe or config file, then the dedicated
flags, then every ``--set key=value``, into one run config."""

from __future__ import annotations

import json

from videomae_tf.cli.common import UsageError, existing


def read_config_file(path) -> dict:
    path = existing(path, "config file")
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UsageError(f"{path} is YAML but PyYAML is not installed: "
                             "`pip install pyyaml` or use a JSON config") from None
        config = yaml.safe_load(text)
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path} must hold a mapping of options, got {type(config).__name__}")
    return config


def _parse_override(text: str):
    """'a.b=3' -> (['a', 'b'], 3); values are JSON when they parse, else strings."""
    if "=" not in text:
        raise UsageError(f"--set expects key=value, got {text!r}")
    key, value = text.split("=", 1)
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    return key.strip().split("."), value


def _set_path(config: dict, keys, value) -> None:
    node = config
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise UsageError(f"cannot set {'.'.join(keys)}: {key} is not a section")
        node = child
    node[keys[-1]] = value


#: Dedicated flags and the config key each one overrides.
FINETUNE_FLAGS = {
    "output": "output_dir",
    "init": "init",
    "resume": "resume",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "train_list": "data.train",
    "val_list": "data.val",
    "data_root": "data.root",
}


def _apply_flags(config: dict, args, flags: dict) -> dict:
    """A plain copy of ``config`` with the dedicated flags, then every ``--set``, on top."""
    config = json.loads(json.dumps(config))
    for dest, key in flags.items():
        value = getattr(args, dest, None)
        if value is not None:
            _set_path(config, key.split("."), value)
    for text in args.set or []:
        _set_path(config, *_parse_override(text))
    return config


def finetune_config(args) -> dict:
    """The config ``finetune`` gets: recipe or file, then the flags, then ``--set``."""
    from videomae_tf import training

    if args.recipe and args.config:
        raise UsageError("give --recipe or --config, not both")
    if args.config:
        config = read_config_file(args.config)
    elif args.recipe:
        try:
            config = training.get_recipe(args.recipe)
        except (KeyError, ValueError) as e:
            raise UsageError(str(e)) from None
    else:
        raise UsageError("finetune needs --recipe NAME or --config FILE")
    return _apply_flags(config, args, FINETUNE_FLAGS)


def _add_run_arguments(p, recipe_help, batch_help, list_help):
    """The flags every training command has: recipe or config, run folder, schedule, data."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--recipe", help=recipe_help)
    src.add_argument("--config", help="your own config, JSON (or YAML with PyYAML)")
    p.add_argument("--output", help="run directory: checkpoints, logs, final weights")
    p.add_argument("--resume", help="'auto' (latest checkpoint in the run directory) or a path")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int, help=batch_help)
    p.add_argument("--lr", type=float, help="base learning rate (scaled by batch / 256)")
    p.add_argument("--train-list", help=list_help)
    p.add_argument("--data-root", help="folder relative paths in the lists start from")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override any config key, dotted for sections (repeatable)")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config and exit without training")


def add_finetune_arguments(p):
    _add_run_arguments(p, "a built-in recipe: k400, ssv2, ucf101 (SPEC 10)",
                       "per-replica batch size", "training annotation list")
    p.add_argument("--init", help="the encoder to start from: a pretraining or fine-tuned model "
                                  "(.weights.h5, .keras, pretrained folder, hf://org/repo or zoo "
                                  "name); its head is not used")
    p.add_argument("--val-list", help="validation annotation list")


def run_finetune(args) -> int:
    from videomae_tf.training import finetune

    return _train_or_print(finetune_config(args), finetune, args.print_config)


def _train_or_print(config: dict, train, print_only: bool) -> int:
    """Print the resolved config (``--print-config``), or train with it and print the
    summary."""
    if print_only:
        print(json.dumps(config, indent=2, sort_keys=True))
    else:
        _print_summary(train(config))
    return 0


def _print_summary(result: dict) -> None:
    """A training summary's plain values as JSON (None shows as null: e.g. the weights of
    a worker that is not the chief)."""
    shown = {k: v for k, v in result.items() if v is None or isinstance(v, (int, float, str))}
    print(json.dumps(shown, indent=2, sort_keys=True, default=str))


#: Dedicated flags of ``pretrain`` and the config key each one overrides.
PRETRAIN_FLAGS = {
    "output": "output_dir",
    "resume": "resume",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "mask_ratio": "mask_ratio",
    "decoder_mask": "decoder_mask_type",
    "train_list": "data.train",
    "data_root": "data.root",
}


def add_pretrain_arguments(p):
    from videomae_tf.training.pretrain import PRETRAIN_CONFIGS

    _add_run_arguments(p, f"a built-in recipe: {', '.join(PRETRAIN_CONFIGS)} (default: synthetic)",
                       "per-replica batch size (views)",
                       "training annotation list (labels are ignored)")
    p.add_argument("--mask-ratio", type=float, help="encoder tube mask ratio (official 0.9)")
    p.add_argument("--decoder-mask", help="'running_cell' (VideoMAE V2) or 'none' (V1)")


def pretrain_config(args) -> dict:
    """The config ``pretrain`` gets: recipe or file, then the flags, then ``--set``."""
    from videomae_tf.training.pretrain import get_pretrain_config

    if args.config:
        config = read_config_file(args.config)
    else:
        try:
            config = get_pretrain_config(args.recipe or "synthetic")
        except (KeyError, ValueError) as e:
            raise UsageError(str(e)) from None
    if (args.decoder_mask or "").lower() == "none":
        args.decoder_mask = None
        config["decoder_mask_type"] = None
    return _apply_flags(config, args, PRETRAIN_FLAGS)


def run_pretrain(args) -> int:
    from videomae_tf.training.pretrain import pretrain

    return _train_or_print(pretrain_config(args), pretrain, args.print_config)


#: name -> (help, add_arguments, run).
COMMANDS = {
    "pretrain": ("masked-autoencoder pretraining (VideoMAE V1 tube / V2 dual masking)",
                 add_pretrain_arguments, run_pretrain),
    "finetune": ("fine-tune a classifier from a recipe or a config", add_finetune_arguments,
                 run_finetune),
}
