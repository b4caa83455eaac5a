"""The training loop on one device: accumulation, NaN stop, evaluation, logs, resume."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from tests.training.training_helpers import tiny_classifier, tiny_data

from videomae_tf.training import NonFiniteLossError, Trainer, make_optimizer


def _setup(accum_steps=1, **trainer_kwargs):
    model = tiny_classifier()
    optimizer = make_optimizer(model, lr=3e-3, total_steps=40, warmup_steps=2, min_lr=1e-5,
                               layer_decay=0.75, clip_grad=1.0)
    trainer = Trainer(model, optimizer, label_smoothing=0.1, accum_steps=accum_steps,
                      progress=False, **trainer_kwargs)
    return model, trainer


def _dataset(batch=8, n=32, dtype="float32"):
    return tf.data.Dataset.from_tensor_slices(tiny_data(n, dtype=dtype)).batch(
        batch, drop_remainder=True)


@pytest.fixture
def float64():
    """Exact comparisons: float32 sums in another order, amplified by Adam, reach ~1e-5."""
    import keras

    policy, floatx = keras.config.dtype_policy(), keras.config.floatx()
    # reading keras.config.dtype_policy() (every training run does) pins a global policy,
    # which then overrides floatx: set both
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)


def test_gradient_accumulation_equals_one_big_batch(float64):
    big_model, big = _setup(accum_steps=1)
    acc_model, acc = _setup(accum_steps=4)
    acc_model.set_weights(big_model.get_weights())
    big.fit(_dataset(dtype="float64"), epochs=2)
    acc.fit(_dataset(dtype="float64"), epochs=2)
    assert acc.step == big.step == 8
    for a, b in zip(acc_model.get_weights(), big_model.get_weights()):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, atol=1e-10, rtol=0)


def test_accumulation_must_divide_the_batch():
    _, trainer = _setup(accum_steps=3)
    with pytest.raises(ValueError, match="accum_steps=3"):
        trainer.fit(_dataset(), epochs=1)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    clips, labels = tiny_data(48)
    clips[40] = np.nan  # batch 6 (steps 1..6 with batch 8)
    data = tf.data.Dataset.from_tensor_slices((clips, labels)).batch(8, drop_remainder=True)
    model, trainer = _setup(checkpoint_dir=tmp_path / "ckpt", checkpoint_every=2)
    with pytest.raises(NonFiniteLossError, match="step 6") as error:
        trainer.fit(data, epochs=1)
    assert "ckpt-4" in str(error.value)
    assert tf.train.latest_checkpoint(str(tmp_path / "ckpt")).endswith("ckpt-4")
    assert trainer.step == 4  # rolled back to the checkpoint
    assert all(np.isfinite(w).all() for w in model.get_weights())
    saved = {n: tf.train.load_variable(str(tmp_path / "ckpt" / "ckpt-4"), n)
             for n, _ in tf.train.list_variables(str(tmp_path / "ckpt" / "ckpt-4"))
             if n.startswith("model/") and "head" in n and "kernel" in n}
    (kernel,) = saved.values()  # the head's, as saved at step 4: the model holds it again
    assert np.isfinite(kernel).all()
    np.testing.assert_array_equal(np.asarray(model.head.kernel), kernel)


def test_fit_learns_evaluates_and_logs(tmp_path):
    model, trainer = _setup(log_dir=tmp_path / "logs", log_every=2)
    result = trainer.fit(_dataset(), epochs=5, val_data=_dataset(batch=12, n=30))
    history = result["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # evaluate() against a plain numpy computation over an uneven last batch
    clips, labels = tiny_data(30)
    metrics = trainer.evaluate(_dataset(batch=12, n=30).concatenate(
        tf.data.Dataset.from_tensor_slices(tiny_data(30)).skip(24).batch(12)))
    logits = model.predict(clips, verbose=0)
    assert metrics["count"] == 30
    assert metrics["top1"] == pytest.approx(np.mean(logits.argmax(-1) == labels))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    assert metrics["loss"] == pytest.approx(-logp[np.arange(30), labels].mean(), rel=1e-5)
    with open(tmp_path / "logs" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and float(rows[-1]["val_top1"]) == pytest.approx(history[-1]["val_top1"])
    assert list((tmp_path / "logs" / "tensorboard").glob("events.out.tfevents.*"))


def test_resume_in_process_matches_an_uninterrupted_run(tmp_path):
    full_model, full = _setup()
    start = full_model.get_weights()
    full.fit(_dataset(), epochs=4)

    part_model, part = _setup(checkpoint_dir=tmp_path / "ckpt", checkpoint_every=3)
    part_model.set_weights(start)
    part.fit(_dataset(), epochs=2)  # 8 steps; checkpoints at 3, 6 and the epoch ends 4, 8
    resumed_model, resumed = _setup(checkpoint_dir=tmp_path / "ckpt", checkpoint_every=3)
    result = resumed.fit(_dataset(), epochs=4, resume="auto")
    assert [row["epoch"] for row in result["history"]] == [3, 4]
    for a, b in zip(resumed_model.get_weights(), full_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


# mixed_float16 (LossScaleOptimizer) works too, but float16 on CPU takes minutes: GPU only.
@pytest.mark.parametrize("policy", ["mixed_bfloat16"])
def test_mixed_precision_trains_and_checkpoints(policy, tmp_path):
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = tiny_classifier()
    finally:
        keras.config.set_dtype_policy(previous)
    optimizer = make_optimizer(model, lr=3e-3, total_steps=8, loss_scale=policy == "mixed_float16")
    trainer = Trainer(model, optimizer, progress=False, jit_compile=True,
                      checkpoint_dir=tmp_path / "ckpt")
    result = trainer.fit(_dataset(), epochs=2)
    losses = [row["train_loss"] for row in result["history"]]
    assert all(np.isfinite(losses)) and losses[1] < losses[0]
    assert model.trainable_variables[0].dtype == "float32"  # float32 master weights
    assert trainer.restore(result["checkpoint"]) == 8
