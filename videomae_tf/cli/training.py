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


def run_config(args, task: str) -> dict:
    """The config ``task`` ("finetune" | "pretrain") gets: the recipe or the config file,
    then the dedicated flags and every ``--set`` (a key given twice that disagrees is an
    error)."""
    from videomae_tf.config import apply_settings, get_config

    if args.recipe and args.config:
        raise UsageError("give --recipe or --config, not both")
    if args.config:
        config = read_config_file(args.config)
    elif args.recipe or task == "pretrain":
        config = get_config(task, args.recipe or "synthetic")
    else:
        raise UsageError("finetune needs --recipe NAME or --config FILE")
    flags = FINETUNE_FLAGS if task == "finetune" else PRETRAIN_FLAGS
    named = {key: getattr(args, dest, None) for dest, key in flags.items()}
    if task == "pretrain" and (args.decoder_mask or "").lower() == "none":
        named["decoder_mask_type"] = None
        config["decoder_mask_type"] = None
    return apply_settings(config, named, args.set or [])


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
    _add_run_arguments(p, "a built-in recipe: k400, ssv2, ucf101, ma52, synthetic, or "
                          "<dataset>_<arch> such as k400_vit_s (videomae_tf.config)",
                       "per-replica batch size", "training annotation list")
    p.add_argument("--init", help="the encoder to start from: a pretraining or fine-tuned model "
                                  "(.weights.h5, .keras, pretrained folder, hf://org/repo or zoo "
                                  "name); its head is not used")
    p.add_argument("--val-list", help="validation annotation list")


def run_training(args) -> int:
    """``finetune`` and ``pretrain``: print the resolved config (``--print-config``), or
    train with it and print the summary."""
    from videomae_tf.config import resolve

    config = run_config(args, args.command)
    if args.print_config:
        print(json.dumps(resolve(config, args.command), indent=2, sort_keys=True))
        return 0
    from videomae_tf.training import finetune, pretrain

    _print_summary((finetune if args.command == "finetune" else pretrain)(config))
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
    from videomae_tf.config import recipe_names

    _add_run_arguments(p, f"a built-in recipe: {', '.join(recipe_names('pretrain'))} "
                          "(default: synthetic)",
                       "per-replica batch size (views)",
                       "training annotation list (labels are ignored)")
    p.add_argument("--mask-ratio", type=float, help="encoder tube mask ratio (official 0.9)")
    p.add_argument("--decoder-mask", help="'running_cell' (VideoMAE V2) or 'none' (V1)")


#: name -> (help, add_arguments, run).
COMMANDS = {
    "pretrain": ("masked-autoencoder pretraining (VideoMAE V1 tube / V2 dual masking)",
                 add_pretrain_arguments, run_training),
    "finetune": ("fine-tune a classifier from a recipe or a config", add_finetune_arguments,
                 run_training),
}
