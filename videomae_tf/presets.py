"""The keras-hub preset layout of a pretrained folder, read and written without keras-hub.

A classifier or backbone saved by ``save_pretrained`` is a folder keras-hub loads
(``keras_hub.models.Backbone.from_preset``, ``VideoMAEVideoClassifier.from_preset``
after ``import videomae_tf.kerashub``):

* ``config.json``: the backbone as Keras serializes it (``registered_name``
  ``videomae_tf>VideoMAEPresetBackbone``, ``config``: its constructor arguments);
* ``metadata.json``: Keras version, parameter count, date (keras-hub's fields);
* ``model.weights.h5``: the backbone's weights, laid out as ``VideoMAEBackbone``'s;
* ``task.json`` / ``task.weights.h5`` (a classifier): the task's config (backbone, head)
  and the head's weights (keras-hub's ``save_task_weights`` layout: the task's own
  layers, the backbone's left out);
* ``videomae_tf.json`` (class names, source, metrics, version), ``labels.txt`` and the
  card ``README.md``: ours, which keras-hub ignores.

Reading needs only Keras: the backbone is built from ``config.json`` and loaded strictly,
a classifier takes its encoder from it and its head from ``task.weights.h5``. Folders in
the earlier layout (``config.json`` with ``"format": "videomae_tf"``) still load
(``models.saving``), and pretraining and micro-action models are still written that way.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import keras
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.files import replacing, write_text_atomic

__all__ = ["BACKBONE_NAME", "CLASSIFIER_NAME", "is_preset_folder", "load_preset",
           "preset_document", "write_preset"]

CONFIG_FILE, METADATA_FILE = "config.json", "metadata.json"
WEIGHTS_FILE, TASK_FILE, TASK_WEIGHTS_FILE = "model.weights.h5", "task.json", "task.weights.h5"
#: Our own facts about the model (class names, source, metrics), beside keras-hub's files.
DOCUMENT_FILE = "videomae_tf.json"
#: Every file a preset folder may hold (what a Hub download fetches).
PRESET_FILES = [CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE, TASK_FILE, TASK_WEIGHTS_FILE,
                DOCUMENT_FILE]

#: The Keras registered names of the keras-hub classes (``videomae_tf.kerashub``).
MODULE = "videomae_tf.kerashub"
BACKBONE_CLASS, CLASSIFIER_CLASS = "VideoMAEPresetBackbone", "VideoMAEVideoClassifier"
BACKBONE_NAME, CLASSIFIER_NAME = f"videomae_tf>{BACKBONE_CLASS}", f"videomae_tf>{CLASSIFIER_CLASS}"
#: The classifier options that are not the backbone's.
HEAD_OPTIONS = ("num_classes", "head_drop_rate", "init_scale")
#: Where keras-hub's task weights file keeps the head (the task's only Dense layer).
HEAD_VARIABLES = ("layers/dense/vars/0", "layers/dense/vars/1")


def _serialized(class_name: str, config: dict) -> dict:
    return {"module": MODULE, "class_name": class_name, "config": config,
            "registered_name": f"videomae_tf>{class_name}"}


def backbone_config(model) -> dict:
    """The constructor arguments of ``model``'s backbone, as JSON (no dtype: a preset
    stores float32 weights and is loaded under whatever policy the reader asks for)."""
    from videomae_tf.models.backbone import BACKBONE_DEFAULTS

    config = {key: value for key, value in model.get_config().items()
              if key in BACKBONE_DEFAULTS and key not in ("dtype", "name")}
    config["img_size"] = list(config["img_size"])
    return dict(config, name="videomae_backbone", trainable=True)


def write_preset(model, folder: Path, document: dict) -> None:
    """Write a ``VideoMAEClassifier`` or ``VideoMAEBackbone`` into ``folder`` in the preset
    layout, each file under a temporary name; ``document`` is ours (videomae_tf.json)."""
    from videomae_tf.models import VideoMAEClassifier
    from videomae_tf.models.backbone import VideoMAEBackbone

    config = backbone_config(model)
    backbone = model if type(model) is VideoMAEBackbone else VideoMAEBackbone.from_classifier(model)
    with replacing(folder / WEIGHTS_FILE) as tmp:
        backbone.save_weights(str(tmp))
    tasks = []
    if isinstance(model, VideoMAEClassifier):
        tasks = [CLASSIFIER_CLASS]
        with replacing(folder / TASK_WEIGHTS_FILE) as tmp:
            _save_head(backbone, model, tmp)
        task = dict({key: getattr(model, key) for key in HEAD_OPTIONS},
                    backbone=_serialized(BACKBONE_CLASS, config), preprocessor=None,
                    name=model.name)
        write_text_atomic(folder / TASK_FILE, json.dumps(_serialized(CLASSIFIER_CLASS, task),
                                                         indent=2))
    elif (folder / TASK_FILE).exists():  # a backbone over an earlier classifier preset
        for stale in (TASK_FILE, TASK_WEIGHTS_FILE):
            (folder / stale).unlink(missing_ok=True)
    metadata = {"keras_version": keras.version(), "keras_hub_version": _keras_hub_version(),
                "parameter_count": int(backbone.count_params()),
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "tasks": tasks}
    write_text_atomic(folder / METADATA_FILE, json.dumps(metadata, indent=2))
    write_text_atomic(folder / DOCUMENT_FILE, json.dumps(document, indent=2, sort_keys=True))
    write_text_atomic(folder / CONFIG_FILE, json.dumps(_serialized(BACKBONE_CLASS, config),
                                                       indent=2))


def _keras_hub_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("keras-hub")
    except Exception:  # noqa: BLE001 - not installed: keras-hub is optional
        return None


def _save_head(backbone, classifier, path: Path) -> None:
    """The head as keras-hub's ``Task.save_task_weights`` lays it out: a functional model
    of the backbone, dropout and the Dense head, saved without the backbone's layers."""
    inputs = keras.Input(shape=backbone.clip_shape)
    head = keras.layers.Dense(classifier.num_classes)
    pooled = backbone(inputs)["pooled"]
    task = keras.Model(inputs, head(keras.layers.Dropout(classifier.head_drop_rate)(pooled)))
    head.set_weights(classifier.head.get_weights())
    # a keras-hub task is compiled when built: store an (empty) optimizer state as its own
    # files do, so that loading one says nothing about a missing optimizer
    task.compile(optimizer=keras.optimizers.RMSprop())
    task.optimizer.build([])
    keras.saving.save_weights(task, str(path), objects_to_skip=list(backbone._flatten_layers()))


# ------------------------------------------------------------------------------ reading

def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not readable JSON ({e})") from None
    if not isinstance(value, dict):
        raise InputError(f"{path} holds {type(value).__name__}, not a JSON object")
    return value


def is_preset_folder(folder: Path) -> bool:
    """``folder``'s config.json names a registered Keras class (keras-hub's layout)."""
    try:
        return "registered_name" in _read_json(Path(folder) / CONFIG_FILE)
    except InputError:
        return False


def preset_document(folder: Path) -> dict:
    """Our facts about a preset folder (videomae_tf.json), or {} for a preset keras-hub
    wrote by itself."""
    path = Path(folder) / DOCUMENT_FILE
    return _read_json(path) if path.is_file() else {}


def _checked(document: dict, path: Path, expected: str) -> dict:
    """The ``config`` of a serialized class whose registered name must be ``expected``."""
    name = document.get("registered_name")
    if name != expected or not isinstance(document.get("config"), dict):
        raise InputError(f"{path}: registered_name {name!r} is not a videomae_tf preset "
                         f"(expected {expected!r} with a config)")
    return document["config"]


def load_preset(folder: Path, overrides: dict):
    """The classifier (with task.json) or backbone of a preset folder, weights loaded
    strictly; ``overrides`` change the config as in ``load_model``."""
    from videomae_tf.models.architectures import model_from_config
    from videomae_tf.models.saving import load_weights_strictly

    folder = Path(folder)
    config = _checked(_read_json(folder / CONFIG_FILE), folder / CONFIG_FILE, BACKBONE_NAME)
    config = {key: value for key, value in config.items() if key not in ("name", "trainable")}
    for needed in (WEIGHTS_FILE,) + ((TASK_WEIGHTS_FILE,) if (folder / TASK_FILE).is_file()
                                     else ()):
        if not (folder / needed).is_file():
            raise FileNotFoundError(f"{folder} is a preset without {needed}")
    backbone_overrides = {k: v for k, v in overrides.items() if k not in HEAD_OPTIONS}
    backbone = model_from_config(dict(config, task="backbone", **backbone_overrides))
    load_weights_strictly(backbone, folder / WEIGHTS_FILE)
    if not (folder / TASK_FILE).is_file():
        return backbone
    task = _checked(_read_json(folder / TASK_FILE), folder / TASK_FILE, CLASSIFIER_NAME)
    head = {key: task[key] for key in HEAD_OPTIONS if key in task}
    model = model_from_config(dict(config, task="finetune", **{**head, **overrides}))
    model.load_encoder_weights(backbone)
    _load_head(model, folder / TASK_WEIGHTS_FILE)
    return model


def _load_head(model, path: Path) -> None:
    """The head's kernel and bias from keras-hub's task weights file, checked."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            arrays = [f[name][()] if name in f else None for name in HEAD_VARIABLES]
    except OSError as e:
        raise InputError(f"{path} is not a readable Keras weights file ({e})") from None
    for name, array, weight in zip(HEAD_VARIABLES, arrays, model.head.weights):
        if array is None:
            raise InputError(f"{path} has no {name}: not the task weights of a classifier")
        if array.dtype.kind != "f" or array.shape != tuple(weight.shape):
            raise InputError(f"{path}: {name} is {array.dtype} {array.shape}; the head needs "
                             f"float {tuple(weight.shape)}")
        if not np.isfinite(array).all():
            raise InputError(f"{path}: {name} holds NaN or Inf values: not trained weights")
    for array, weight in zip(arrays, model.head.weights):
        weight.assign(array)
