"""The forward passes and a training step compile with XLA on the TensorFlow backend."""

import keras
import numpy as np
import tensorflow as tf
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER

from videomae_tf import VideoMAE_ViTS16FT, VideoMAE_ViTS16PT, masking
from videomae_tf.masking import visible_and_reconstructed

CLIP = np.random.default_rng(0).normal(size=(2,) + TINY_CLIP).astype("float32")


def test_finetune_forward_and_train_step_compile_with_xla():
    model = VideoMAE_ViTS16FT(num_classes=3, drop_path_rate=0.1, **TINY)
    model.compile(optimizer="adamw", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    forward = tf.function(lambda x: model(x, training=False), jit_compile=True)
    np.testing.assert_allclose(forward(CLIP).numpy(), model(CLIP), atol=1e-5)
    history = model.fit(CLIP, np.array([0, 1]), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_pretrain_step_with_masks_made_in_tf_compiles_with_xla():
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    optimizer = keras.optimizers.AdamW(1e-3)
    grid = model.encoder.grid
    n_vis = model.num_patches - masking.num_masked(grid, 0.5, "tube")
    n_rec = model.num_patches - masking.num_masked(grid, 0.5, "running_cell")

    @tf.function(jit_compile=True)
    def step(clip, seed):
        enc = tf.stack([masking.tube_mask_tf(grid, 0.5, seed + i) for i in range(2)])
        dec = tf.stack([masking.running_cell_mask_tf(grid, 0.5, seed + i) for i in range(2)])
        inputs = {"pixel_values": clip,
                  "visible_index": masking.mask_to_indices_tf(enc, n_vis),
                  "reconstruct_index": masking.mask_to_indices_tf(dec, n_rec)}
        with tf.GradientTape() as tape:
            loss = model.loss_from_predictions(inputs, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [float(step(CLIP, tf.constant([1, 2], tf.int64))) for _ in range(3)]
    assert all(np.isfinite(losses))
    assert n_vis == 4 and n_rec == 4


def test_pretrain_fit_with_jit_compile():
    model = VideoMAE_ViTS16PT(**TINY, **TINY_DECODER)
    masks = masking.batch_masks("tube", model.encoder.grid, 0.5, 2, seed=0)
    visible, rec = visible_and_reconstructed(masks)
    model.compile(optimizer="adamw", jit_compile=True)
    history = model.fit({"pixel_values": CLIP, "visible_index": visible, "reconstruct_index": rec},
                        epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
