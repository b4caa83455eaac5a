"""Child process of test_resume: train (slowly, to be killed) or resume + compare.

    python resume_child.py train  DIR   # writes DIR/init.npz, checkpoints in DIR/ckpt
    python resume_child.py resume DIR   # resumes DIR/ckpt; also runs uninterrupted from
                                        # DIR/init.npz; prints JSON with the difference
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.training.training_helpers import tiny_classifier, tiny_data  # noqa: E402

from videomae_tf.training import Trainer, make_optimizer  # noqa: E402

EPOCHS, STEPS = 3, 4


def data_for(epoch):
    """A new, epoch-seeded shuffle each epoch: resuming must replay the same order."""
    clips, labels = tiny_data(32)
    return (tf.data.Dataset.from_tensor_slices((clips, labels))
            .shuffle(32, seed=epoch).batch(8, drop_remainder=True))


def trainer(checkpoint_dir=None):
    keras.utils.set_random_seed(0)
    model = tiny_classifier(drop_path_rate=0.2)  # dropout RNG state must resume too
    optimizer = make_optimizer(model, lr=3e-3, total_steps=EPOCHS * STEPS, warmup_steps=2,
                               min_lr=1e-5, layer_decay=0.75)
    return model, Trainer(model, optimizer, checkpoint_dir=checkpoint_dir, checkpoint_every=2,
                          label_smoothing=0.1, progress=False)


def main(mode, directory):
    ckpt = os.path.join(directory, "ckpt")
    if mode == "train":
        model, run = trainer(ckpt)
        np.savez(os.path.join(directory, "init.npz"), *model.get_weights())
        run.fit(data_for, epochs=EPOCHS, steps_per_epoch=STEPS,
                callback=lambda step, logs: time.sleep(0.3))  # slow: the parent kills us
        print("finished without being killed", flush=True)
        return
    model, run = trainer(ckpt)
    resumed_from = run.restore("auto")
    run.fit(data_for, epochs=EPOCHS, steps_per_epoch=STEPS, resume=False)
    reference, plain = trainer()
    init = np.load(os.path.join(directory, "init.npz"))
    reference.set_weights([init[f"arr_{i}"] for i in range(len(init.files))])
    plain.fit(data_for, epochs=EPOCHS, steps_per_epoch=STEPS)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), reference.get_weights()))
    print(json.dumps(dict(resumed_from=resumed_from, step=run.step, max_abs_diff=diff)), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
