"""Linear probing: a classifier trained on frozen features (VideoMAE paper, following MAE).

The probe is MAE's: BatchNorm without affine parameters (eps 1e-6) then one linear layer
(truncated-normal init, std 0.01), trained with a linear warmup then a cosine schedule and
no weight decay. MAE uses LARS at batch 16384; Keras has no LARS, so this uses SGD with
momentum 0.9, which at the batch sizes of a single machine behaves the same way. Features
come from ``videomae-tf features`` (``videomae_tf.features``), labels from the lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from videomae_tf.config.recipes import PROBE_DEFAULTS
from videomae_tf.errors import InputError
from videomae_tf.files import replacing, write_text_atomic
from videomae_tf.training.schedules import WarmupCosine

__all__ = ["PROBE_DEFAULTS", "build_probe", "train_linear_probe", "linear_probe_from_lists"]


def build_probe(feature_dim: int, num_classes: int) -> keras.Model:
    """BatchNorm (no affine) + linear head on ``feature_dim`` features."""
    return keras.Sequential([
        keras.Input((feature_dim,), name="features"),
        keras.layers.BatchNormalization(center=False, scale=False, epsilon=1e-6,
                                        momentum=0.9, name="bn"),  # torch momentum 0.1
        keras.layers.Dense(num_classes, name="head",
                           kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.01)),
    ], name="linear_probe")


def _top_k(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, logits.shape[1])
    best = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean(np.any(best == labels[:, None], axis=1)))


def train_linear_probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray | None = None,
                       val_y: np.ndarray | None = None, *, num_classes: int | None = None,
                       epochs: int = PROBE_DEFAULTS["epochs"],
                       batch_size: int = PROBE_DEFAULTS["batch_size"],
                       lr: float = PROBE_DEFAULTS["lr"],
                       warmup_epochs: int = PROBE_DEFAULTS["warmup_epochs"],
                       momentum: float = PROBE_DEFAULTS["momentum"],
                       weight_decay: float = PROBE_DEFAULTS["weight_decay"],
                       seed: int = PROBE_DEFAULTS["seed"], verbose: int = 0
                       ) -> tuple[keras.Model, dict]:
    """Train a probe on ``(train_x, train_y)``; returns it and its metrics (train and, when
    given, validation top-1/top-5)."""
    train_x = np.asarray(train_x, np.float32)
    train_y = np.asarray(train_y, np.int64)
    if train_x.ndim != 2 or len(train_x) != len(train_y) or not len(train_x):
        raise InputError(f"expected features (N, D) and N labels, got {train_x.shape} and "
                         f"{train_y.shape}")
    if epochs < 1 or batch_size < 1:
        raise InputError("epochs and batch_size must be at least 1")
    labels = [train_y] + ([np.asarray(val_y)] if val_y is not None else [])
    num_classes = num_classes or int(max(int(y.max()) for y in labels)) + 1
    keras.utils.set_random_seed(seed)
    model = build_probe(train_x.shape[1], num_classes)
    batch_size = min(batch_size, len(train_x))
    steps_per_epoch = -(-len(train_x) // batch_size)
    total = epochs * steps_per_epoch
    warmup = min(warmup_epochs * steps_per_epoch, total - 1)
    schedule = WarmupCosine(lr * batch_size / 256, total, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=momentum,
                                                 weight_decay=weight_decay or None),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(train_x, train_y, batch_size=batch_size, epochs=epochs, shuffle=True,
                        verbose=verbose)
    metrics = {"num_train": len(train_x), "num_classes": num_classes, "epochs": epochs,
               "final_train_loss": float(history.history["loss"][-1])}
    train_logits = model.predict(train_x, batch_size=1024, verbose=0)
    metrics["train_top1"] = _top_k(train_logits, train_y, 1)
    if val_x is not None:
        val_logits = model.predict(np.asarray(val_x, np.float32), batch_size=1024, verbose=0)
        val_y = np.asarray(val_y, np.int64)
        metrics.update(num_val=len(val_y), val_top1=_top_k(val_logits, val_y, 1),
                       val_top5=_top_k(val_logits, val_y, 5))
    return model, metrics


def linear_probe_from_lists(features, train_list, val_list=None, *, root=None,
                            output_dir=None, **options) -> dict:
    """Probe the features of ``features`` (folder or .h5 from ``videomae-tf features``) with
    the labels of the annotation lists; ``root`` as given to ``features`` (default: each
    list's folder). Writes ``probe.keras`` and ``metrics.json`` to ``output_dir``."""
    from videomae_tf.data.annotations import read_annotations
    from videomae_tf.features import feature_names, load_features

    def read(list_path):
        list_root = root if root is not None else Path(list_path).parent
        records = read_annotations(list_path, root=list_root)
        if not records:
            raise InputError(f"{list_path} lists no videos")
        unlabelled = [r.path for r in records if r.label is None]
        if unlabelled:
            raise InputError(f"{list_path}: {len(unlabelled)} entries have no label "
                             f"(first: {unlabelled[0]}); probing needs labels")
        names = feature_names([r.path for r in records], list_root)
        return load_features(features, names), np.array([r.label for r in records])

    train_x, train_y = read(train_list)
    val_x, val_y = read(val_list) if val_list else (None, None)
    model, metrics = train_linear_probe(train_x, train_y, val_x, val_y, **options)
    metrics["features"] = str(features)
    if output_dir is not None:
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        with replacing(out / "probe.keras") as tmp:
            model.save(tmp)
        write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    return metrics
