"""Child of test_jax_training: train a tiny classifier to 2 epochs with a checkpoint at
each epoch end in DIR on the current backend, resuming from RESUME (a checkpoint path, or
'auto'), and print the last layer's weights as JSON (the TensorFlow run is ``train``
called in the test's own process).

    KERAS_BACKEND=tensorflow|jax python engine_switch_child.py DIR RESUME
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.training.training_helpers import tiny_classifier, tiny_data  # noqa: E402

from videomae_tf.training import Trainer, make_optimizer  # noqa: E402


def train(directory, resume) -> dict:
    """The run's backend, final step and last layer's weights (as lists)."""
    keras.utils.set_random_seed(0)
    model = tiny_classifier()
    optimizer = make_optimizer(model, lr=1e-3, total_steps=8, warmup_steps=2, layer_decay=0.75)
    trainer = Trainer(model, optimizer, checkpoint_dir=directory, label_smoothing=0.1,
                      progress=False)
    data = tf.data.Dataset.from_tensor_slices(tiny_data(32)).batch(8, drop_remainder=True)
    trainer.fit(data, epochs=2, resume=resume)
    return dict(backend=keras.backend.backend(), step=trainer.step,
                weights=[np.asarray(w).tolist() for w in model.get_weights()[-2:]])


if __name__ == "__main__":
    print(json.dumps(train(*sys.argv[1:])))
