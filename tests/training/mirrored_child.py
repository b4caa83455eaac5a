"""Child process of test_distributed: two logical CPUs must be set before TF starts.

Trains the same tiny model from the same weights on the same data with the default
strategy (one device) and with MirroredStrategy on 2 logical CPUs (global batches, with
gradient accumulation; and per-replica pipelines via distribute_datasets_from_function);
prints the largest weight difference and the evaluation results as JSON.

Runs in float64: the comparison is then exact up to round-off (~1e-16). In float32 the
different summation order (one batch of 8 vs 2 replicas x 2 micro-batches of 2), amplified
by Adam's normalisation, reached 1.3e-5 on some CPUs: too close to a real bug's size.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

keras.config.set_floatx("float64")

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402

from tests.training.training_helpers import tiny_classifier, tiny_data  # noqa: E402

from videomae_tf.training import Trainer, make_optimizer  # noqa: E402

CLIPS, LABELS = tiny_data(32, dtype="float64")
VAL = tf.data.Dataset.from_tensor_slices(tiny_data(21, seed=1, dtype="float64")).batch(8)  # uneven last batch


def global_batches(epoch):
    return tf.data.Dataset.from_tensor_slices((CLIPS, LABELS)).shuffle(32, seed=epoch).batch(8, drop_remainder=True)


def per_replica_batches(epoch, context):
    return global_batches(epoch).unbatch().batch(context.get_per_replica_batch_size(8))


def run(strategy, init, accum_steps=1, per_worker=False):
    with strategy.scope():
        model = tiny_classifier()
        if init is not None:
            model.set_weights(init)
        optimizer = make_optimizer(model, lr=3e-3, total_steps=8, warmup_steps=2, min_lr=1e-5,
                                   layer_decay=0.75, clip_grad=0.5)
    start = model.get_weights()
    trainer = Trainer(model, optimizer, strategy=strategy, accum_steps=accum_steps,
                      label_smoothing=0.1, progress=False)
    trainer.fit(per_replica_batches if per_worker else global_batches, epochs=2,
                steps_per_epoch=4, data_per_worker=per_worker)
    return start, model.get_weights(), trainer.evaluate(VAL)


def main():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    init, single, single_eval = run(tf.distribute.get_strategy(), None)
    _, accumulated, mirrored_eval = run(mirrored, init, accum_steps=2)
    _, per_worker, _ = run(mirrored, init, per_worker=True)

    def diff(weights):
        return max(float(np.abs(a - b).max()) for a, b in zip(weights, single))

    print(json.dumps(dict(replicas=mirrored.num_replicas_in_sync,
                          moved=diff(init), diff_accumulated=diff(accumulated),
                          diff_per_worker=diff(per_worker),
                          single_eval=single_eval, mirrored_eval=mirrored_eval)), flush=True)


if __name__ == "__main__":
    main()
