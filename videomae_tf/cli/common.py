"""What every ``videomae-tf`` command shares: the usage error, file checks, class names,
the model loader and the test-view flags."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videomae_tf.errors import InputError

PROG = "videomae-tf"

#: Bad input from the user: reported without a traceback, exit code 2 (the package's
#: InputError under the name the commands use).
UsageError = InputError


def existing(path, what: str) -> Path:
    """``path`` as a Path, or a UsageError naming ``what`` when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    return path


#: What a folder argument (features, crop-persons) collects.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")


def videos_in_folder(folder: Path, keep=lambda path: True) -> list[str]:
    """The videos under ``folder`` (sorted, any depth) that ``keep`` accepts; a UsageError
    when there are none."""
    found = sorted(str(f) for f in folder.rglob("*")
                   if f.suffix.lower() in VIDEO_SUFFIXES and keep(f))
    if not found:
        raise UsageError(f"{folder} holds no videos ({', '.join(VIDEO_SUFFIXES)})")
    return found


def class_names(labels: str | None, num_classes: int | None,
                model_names: list[str] | None = None) -> list[str] | None:
    """Class names from --labels (dataset name or file), else the model's own, else None."""
    if labels is None:
        return list(model_names) if model_names else None
    from videomae_tf.data.annotations import load_label_map

    try:
        names = load_label_map(labels)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if num_classes and len(names) != num_classes:
        raise UsageError(f"--labels {labels} has {len(names)} classes but the model has "
                         f"{num_classes}")
    return names


#: The help text of every --weights flag.
WEIGHTS_HELP = ("model: .weights.h5 (with its sidecar), .keras, a pretrained folder, "
                "hf://org/repo or a zoo name (videomae-tf zoo)")


def model_source(text: str) -> Path:
    """--weights as a local path: a file or folder as given, an ``hf://org/repo`` handle
    or a zoo name fetched (and converted) into the caches."""
    from videomae_tf.hub import resolve

    try:
        return resolve(text)
    except FileNotFoundError as e:
        raise UsageError(f"model not found: {e}") from None


#: ``--precision`` -> the Keras dtype policy the model is built under.
PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}


def precision_policy(precision: str) -> str:
    """The dtype policy of ``--precision``; a warning where bf16 would run emulated."""
    from videomae_tf.cpu import has_bf16_units

    if precision == "bf16" and not has_bf16_units():
        import tensorflow as tf

        if not tf.config.list_physical_devices("GPU"):
            print("warning: --precision bf16 on a CPU without bf16 units (AVX512-BF16 or "
                  "AMX-BF16): bf16 runs emulated here, slower than fp32", file=sys.stderr)
    return PRECISIONS[precision]


def load_inference(source: str, precision: str = "fp32", runtime: str = "keras"):
    """A classifier for evaluate/predict: any --weights source, or a SavedModel folder,
    run at ``precision`` (fp32 or bf16) in ``runtime`` (keras, openvino or onnx: see
    ``videomae_tf.engines``)."""
    from videomae_tf.evaluation import load_inference_model

    path = model_source(source)
    if runtime == "keras":
        return load_inference_model(path, dtype=precision_policy(precision))
    from videomae_tf.engines import check_runtime, engine_inference_model
    from videomae_tf.export import ExportError

    from videomae_tf.models.saving import FOLDER_CONFIG

    check_runtime(runtime, precision)
    if path.is_dir() and not (path / FOLDER_CONFIG).is_file():
        raise UsageError(f"--runtime {runtime} needs a model file or pretrained folder; "
                         f"{path} is a SavedModel, which runs on keras")
    model = load_inference_model(path)
    keras_model = model.keras_model
    try:
        engine = engine_inference_model(keras_model, runtime, precision)
    except ExportError as e:
        raise UsageError(f"--runtime {runtime}: {e}") from None
    engine.class_names = model.class_names
    return engine


def add_runtime_argument(parser: argparse.ArgumentParser) -> None:
    """``--runtime``: the engine evaluate and predict run the classifier in."""
    from videomae_tf.engines import RUNTIMES

    parser.add_argument("--runtime", choices=tuple(RUNTIMES), default="keras",
                        help="keras (default), or openvino / onnx: the classifier exported "
                             "once into the cache, checked against Keras before each use, "
                             "then run by that runtime (pip install videomae_tf[export])")


def load_videomae_model(source: str, precision: str = "fp32", backbone: bool = False):
    """A VideoMAE classifier or pretraining model (or, with ``backbone``, a
    ``VideoMAEBackbone``: features take one) from any --weights source, for the commands
    that need the Keras model itself (export, features, visualize), built at
    ``precision`` (fp32 or bf16)."""
    from videomae_tf.models import VideoMAEClassifier, VideoMAEPretrainer, load_model
    from videomae_tf.models.backbone import VideoMAEBackbone
    from videomae_tf.models.saving import FOLDER_CONFIG

    policy = precision_policy(precision)
    path = model_source(source)
    if path.is_dir() and not (path / FOLDER_CONFIG).is_file():
        raise UsageError(f"{path} is a directory but not a pretrained folder (no "
                         f"{FOLDER_CONFIG}): give a .weights.h5 or .keras file or a folder "
                         "written by save_pretrained")
    model = load_model(path, dtype=None if policy == "float32" else policy)
    kinds = (VideoMAEClassifier, VideoMAEPretrainer) + ((VideoMAEBackbone,) if backbone else ())
    if not isinstance(model, kinds):
        raise UsageError(f"{path} holds a {type(model).__name__}, not a VideoMAE model")
    return model


def add_view_arguments(parser: argparse.ArgumentParser, clips: int = 5, crops: int = 3) -> None:
    """--num-clips, --num-crops, --sampling-rate, --short-side, --sampler, --batch-size,
    --backend: how each video is cut into test views."""
    g = parser.add_argument_group("test views (the official K400 test uses 5 clips x 3 crops, SSV2 2 x 3)")
    g.add_argument("--num-clips", type=int, default=clips, help="temporal clips per video")
    g.add_argument("--num-crops", type=int, default=crops, help="spatial crops per clip (1-3)")
    g.add_argument("--sampling-rate", type=int, default=4, help="take every n-th frame")
    g.add_argument("--short-side", type=int, default=None,
                   help="resize the short side to this before cropping (default: crop size)")
    g.add_argument("--sampler", choices=("dense", "segment", "uniform"), default="dense",
                   help="dense (K400), segment (SSV2) or uniform (mmaction2 UniformSample, "
                        "MA-52: --num-clips 3 --num-crops 1) clip sampling")
    g.add_argument("--batch-size", type=int, default=8, help="views per forward pass")
    g.add_argument("--backend", default="auto", help="video decoder: auto, decord, pyav, opencv")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32",
                        help="bf16: bf16 matmuls (mixed_bfloat16), about 1.5x faster on CPUs "
                             "with bf16 units (AVX512-BF16, AMX), emulated and slower "
                             "elsewhere; top-1 as fp32 on the tested videos (default fp32)")


def views(args: argparse.Namespace):
    """The ``TestViews`` of the view flags, checked."""
    from videomae_tf.evaluation import TestViews

    for name in ("num_clips", "num_crops", "sampling_rate", "batch_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.num_crops > 3:
        raise UsageError(f"--num-crops must be 1, 2 or 3 (crops along the long side), "
                         f"got {args.num_crops}")
    if args.sampler == "segment" and args.num_clips != 2:
        raise UsageError(f"--sampler segment takes exactly 2 clips (VideoMAE SSV2 testing): "
                         f"give --num-clips 2, not {args.num_clips}")
    return TestViews(num_clips=args.num_clips, num_crops=args.num_crops,
                     sampling_rate=args.sampling_rate, short_side=args.short_side,
                     sampler=args.sampler)
