"""Deployment exports: SavedModel, ONNX, OpenVINO and LiteRT, each checked by its own runtime.

Lives outside ``models/`` because it is TensorFlow-specific. Every format takes the
normalised clip ``pixel_values`` (batch, T, H, W, 3) float32 and gives the logits:

============  =========================  =====================================
format        written                    runtime that checks it
============  =========================  =====================================
saved_model   a directory                ``tf.saved_model.load`` (``serve``)
onnx          ``.onnx``                  ONNX Runtime (via tf2onnx)
openvino      ``.xml`` + ``.bin``        OpenVINO
litert        ``.tflite``                LiteRT (``ai_edge_litert``)
============  =========================  =====================================

Pretraining models export as SavedModel only (three inputs:
``serve(pixel_values, visible_index, reconstruct_index)``). Outputs are written under a
temporary name and renamed, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from videomae_tf.files import partial_path

__all__ = ["EXPORT_FORMATS", "ExportError", "export_model", "export_saved_model",
           "load_exported", "model_clip_shape", "verify_export"]

#: format -> (file suffix, or "" for a directory; Python modules it needs; pip packages).
EXPORT_FORMATS = {
    "saved_model": ("", ("tensorflow",), "tensorflow"),
    "onnx": (".onnx", ("tf2onnx", "onnx", "onnxruntime"), "tf2onnx onnx onnxruntime"),
    "openvino": (".xml", ("openvino",), "openvino"),
    "litert": (".tflite", ("ai_edge_litert",), "ai-edge-litert"),
}

#: ONNX and LiteRT files are single protobuf / flatbuffer messages: 2 GiB at most.
SINGLE_FILE_LIMIT = 2 ** 31


class ExportError(ValueError):
    """The model cannot be exported in the asked format (missing package, too large...)."""


def model_clip_shape(model):
    """The (T, H, W, C) clip a VideoMAE model takes."""
    encoder = getattr(model, "encoder", model)
    return encoder.clip_shape


def _clip_spec(model):
    import tensorflow as tf

    return tf.TensorSpec((None,) + tuple(model_clip_shape(model)), tf.float32,
                         name="pixel_values")


def _require_tensorflow_backend() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ExportError("exports need the TensorFlow backend (KERAS_BACKEND=tensorflow)")


def export_saved_model(model, directory, jit_compile: bool = True):
    """Write ``model`` as a SavedModel in ``directory``; returns the directory.

    Classifiers export ``serve(pixel_values) -> logits``. Pretrainers export
    ``serve(pixel_values, visible_index, reconstruct_index) -> predictions``.
    ``jit_compile``: ``serve`` runs through XLA wherever the SavedModel is loaded, the
    fastest TensorFlow mode measured (ViT-S on the 2-core CPU, 4 clips a call: 1.51 s per
    clip against 2.27 s for the plain graph; as fast one clip at a time); False keeps the
    plain graph (for a runtime built without XLA).
    """
    import keras
    import tensorflow as tf

    _require_tensorflow_backend()
    from videomae_tf.models import VideoMAEPretrainer

    directory = Path(directory)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if isinstance(model, VideoMAEPretrainer):
        def serve(pixel_values, visible_index, reconstruct_index):
            return model(
                {"pixel_values": pixel_values, "visible_index": visible_index,
                 "reconstruct_index": reconstruct_index},
                training=False,
            )

        signature = [
            _clip_spec(model),
            tf.TensorSpec((None, None), tf.int32, name="visible_index"),
            tf.TensorSpec((None, None), tf.int32, name="reconstruct_index"),
        ]
    else:
        def serve(pixel_values):
            return model(pixel_values, training=False)

        signature = [_clip_spec(model)]
    if jit_compile:
        serve = tf.function(serve, jit_compile=True, autograph=False)
    archive.add_endpoint("serve", serve, input_signature=signature)
    archive.write_out(str(directory), verbose=False)
    return directory


def export_path(output, format: str) -> Path:
    """Where ``format`` is written for ``--output output``: the format's suffix is added
    when ``output`` has none; a different suffix is an error."""
    suffix = _format(format)[0]
    output = Path(output)
    if not suffix:
        return output
    if output.suffix == "":
        return output.with_suffix(suffix)
    if output.suffix != suffix:
        raise ExportError(f"{format} exports are {suffix} files, but the output is {output}")
    return output


def _format(format: str):
    if format not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format '{format}'; known: "
                          f"{', '.join(EXPORT_FORMATS)}")
    return EXPORT_FORMATS[format]


def check_exportable(model, format: str) -> None:
    """Raise ExportError, before any work, when ``model`` cannot go to ``format``."""
    from videomae_tf.models import VideoMAEClassifier

    _, modules, packages = _format(format)
    _require_tensorflow_backend()
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(f"{format} export needs {', '.join(missing)}: "
                          f"`pip install {packages}` (or `pip install videomae_tf[export]`)")
    if format != "saved_model" and not isinstance(model, VideoMAEClassifier):
        raise ExportError(f"only classifiers export to {format}; a {type(model).__name__} "
                          "exports as saved_model")
    weight_bytes = 4 * model.count_params()
    if format in ("onnx", "litert") and weight_bytes >= SINGLE_FILE_LIMIT:
        raise ExportError(f"a {format} file holds at most 2 GiB, but this model's float32 "
                          f"weights are {weight_bytes / 2 ** 30:.1f} GiB; export it as "
                          "saved_model or openvino")


def export_model(model, output, format: str = "saved_model") -> Path:
    """Export ``model`` to ``output`` in ``format`` (see the table above); returns the path
    written. The output is staged under a temporary name and renamed when complete."""
    check_exportable(model, format)
    final = export_path(output, format)
    if final.exists() and not (final.is_dir() and not any(final.iterdir())):
        raise ExportError(f"{final} exists; choose a new output (nothing was overwritten)")
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = partial_path(final)
    companions = [(staged.with_suffix(".bin"), final.with_suffix(".bin"))] \
        if format == "openvino" else []
    try:
        if format == "saved_model":
            export_saved_model(model, staged)
        else:
            try:
                model.export(str(staged), format=format, input_signature=[_clip_spec(model)],
                             verbose=False)
            except OSError:
                raise
            except Exception as e:  # a converter that cannot translate an op, say
                first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                raise RuntimeError(f"the {format} converter could not translate the model: "
                                   f"{first}") from e
        if final.is_dir():  # an empty folder the user made for it
            final.rmdir()
        for tmp, target in companions:
            os.replace(tmp, target)
        os.replace(staged, final)
    except BaseException:
        for tmp in [staged] + [t for t, _ in companions]:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.exists():
                tmp.unlink()
        raise
    return final


OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}


def load_exported(path, format: str, precision: str = "fp32") -> Callable[[np.ndarray], np.ndarray]:
    """``clips -> logits`` through the format's own runtime (not Keras). ``precision`` is
    the arithmetic OpenVINO may use ("fp32" or "bf16"): left alone it picks bf16 itself on
    a CPU with bf16 units, 10x past the export check's tolerance; the other runtimes run
    the exported graph's own (fp32) arithmetic."""
    if precision not in OPENVINO_PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {sorted(OPENVINO_PRECISIONS)}")
    path = str(path)
    if format == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)
        return lambda clips: loaded.serve(clips).numpy()
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda clips: session.run(None, {name: clips})[0]
    if format == "openvino":
        import openvino

        compiled = openvino.Core().compile_model(
            path, "CPU", {"INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[precision]})
        return lambda clips: np.asarray(compiled(clips)[0])
    if format == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=path)
        source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

        def run(clips):
            interpreter.resize_tensor_input(source["index"], clips.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(source["index"], clips)
            interpreter.invoke()
            return interpreter.get_tensor(target["index"]).copy()
        return run
    _format(format)
    raise AssertionError(format)


def verify_export(model, path, format: str = "saved_model", atol: float = 1e-4,
                  precision: str = "fp32") -> float:
    """Run the export in its runtime (at ``precision``, see ``load_exported``) and the Keras
    model on the same fixed clips (two, so the batch axis is exercised); returns max |logit
    difference|, raising beyond ``atol`` times the logits' scale (at least 1: fresh heads
    give logits of ~1e-3)."""
    clips = np.random.default_rng(0).normal(size=(2,) + tuple(model_clip_shape(model)))
    clips = clips.astype(np.float32)
    exported = np.asarray(load_exported(path, format, precision)(clips))
    expected = np.asarray(model(clips, training=False))
    if exported.shape != expected.shape:
        raise ExportError(f"the {format} export returns shape {exported.shape}, the model "
                          f"{expected.shape}")
    diff = float(np.max(np.abs(exported - expected)))
    if not diff <= atol * max(1.0, float(np.max(np.abs(expected)))):
        raise ExportError(f"the {format} export differs from the Keras model by {diff:.2e} "
                          f"(tolerance {atol:.0e})")
    return diff
