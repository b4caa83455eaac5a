"""One callable for every kind of trained classifier: clips in, numpy logits out.

Evaluation and prediction take a Keras VideoMAE model, a SavedModel directory written
by ``videomae_tf.export.export_saved_model``, or a model file that
``videomae_tf.load_model`` reads; ``InferenceModel`` hides the difference and knows the
clip shape the model takes, so a wrong input is reported before any video is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videomae_tf.errors import InputError

__all__ = ["InferenceModel", "as_inference_model", "load_inference_model"]


class InferenceModel:
    """``model(clips) -> logits`` as numpy, with ``clip_shape`` (T, H, W, C) and ``num_classes``.

    ``class_names`` is set when the model file carries them (a ``class_names`` or
    ``labels`` entry in the ``.weights.h5`` JSON sidecar); ``source`` names where it came from.
    """

    def __init__(self, fn: Callable, clip_shape: Sequence[int] | None,
                 num_classes: int | None = None, class_names: list[str] | None = None,
                 source: str = "model"):
        self._fn = fn
        self.clip_shape = tuple(int(d) for d in clip_shape) if clip_shape is not None else None
        self.num_classes = num_classes
        self.class_names = class_names
        self.source = source

    def check_clip_shape(self, shape: Sequence[int | None]) -> None:
        """Raise ValueError when clips of ``shape`` (T, H, W, C) do not fit the model."""
        shape = tuple(shape)
        if self.clip_shape is None:
            return
        if len(shape) != 4 or any(g is not None and g != w for g, w in zip(shape, self.clip_shape)):
            raise InputError(f"{self.source} takes clips of shape {self.clip_shape} "
                             f"(frames, height, width, channels), but the data gives {shape}")

    def __call__(self, clips) -> np.ndarray:
        clips = np.asarray(clips)
        if not np.issubdtype(clips.dtype, np.floating):
            raise InputError(f"{self.source} takes float clips normalised with the ImageNet mean "
                             f"and std, got {clips.dtype}; convert with "
                             "videomae_tf.data.transforms.normalize(clip)")
        clips = clips.astype(np.float32, copy=False)
        if clips.ndim != 5 or not len(clips):
            raise InputError(f"expected a non-empty batch of clips (B, T, H, W, C), got shape "
                             f"{clips.shape}")
        self.check_clip_shape(clips.shape[1:])
        logits = np.asarray(self._fn(clips))
        if logits.ndim != 2 or logits.shape[0] != clips.shape[0]:
            raise InputError(f"{self.source} returned shape {logits.shape} for {clips.shape[0]} "
                             "clips; expected (batch, classes) logits")
        return logits


def as_inference_model(model, source: str | None = None) -> InferenceModel:
    """Wrap a Keras classifier, a loaded SavedModel, an InferenceModel or a plain callable."""
    if isinstance(model, InferenceModel):
        return model
    if hasattr(model, "predict_on_batch"):  # Keras
        clip_shape = getattr(model, "clip_shape", None)
        num_classes = getattr(model, "num_classes", None) or None
        import keras

        from videomae_tf.models.fast import fast_predict

        run = fast_predict(model)

        def class_logits(clips):  # a MicroActionModel returns a dict; its logits are the classes'
            outputs = run(clips)
            logits = outputs["logits"] if isinstance(outputs, dict) else outputs
            return keras.ops.convert_to_numpy(keras.ops.cast(logits, "float32"))

        return InferenceModel(class_logits, clip_shape, num_classes,
                              source=source or f"model '{model.name}'")
    if hasattr(model, "serve"):  # tf.saved_model.load of our export
        return _from_saved_model(model, source or "SavedModel")
    if callable(model):
        return InferenceModel(model, None, source=source or "model")
    raise TypeError(f"cannot run {type(model).__name__}: expected a Keras model, a SavedModel "
                    "or a callable clips -> logits")


def _from_saved_model(loaded, source: str) -> InferenceModel:
    serve = loaded.serve
    clip_shape = num_classes = None
    concrete = getattr(serve, "concrete_functions", None) or []
    if concrete:
        args, _ = concrete[0].structured_input_signature
        if len(args) != 1:
            raise InputError(f"{source} serves {len(args)} inputs: it is not a classifier "
                             "(a pretraining model, perhaps)")
        clip_shape = tuple(args[0].shape[1:])
        outputs = concrete[0].structured_outputs
        shape = getattr(outputs, "shape", None)
        if shape is not None and shape.rank == 2 and shape[1] is not None:
            num_classes = int(shape[1])
    return InferenceModel(lambda x: serve(x).numpy(), clip_shape, num_classes, source=source)


def load_inference_model(path, dtype: str | None = None) -> InferenceModel:
    """Load ``path``: a SavedModel directory, a pretrained folder (``save_pretrained``), a
    ``.keras`` file or a ``.weights.h5`` with its sidecar; ``dtype`` is the Keras dtype
    policy to build a Keras model under (``models.load_model``)."""
    from videomae_tf.models.saving import FOLDER_CONFIG

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    if path.is_dir() and not (path / FOLDER_CONFIG).is_file():
        if not (path / "saved_model.pb").is_file():
            raise FileNotFoundError(f"{path} is a directory with neither saved_model.pb nor "
                                    f"{FOLDER_CONFIG}: not a SavedModel or pretrained folder")
        if dtype not in (None, "float32"):
            raise InputError(f"{path} is a SavedModel, which runs as it was exported: a dtype "
                             f"({dtype}) needs a .weights.h5, .keras or pretrained folder")
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        if not hasattr(loaded, "serve"):
            raise InputError(f"SavedModel {path} has no 'serve' endpoint (export it with "
                             "videomae_tf.export.export_saved_model)")
        model = _from_saved_model(loaded, f"SavedModel {path}")
        model._keepalive = loaded  # the restored function needs its object alive
        return model
    from videomae_tf.models import MicroActionModel, VideoMAEClassifier, load_model
    from videomae_tf.models.saving import stored_class_names

    keras_model = load_model(path, dtype=dtype)
    if not isinstance(keras_model, (VideoMAEClassifier, MicroActionModel)):
        raise InputError(f"{path} holds a {type(keras_model).__name__}, not a classifier")
    model = as_inference_model(keras_model, source=f"model {path}")
    model.class_names = stored_class_names(path)
    model.keras_model = keras_model
    return model
