"""Exported runtimes as inference engines for the commands' ``--runtime``.

``predict``, ``evaluate`` and ``predict --timeline`` can run a classifier through OpenVINO
or ONNX Runtime instead of TensorFlow. The classifier is exported once into the cache
(``hub.cache_dir()/engines/<key>``: the key hashes the model's config and weights, the
format and the converter versions), checked against the Keras model on fixed clips before
every use (``export.verify_export``, the export command's check) and then run as an
``InferenceModel``. Nothing is written beside the weights: a folder given as input stays
as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["RUNTIMES", "CHECK_TOLERANCE", "check_runtime", "engine_inference_model",
           "engine_key"]

#: ``--runtime`` -> the export format it runs (None: the Keras model itself).
RUNTIMES = {"keras": None, "openvino": "openvino", "onnx": "onnx"}

#: The check's tolerance, relative to the logits' scale, per precision the engine runs in.
CHECK_TOLERANCE = {"fp32": 1e-4, "bf16": 2e-2}


def _versions(format: str) -> dict[str, str]:
    """The versions an export depends on: converting again is needed when one changes."""
    import importlib.metadata

    import keras
    import tensorflow as tf

    from videomae_tf.export import EXPORT_FORMATS

    packages = EXPORT_FORMATS[format][2].split()
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    for package in packages + ["videomae_tf"]:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return versions


def engine_key(model, format: str) -> str:
    """A hash of what the export is made from: the model's class, config and weights, the
    format and the converter versions."""
    import numpy as np

    digest = hashlib.sha256()
    digest.update(json.dumps({"class": type(model).__name__, "config": model.get_config(),
                              "format": format, "versions": _versions(format)},
                             sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(weight.path.encode())
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:24]


def _cached_export(model, format: str) -> Path:
    """The model exported to ``format`` in the cache, made once (staged in a temporary
    folder and renamed, so a crash or a second process never leaves half an export)."""
    from videomae_tf.export import EXPORT_FORMATS, export_model
    from videomae_tf.hub import cache_dir

    folder = Path(cache_dir()) / "engines" / engine_key(model, format)
    path = folder / f"model{EXPORT_FORMATS[format][0]}"
    if path.exists():
        return path
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        export_model(model, staging / path.name, format)
        try:
            os.replace(staging, folder)
        except OSError:  # another process got there first: its export is the same
            if not path.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def check_runtime(runtime: str, precision: str) -> str:
    """The export format ``runtime`` runs, or an InputError (before any model is loaded)
    for an unknown runtime or a precision it cannot run."""
    from videomae_tf.errors import InputError

    if RUNTIMES.get(runtime) is None:
        raise InputError(f"runtime {runtime!r}: expected one of "
                         f"{', '.join(r for r in RUNTIMES if RUNTIMES[r])}")
    if precision not in CHECK_TOLERANCE:
        raise InputError(f"precision {precision!r}: expected one of {', '.join(CHECK_TOLERANCE)}")
    if precision == "bf16" and runtime != "openvino":
        raise InputError(f"--precision bf16 runs on keras or openvino, not on {runtime}")
    return RUNTIMES[runtime]


def engine_inference_model(model, runtime: str, precision: str = "fp32"):
    """``model`` (a float32 Keras classifier) as an ``InferenceModel`` that runs in
    ``runtime``; ``precision`` "bf16" lets OpenVINO compute in bf16 (checked against the
    fp32 model with ``CHECK_TOLERANCE["bf16"]``)."""
    from videomae_tf.evaluation.inference import InferenceModel
    from videomae_tf.export import check_exportable, load_exported, model_clip_shape
    from videomae_tf.export import verify_export

    format = check_runtime(runtime, precision)
    check_exportable(model, format)
    path = _cached_export(model, format)
    verify_export(model, path, format, atol=CHECK_TOLERANCE[precision], precision=precision)
    run = load_exported(path, format, precision)
    return InferenceModel(run, model_clip_shape(model), getattr(model, "num_classes", None),
                          source=f"{runtime} engine of model '{model.name}'")
