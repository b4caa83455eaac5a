"""Child process of test_jax_training: JAX must see 2 host devices before it starts.

    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax python jax_child.py OUT

Trains tiny models in float64 on one device and with DataParallel over the 2 devices
(fine-tuning with accumulation and per-worker pipelines, pretraining), resumes from a
checkpoint, and compares a ModelParallel forward pass with one device; prints JSON.
"""

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import keras  # noqa: E402
import numpy as np  # noqa: E402

keras.config.set_floatx("float64")
keras.config.set_dtype_policy("float64")

from tests.training.multiworker_child import STEPS, EPOCHS, classification_examples, data_for, tiny_run  # noqa: E402
from tests.training.training_helpers import tiny_classifier  # noqa: E402

from videomae_tf.training import Trainer  # noqa: E402
from videomae_tf.training.distribute import make_distribution  # noqa: E402


def build(mode, distribution):
    scope = distribution.scope() if distribution else contextlib.nullcontext()
    with scope:
        return tiny_run(mode)


def train(mode, distribution, accum_steps=1, checkpoint_dir=None, epochs=EPOCHS):
    model, optimizer, examples, loss_fn = build(mode, distribution)
    trainer = Trainer(model, optimizer, distribution=distribution, label_smoothing=0.1,
                      loss_fn=loss_fn, accum_steps=accum_steps, checkpoint_dir=checkpoint_dir,
                      checkpoint_every=2, progress=False)
    result = trainer.fit(data_for(examples), epochs=epochs, steps_per_epoch=STEPS,
                         data_per_worker=True)
    return model, trainer, result


def diff(a, b):
    return max(float(np.abs(np.asarray(x) - np.asarray(y)).max())
               for x, y in zip(a.get_weights(), b.get_weights()))


def main(out):
    parallel = make_distribution("auto")
    report = dict(devices=len(jax.devices()), replicas=type(parallel).__name__)
    for mode in ("finetune", "pretrain"):
        single, _, result = train(mode, None)
        if mode == "finetune":
            single_finetune = single
        split, _, _ = train(mode, parallel)
        start, _, _, _ = build(mode, None)
        report[mode] = dict(step=result["step"], moved=diff(single, start),
                            data_parallel=diff(split, single),
                            train_loss=[row["train_loss"] for row in result["history"]])
    # accumulation on fine-tuning (pretraining runs the same step code)
    accumulated, _, _ = train("finetune", parallel, accum_steps=2)
    report["finetune"]["accumulated"] = diff(accumulated, single_finetune)
    # resume: 1 epoch with checkpoints, then a new trainer picks it up and finishes
    ckpt = os.path.join(out, "ckpt")
    train("finetune", parallel, checkpoint_dir=ckpt, epochs=1)
    resumed, resumed_trainer, _ = train("finetune", parallel, checkpoint_dir=ckpt)
    report["resume"] = dict(resumed_from=resumed_trainer.resumed_from,
                            step=resumed_trainer.step, diff=diff(resumed, single_finetune))
    # model parallel: kernels split over a 'model' axis, same outputs as one device
    sharded = make_distribution("auto", model_parallel=2)
    keras.utils.set_random_seed(0)
    with sharded.scope():
        model = tiny_classifier()
    keras.utils.set_random_seed(0)
    plain = tiny_classifier()
    plain.set_weights([np.asarray(w) for w in model.get_weights()])
    clips = classification_examples()[0][:4]
    qkv = next(v for v in model.variables if v.path.endswith("attn/qkv/kernel"))
    report["model_parallel"] = dict(
        qkv_sharding=str(qkv.value.sharding.spec),
        diff=float(np.abs(np.asarray(model(clips)) - np.asarray(plain(clips))).max()))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
