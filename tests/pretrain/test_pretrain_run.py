"""``pretrain``: the loss falls on the synthetic dataset, a crashed run resumes to the same
weights, V2 dual masking trains, and ``finetune`` starts from the result by name."""

import json

import numpy as np
import pytest

from tests.pretrain.pretrain_helpers import tiny_pretrain_config

from videomae_tf.models import load_model
from videomae_tf.models.naming import official_weights
from videomae_tf.training.pretrain import pretrain


class Crash(RuntimeError):
    pass


@pytest.fixture(scope="module")
def v1_run(synthetic, tmp_path_factory):
    """An uninterrupted V1 run: 6 epochs x 6 steps of 8 views, XLA-compiled."""
    out = tmp_path_factory.mktemp("pretrain_v1")
    return pretrain(tiny_pretrain_config(synthetic, out, checkpoint_every=5))


def test_pretraining_lowers_the_loss(v1_run):
    losses = v1_run["step_losses"]
    assert v1_run["step"] == len(losses) == 36
    first, last = np.mean(losses[:3]), np.mean(losses[-6:])
    print("loss curve (per step):", [round(x, 4) for x in losses])
    assert np.all(np.isfinite(losses))
    assert last < 0.5 * first, (first, last)
    epochs = [row["train_loss"] for row in v1_run["history"]]
    assert epochs[-1] < epochs[0] and "train_top1" not in v1_run["history"][0]


def test_final_weights_and_sidecar(v1_run):
    sidecar = json.loads(open(v1_run["weights"].replace(".weights.h5", ".json")).read())
    assert sidecar["config"]["task"] == "pretrain" and sidecar["step"] == 36
    assert sidecar["mask_ratio"] == 0.75 and sidecar["decoder_mask_type"] is None
    model = load_model(v1_run["weights"])
    assert model.num_patches == 32 and model.decoder_config["normalize_target"] is False


def test_a_crashed_run_resumes_to_the_same_weights(v1_run, synthetic, tmp_path):
    config = tiny_pretrain_config(synthetic, tmp_path, checkpoint_every=5)

    def crash(step, logs):
        if step == 10:  # just after the checkpoint of step 10 was written
            raise Crash()

    with pytest.raises(Crash):
        pretrain(config, callback=crash)
    resumed = pretrain(config)
    assert resumed["step"] == 36 and len(resumed["step_losses"]) == 26
    assert [row["epoch"] for row in resumed["history"]] == [2, 3, 4, 5, 6]
    np.testing.assert_allclose(resumed["step_losses"], v1_run["step_losses"][10:], rtol=1e-4, atol=1e-5)
    a, b = load_model(v1_run["weights"]), load_model(resumed["weights"])
    for key, variable in official_weights(a).items():
        np.testing.assert_allclose(np.asarray(official_weights(b)[key]), np.asarray(variable),
                                   rtol=1e-4, atol=1e-5, err_msg=key)


def test_v2_dual_masking_trains(synthetic, tmp_path):
    """Running-cell decoder mask 0.5, 2 views per video: the decoder sees 8 + 16 tokens."""
    config = tiny_pretrain_config(synthetic, tmp_path, model=dict(version="v2"), epochs=3,
                                  decoder_mask_type="running_cell", decoder_mask_ratio=0.5,
                                  data=dict(num_sample=2))
    from videomae_tf.data.pipeline import pretrain_dataset
    from videomae_tf.data import read_annotations

    records = read_annotations(synthetic["train"], root=synthetic["root"])
    batch = next(iter(pretrain_dataset(records[:2], num_frames=4, crop_size=32, patch_size=8,
                                       mask_ratio=0.75, decoder_mask_type="running_cell",
                                       num_sample=2, batch_size=4, seed=0)))
    assert batch["visible_index"].shape == (4, 8) and batch["reconstruct_index"].shape == (4, 16)
    result = pretrain(config)
    losses = result["step_losses"]
    assert result["step"] == 18 and np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_finetune_from_the_pretrained_weights_with_more_frames(v1_run, synthetic, tmp_path):
    """The classifier (8 frames) gets the encoder of the 4-frame pretrainer by name."""
    from videomae_tf.training import build_classifier, finetune, get_recipe
    from videomae_tf.config import merge

    config = merge(get_recipe("synthetic"), dict(
        model=dict(patch_size=8, tubelet_size=2, embed_dim=32, depth=1, num_heads=2), num_frames=8,
        init=v1_run["weights"], output_dir=str(tmp_path), epochs=2, steps_per_epoch=2,
        batch_size=4, progress=False,
        data=dict(synthetic=None, train=str(synthetic["train"]), val=None,
                  root=str(synthetic["root"]), num_parallel_calls=2)))
    pretrained = official_weights(load_model(v1_run["weights"]))
    classifier = build_classifier(config)
    copied = classifier.load_encoder_weights(v1_run["weights"])
    assert classifier.num_patches == 64 and "blocks.0.attn.qkv.weight" in copied
    mine = official_weights(classifier)
    for key in copied:
        np.testing.assert_array_equal(np.asarray(mine[key]), np.asarray(pretrained["encoder." + key]))
    result = finetune(config)
    assert result["step"] == 4 and np.isfinite(result["train_loss"])
