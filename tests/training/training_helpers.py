"""Tiny models and data for the training tests (fast on a 2-core CPU)."""

import numpy as np

TINY = dict(img_size=32, num_frames=4, patch_size=16, tubelet_size=2, embed_dim=32, depth=2,
            num_heads=2, num_classes=4)


def tiny_classifier(**overrides):
    from videomae_tf import VideoMAEClassifier

    return VideoMAEClassifier(**dict(TINY, **overrides))


def tiny_data(n=32, seed=0, num_classes=4, dtype="float32"):
    """Random clips whose label is a function of the clip (so a model can fit it)."""
    rng = np.random.default_rng(seed)
    clips = rng.normal(size=(n, 4, 32, 32, 3)).astype(dtype)
    labels = (np.arange(n) % num_classes).astype("int32")
    clips[np.arange(n), :, :8, :8, 0] += 2.0 * labels[:, None, None, None]
    return clips, labels


def latest_step(directory):
    """The step of the newest checkpoint in ``directory`` (0 without one)."""
    import tensorflow as tf

    from videomae_tf.training.checkpoint import checkpoint_step

    latest = tf.train.latest_checkpoint(str(directory))
    return checkpoint_step(latest) if latest else 0
