"""Saving with a JSON sidecar, loading by path, and moving a pretrained encoder into a classifier."""

import json
from pathlib import Path

import keras

from videomae_tf.models.classifier import VideoMAEClassifier
from videomae_tf.models.naming import official_weights
from videomae_tf.models.pretrainer import VideoMAEPretrainer
from videomae_tf.models.zoo import model_from_config

WEIGHTS_SUFFIX = ".weights.h5"


def sidecar_path(weights_path):
    """'out/model.weights.h5' -> 'out/model.json': the config that rebuilds the model."""
    path = Path(weights_path)
    name = path.name[: -len(WEIGHTS_SUFFIX)] if path.name.endswith(WEIGHTS_SUFFIX) else path.stem
    return path.with_name(name + ".json")


def model_config(model):
    """The config dict ``model_from_config`` rebuilds ``model`` from."""
    if isinstance(model, VideoMAEClassifier):
        task = "finetune"
    elif isinstance(model, VideoMAEPretrainer):
        task = "pretrain"
    else:
        raise TypeError(f"not a VideoMAE model: {type(model).__name__}")
    config = dict(model.get_config(), task=task)
    config["img_size"] = list(config["img_size"])
    return config


def save_weights(model, path, **metadata):
    """``model.save_weights(path)`` plus the JSON sidecar (config + ``metadata``)."""
    path = Path(path)
    if not path.name.endswith(WEIGHTS_SUFFIX):
        raise ValueError(f"weights files must end in {WEIGHTS_SUFFIX}, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path))
    sidecar = {"config": model_config(model), **metadata}
    sidecar_path(path).write_text(json.dumps(sidecar, indent=2, sort_keys=True))
    return path


def load_model(path, **overrides):
    """Rebuild a model from a ``.keras`` file or a ``.weights.h5`` file with its sidecar.

    ``overrides`` change the config before building (e.g. ``num_frames=32``: position
    tables are rebuilt, weights still fit).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".keras":
        if overrides:
            raise ValueError("overrides need a .weights.h5 file with its JSON sidecar")
        return keras.saving.load_model(str(path))
    if path.name.endswith(WEIGHTS_SUFFIX):
        config_file = sidecar_path(path)
        if not config_file.exists():
            raise FileNotFoundError(
                f"{path} has no config sidecar {config_file.name}: build the model yourself "
                f"and call model.load_weights()"
            )
        config = json.loads(config_file.read_text())["config"]
        model = model_from_config(dict(config, **overrides))
        model.load_weights(str(path))
        return model
    raise ValueError(f"cannot load {path}: expected a .keras or {WEIGHTS_SUFFIX} file")


def copy_encoder_weights(source, classifier):
    """Copy the encoder of a pretrainer (object or file) into ``classifier`` by name.

    The official fine-tune rule: every encoder tensor but the final ``norm`` moves
    over; fc_norm and the head stay freshly initialised. Returns the copied keys.
    """
    if not isinstance(source, VideoMAEPretrainer):
        source = load_model(source)
    if not isinstance(source, VideoMAEPretrainer):
        raise TypeError(f"expected a pretraining model, got {type(source).__name__}")
    src = {k[len("encoder."):]: v for k, v in official_weights(source).items()
           if k.startswith("encoder.") and not k.startswith("encoder.norm.")}
    dst = official_weights(classifier)
    missing = sorted(k for k in src if k not in dst)
    if missing:
        raise ValueError(f"the classifier has no weights for encoder keys {missing[:5]}...")
    for key, variable in src.items():
        if tuple(dst[key].shape) != tuple(variable.shape):
            raise ValueError(
                f"shape mismatch for {key}: pretrained {tuple(variable.shape)}, "
                f"classifier {tuple(dst[key].shape)}"
            )
        dst[key].assign(variable.value)
    return sorted(src)
