"""``videomae-convert`` / ``python -m checkpoints_convert``: a checkpoint in, Keras files out."""

import argparse
import re
import sys

from checkpoints_convert.errors import ConversionError, OutputError

EPILOG = """\
examples:
  videomae-convert vit_b_k400_ft.pth --output vit_b_k400.weights.h5
  videomae-convert vit_g_hybrid_pt_1200e.pth --output vit_g_pt.weights.h5
  videomae-convert vit_b_k400_pt.pth --task finetune --num-classes 174 --output b_ssv2_init.weights.h5
  videomae-convert ./videomae-base-finetuned-kinetics/ --output hf_b.weights.h5 --keras hf_b.keras

The sidecar OUT.json (next to OUT.weights.h5) holds the model config and the source's
sha256: videomae_tf.load_model("OUT.weights.h5") rebuilds the model from the two files.
"""


def _setting(text):
    """KEY=VALUE with the parser ``videomae-tf --set`` uses; model options are not dotted."""
    from videomae_tf.config import parse_override

    try:
        keys, value = parse_override(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if len(keys) != 1:
        raise argparse.ArgumentTypeError(f"model options are not dotted: {text!r}")
    return text


def _regex(text):
    try:
        re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({e})") from None
    return text


def _size(text):
    if "x" in text:
        h, w = text.lower().split("x", 1)
        return [int(h), int(w)]
    return int(text)


def parser():
    p = argparse.ArgumentParser(
        prog="videomae-convert",
        description="Convert a VideoMAE / VideoMAE V2 checkpoint (official, mmaction2, "
                    "transformers or CatMAE) to Keras 3.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help=".pth/.bin/.safetensors file, or a transformers folder")
    p.add_argument("--output", "-o", required=True, help="OUT.weights.h5 (a sidecar OUT.json is written beside it)")
    p.add_argument("--keras", dest="keras_path", help="also write a .keras file")
    p.add_argument("--saved-model", help="also export a TensorFlow SavedModel to this folder")
    p.add_argument("--arch", default="auto", choices=["auto", "vit_s", "vit_b", "vit_l", "vit_h", "vit_g"],
                   help="check the checkpoint against a named architecture (default: detect)")
    p.add_argument("--num-frames", type=int, help="frames per clip (default: from the source, else 16)")
    p.add_argument("--img-size", type=_size, help="224 or HxW (default: from the source, else 224)")
    p.add_argument("--task", default="auto", choices=["auto", "finetune", "pretrain"],
                   help="auto: pretrain if the source has a decoder, else finetune")
    p.add_argument("--num-classes", type=int, help="classes of the classifier (default: the source's head, else 400)")
    p.add_argument("--container", help="key of the checkpoint dict holding the weights (default: model/module/state_dict)")
    p.add_argument("--set", dest="overrides", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                   help="override a model option, e.g. --set num_heads=8 --set layer_norm_eps=1e-12 (repeatable)")
    p.add_argument("--ignore", action="append", default=[], metavar="REGEX", type=_regex,
                   help="leave out source tensors whose key matches (listed as ignored; repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary")
    return p


def _overrides(args) -> dict:
    """The --set options, checked for their option's type and range before any file is
    read; one that says otherwise than its dedicated flag is an error."""
    from videomae_tf.config import apply_settings
    from videomae_tf.models.options import check_model_options

    named = dict(num_frames=args.num_frames, img_size=args.img_size, num_classes=args.num_classes)
    settings = apply_settings({}, named, args.overrides)
    overrides = {key: settings[key] for key in settings if key not in named or named[key] is None}
    check_model_options(overrides, "--set")
    return overrides


def main(argv=None):
    from videomae_tf.startup import keras_backend_problem, quiet_start

    quiet_start()  # TensorFlow, when something first imports it, starts without its C++ lines
    args = parser().parse_args(argv)
    problem = keras_backend_problem()
    if problem:
        print(f"videomae-convert: error: {problem}", file=sys.stderr)
        return 2
    try:
        overrides = _overrides(args)
    except ValueError as error:
        print(f"videomae-convert: error: {error}", file=sys.stderr)
        return 2
    try:
        from checkpoints_convert.converter import convert

        convert(
            args.source, args.output, keras_path=args.keras_path, saved_model=args.saved_model,
            arch=args.arch, num_frames=args.num_frames, img_size=args.img_size, task=args.task,
            num_classes=args.num_classes, container=args.container,
            overrides=overrides, ignore=args.ignore,
            progress=not args.no_progress, log=None if args.quiet else print,
        )
    except ConversionError as error:
        print(f"videomae-convert: error: {error}\nNo output was written.", file=sys.stderr)
        return 1 if isinstance(error, OutputError) else 2
    except OSError as error:  # the source cannot be read (permissions, a vanished file)
        print(f"videomae-convert: error: cannot read {args.source}: {error.strerror or error}\n"
              "No output was written.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
