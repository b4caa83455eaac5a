"""Child process of test_multiworker: one worker of a TF_CONFIG cluster, or (without
TF_CONFIG) the single process it must equal.

    python multiworker_child.py finetune|pretrain OUT [--checkpoints DIR] [--slow]

Trains a tiny model in float64 for 3 epochs x 4 steps on a deterministic dataset whose
per-worker shards are, step by step, halves of the single process's global batch of 8
(per-replica batches of 4, dealt out alternately). Writes OUT/weights-<worker>.npz and
prints a JSON line: worker, chief, replicas, step, resumed_from.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras.config.set_floatx("float64")
keras.config.set_dtype_policy("float64")

from tests.training.training_helpers import tiny_classifier, tiny_data  # noqa: E402

from videomae_tf.models import VideoMAEPretrainer  # noqa: E402
from videomae_tf.training import Trainer, make_optimizer, make_strategy  # noqa: E402
from videomae_tf.training.pretrain import pretraining_loss_fn  # noqa: E402

GLOBAL_BATCH, EPOCHS, STEPS = 8, 3, 4
TINY_PRETRAINER = dict(img_size=32, num_frames=4, patch_size=8, tubelet_size=2, embed_dim=32,
                       depth=1, num_heads=2, decoder_embed_dim=16, decoder_depth=1,
                       decoder_num_heads=2, normalize_target=True)


def classification_examples():
    return tiny_data(32, dtype="float64")


def pretraining_examples():
    """Clips with random V1 masks: 8 of 32 tokens visible, the other 24 reconstructed."""
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(32, 4, 32, 32, 3))
    order = np.argsort(rng.random((32, 32)), axis=1)
    visible, masked = np.sort(order[:, :8], axis=1), np.sort(order[:, 8:], axis=1)
    return dict(pixel_values=clips, visible_index=visible.astype("int32"),
                reconstruct_index=masked.astype("int32"))


def data_for(examples):
    def per_replica_batches(epoch, context):
        size = context.get_per_replica_batch_size(GLOBAL_BATCH)
        dataset = tf.data.Dataset.from_tensor_slices(examples).shuffle(32, seed=epoch)
        return dataset.batch(size, drop_remainder=True).shard(
            context.num_input_pipelines, context.input_pipeline_id)
    return per_replica_batches


def tiny_run(mode):
    """(model, optimizer, examples, loss_fn or None) of ``mode``, seeded: build it in the
    scope of the strategy or distribution."""
    keras.utils.set_random_seed(0)
    if mode == "finetune":
        model, examples, loss_fn = tiny_classifier(), classification_examples(), None
    else:
        model = VideoMAEPretrainer(**TINY_PRETRAINER)
        examples, loss_fn = pretraining_examples(), pretraining_loss_fn(model)
    optimizer = make_optimizer(model, lr=1e-3, total_steps=EPOCHS * STEPS, warmup_steps=2,
                               min_lr=1e-5, layer_decay=0.75 if loss_fn is None else None,
                               clip_grad=0.5)
    return model, optimizer, examples, loss_fn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("finetune", "pretrain"))
    parser.add_argument("out")
    parser.add_argument("--checkpoints")
    parser.add_argument("--slow", action="store_true", help="sleep after each step")
    args = parser.parse_args()
    strategy = make_strategy("auto", collective_timeout=60)
    with strategy.scope():
        model, optimizer, examples, loss_fn = tiny_run(args.mode)
    trainer = Trainer(model, optimizer, strategy=strategy, label_smoothing=0.1, loss_fn=loss_fn,
                      checkpoint_dir=args.checkpoints, checkpoint_every=2, progress=False)
    slow = (lambda step, logs: time.sleep(0.5)) if args.slow else None
    try:
        trainer.fit(data_for(examples), epochs=EPOCHS, steps_per_epoch=STEPS,
                    data_per_worker=True, callback=slow)
    except Exception as e:  # what the CLI does: one line, then out at once
        print(f"error: {type(e).__name__}: {e}", flush=True)
        os._exit(1)
    np.savez(os.path.join(args.out, f"weights-{trainer.steps.worker_index}.npz"),
             *model.get_weights())
    print(json.dumps(dict(worker=trainer.steps.worker_index, chief=trainer.chief,
                          replicas=trainer.replicas, step=trainer.step,
                          resumed_from=trainer.resumed_from)), flush=True)
    os._exit(0)  # a finished worker need not wait for the runtime's threads


if __name__ == "__main__":
    main()
