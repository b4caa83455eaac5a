"""``videomae-tf export``: SavedModel, ONNX, OpenVINO or LiteRT, checked by its own runtime."""

from __future__ import annotations

import argparse

from videomae_tf.cli.common import WEIGHTS_HELP, UsageError, load_videomae_model


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    from videomae_tf.export import EXPORT_FORMATS

    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--output", required=True,
                   help="where to write: a directory for saved_model, else a file (the "
                        "format's suffix is added when missing: .onnx, .xml + .bin, .tflite)")
    p.add_argument("--format", default="saved_model", choices=tuple(EXPORT_FORMATS),
                   help="saved_model (default; TF Serving), onnx (ONNX Runtime, TensorRT), "
                        "openvino (Intel CPUs/GPUs/NPUs) or litert (mobile, edge)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip running the export in its runtime against the Keras model")


def run_export(args: argparse.Namespace) -> int:
    from videomae_tf.export import ExportError, export_model, verify_export
    from videomae_tf.models import VideoMAEClassifier

    model = load_videomae_model(args.weights)
    try:
        written = export_model(model, args.output, args.format)
    except ExportError as e:
        raise UsageError(str(e)) from None
    message = f"{args.format} written to {written}"
    if not args.no_verify and isinstance(model, VideoMAEClassifier):
        diff = verify_export(model, written, args.format)
        message += f" (run in its runtime: max |logit difference| {diff:.1e} vs Keras)"
    print(message)
    return 0


COMMANDS = {
    "export": ("export a model for deployment: SavedModel, ONNX, OpenVINO or LiteRT",
               add_export_arguments, run_export),
}
