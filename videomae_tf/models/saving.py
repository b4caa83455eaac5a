"""Model files: saving with a JSON sidecar (config + metadata), loading by path (a
``.weights.h5`` with its sidecar, a ``.keras`` file or a pretrained folder), strictly."""

import collections
import json
import zipfile
from pathlib import Path

import keras
import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.files import check_space, replacing

from videomae_tf.models.backbone import VideoMAEBackbone
from videomae_tf.models.classifier import VideoMAEClassifier
from videomae_tf.models.micro_action import MicroActionModel
from videomae_tf.models.pretrainer import VideoMAEPretrainer
from videomae_tf.models.architectures import model_from_config
from videomae_tf.presets import DOCUMENT_FILE, is_preset_folder, load_preset

WEIGHTS_SUFFIX = ".weights.h5"
#: A pretrained folder (``videomae_tf.save_pretrained``): the config and the weights.
FOLDER_CONFIG = "config.json"
FOLDER_WEIGHTS = "model" + WEIGHTS_SUFFIX


def sidecar_path(weights_path):
    """'out/model.weights.h5' -> 'out/model.json': the config that rebuilds the model
    (for a pretrained folder, its config.json)."""
    path = Path(weights_path)
    if path.is_dir():
        return path / FOLDER_CONFIG
    name = path.name[: -len(WEIGHTS_SUFFIX)] if path.name.endswith(WEIGHTS_SUFFIX) else path.stem
    return path.with_name(name + ".json")


def model_config(model):
    """The config dict ``model_from_config`` rebuilds ``model`` from."""
    if isinstance(model, MicroActionModel):
        config = dict(model.get_config(), task="micro_action")
        config["backbone"]["img_size"] = list(config["backbone"]["img_size"])
        return config
    if isinstance(model, VideoMAEClassifier):
        task = "finetune"
    elif isinstance(model, VideoMAEBackbone):
        task = "backbone"
    elif isinstance(model, VideoMAEPretrainer):
        task = "pretrain"
    else:
        raise TypeError(f"not a VideoMAE model: {type(model).__name__}")
    config = dict(model.get_config(), task=task)
    config["img_size"] = list(config["img_size"])
    return config


def save_weights(model, path, **metadata):
    """``model.save_weights(path)`` plus the JSON sidecar (config + ``metadata``), both
    written under temporary names and renamed once complete: a full disk or a crash
    leaves the previous pair (or none), never a truncated file."""
    path = Path(path)
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise InputError(f"weights files must end in {WEIGHTS_SUFFIX}, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = json.dumps({"config": model_config(model), **metadata}, indent=2, sort_keys=True)
    check_space(path, weights_nbytes(model))
    with replacing(path) as weights_tmp, replacing(sidecar_path(path)) as sidecar_tmp:
        model.save_weights(str(weights_tmp))
        sidecar_tmp.write_text(sidecar)
    return path


def weights_nbytes(model) -> int:
    """Bytes of the model's weight values (what a weights file mostly holds)."""
    def itemsize(dtype: str) -> int:
        return 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize

    return sum(int(np.prod(w.shape)) * itemsize(w.dtype) for w in model.weights)


def _file_weights(path) -> list[tuple[str, tuple, str]]:
    """(name, shape, dtype kind) of every array in a Keras ``.weights.h5`` file."""
    import h5py

    arrays = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: arrays.append((name, tuple(item.shape), item.dtype.kind))
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


def _check_trained_values(model, path: Path) -> None:
    """InputError naming the first weight that no training could have left: NaN or Inf."""
    for weight in model.weights:
        value = np.asarray(keras.ops.convert_to_numpy(weight))
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise InputError(f"{path}: weight {weight.path} holds NaN or Inf values: not "
                             "trained weights")


def load_weights_strictly(model, path) -> None:
    """``model.load_weights(path)``, refusing a file that holds weights the model does not
    use or lacks weights it needs (Keras skips extra ones silently), in one line that says
    how the two differ."""
    path = Path(path)
    try:
        arrays = _file_weights(path)
    except OSError as e:
        raise InputError(f"{path} is not a readable Keras weights file ({e})") from None
    for name, _, kind in arrays:
        if kind != "f":  # every weight of our models is floating point
            raise InputError(f"{path}: array {name} is not floating point: not trained "
                             "weights")
    stored = collections.Counter(shape for _, shape, _ in arrays)
    wanted = collections.Counter(tuple(w.shape) for w in model.weights)
    if stored != wanted:
        extra, missing = stored - wanted, wanted - stored
        detail = "; ".join(part for part in (
            f"{sum(extra.values())} arrays the model has no place for (shapes "
            f"{sorted(extra)[:3]})" if extra else "",
            f"no values for {sum(missing.values())} of the model's weights (shapes "
            f"{sorted(missing)[:3]})" if missing else "") if part)
        raise InputError(f"{path} does not fit the model ({model.count_params():,} "
                         f"parameters in {len(model.weights)} arrays): {detail}. Is the "
                         f"config (sidecar) the one saved with these weights?")
    try:
        model.load_weights(str(path))
    except ValueError as e:
        first = str(e).strip().splitlines()[0]
        raise InputError(f"{path} does not fit the model: {first}") from None
    _check_trained_values(model, path)


def load_model(path, dtype: str | None = None, **overrides):
    """Rebuild a model from a ``.keras`` file, a ``.weights.h5`` file with its sidecar, or
    a pretrained folder (config.json + model.weights.h5, see ``videomae_tf.hub``).

    ``dtype`` is the Keras dtype policy to build it under: ``"mixed_bfloat16"`` (bf16
    matmuls, float32 weights, softmax and norms: the fast inference on CPUs with bf16
    units, ``docs/numerics.md``) or ``"float32"`` (default: what the file's config says).
    ``overrides`` change the config before building (e.g. ``num_frames=32``: position
    tables are rebuilt, weights still fit).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if dtype is not None:
        overrides["dtype"] = check_policy(dtype)
    if path.suffix == ".keras":
        if overrides:
            raise InputError("overrides need a .weights.h5 file with its JSON sidecar")
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path} is not a .keras file (a zip archive written by "
                             "model.save)")
        return keras.saving.load_model(str(path))
    if path.is_dir() and is_preset_folder(path):
        return load_preset(path, overrides)
    if path.is_dir():
        config_file, weights = path / FOLDER_CONFIG, path / FOLDER_WEIGHTS
        for needed in (config_file, weights):
            if not needed.is_file():
                raise FileNotFoundError(f"{path} is a folder without {needed.name}: not a "
                                        "pretrained folder written by save_pretrained")
    elif path.name.endswith(WEIGHTS_SUFFIX):
        config_file, weights = sidecar_path(path), path
        if not config_file.exists():
            raise FileNotFoundError(
                f"{path} has no config sidecar {config_file.name}: build the model yourself "
                f"and call model.load_weights()"
            )
    else:
        raise InputError(f"cannot load {path}: expected a .keras or {WEIGHTS_SUFFIX} file or "
                         "a pretrained folder")
    model = model_from_config(dict(read_sidecar(config_file), **overrides))
    load_weights_strictly(model, weights)
    return model


#: The dtype policies a model may be loaded under.
POLICIES = ("float32", "mixed_bfloat16", "bfloat16", "mixed_float16", "float16")


def check_policy(dtype: str) -> str:
    """``dtype`` if it names a Keras dtype policy in POLICIES, else an InputError."""
    if dtype not in POLICIES:
        raise InputError(f"dtype must be one of {', '.join(POLICIES)}, got {dtype!r}")
    return dtype


def stored_class_names(path) -> list[str] | None:
    """The class names saved beside a model (its sidecar, folder config or, for a preset
    folder, videomae_tf.json), or None."""
    sidecar = sidecar_path(path)
    if Path(path).is_dir() and is_preset_folder(path):
        sidecar = Path(path) / DOCUMENT_FILE
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    names = meta.get("class_names") or meta.get("labels") if isinstance(meta, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def read_sidecar(path) -> dict:
    """The model config in a ``.json`` sidecar; an InputError naming the file otherwise."""
    path = Path(path)
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not valid JSON ({e}): the sidecar of a weights file "
                         "holds the model config") from None
    config = sidecar.get("config") if isinstance(sidecar, dict) else None
    if not isinstance(config, dict):
        raise InputError(f"{path} has no \"config\" mapping: not a videomae_tf sidecar")
    return config
