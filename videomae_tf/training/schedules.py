"""Per-step learning-rate schedule: linear warmup, then cosine down to a floor.

``cosine_schedule`` is the official ``utils.cosine_scheduler`` (numpy, one value per
optimizer step); ``WarmupCosine`` computes the same values inside the graph, so the
optimizer reads the rate for its own step counter (which a checkpoint restores).
"""

import math

import keras
import numpy as np
from keras import ops

from videomae_tf.errors import InputError


def cosine_schedule(base_value, final_value, epochs, steps_per_epoch, warmup_epochs=0,
                    start_warmup_value=0.0, warmup_steps=-1):
    """The official schedule as an array of ``epochs * steps_per_epoch`` values.

    Warmup: ``linspace(start_warmup_value, base_value, warmup)`` (both ends included),
    with warmup = ``warmup_steps`` if > 0 else ``warmup_epochs * steps_per_epoch``;
    then ``final + (base - final) * (1 + cos(pi * i / n)) / 2`` for i in 0..n-1.
    """
    warmup = warmup_steps if warmup_steps > 0 else warmup_epochs * steps_per_epoch
    total = epochs * steps_per_epoch
    warm = np.linspace(start_warmup_value, base_value, warmup) if warmup > 0 else np.array([])
    i = np.arange(total - warmup)
    cos = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * i / len(i)))
    return np.concatenate([warm, cos])


@keras.saving.register_keras_serializable(package="videomae_tf")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """``cosine_schedule`` as a Keras schedule of the optimizer step (0-based).

    Steps past ``total_steps`` stay at ``min_lr``.
    """

    def __init__(self, base_lr, total_steps, warmup_steps=0, min_lr=0.0, warmup_lr=0.0):
        if total_steps <= warmup_steps:
            raise InputError(
                f"total_steps ({total_steps}) must exceed warmup_steps ({warmup_steps})"
            )
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_lr = float(min_lr)
        self.warmup_lr = float(warmup_lr)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base, low = self.base_lr, self.min_lr
        # linspace(warmup_lr, base, W)[step]: W points, both ends included
        warm = self.warmup_lr + (base - self.warmup_lr) * step / max(self.warmup_steps - 1, 1)
        decay_steps = self.total_steps - self.warmup_steps
        i = ops.minimum(step - self.warmup_steps, decay_steps)
        cos = low + 0.5 * (base - low) * (1 + ops.cos(math.pi * i / decay_steps))
        return ops.where(step < self.warmup_steps, warm, cos)

    def get_config(self):
        return dict(base_lr=self.base_lr, total_steps=self.total_steps,
                    warmup_steps=self.warmup_steps, min_lr=self.min_lr,
                    warmup_lr=self.warmup_lr)
