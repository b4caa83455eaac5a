"""Recipes as data, config checking, and ``finetune`` end to end on the synthetic videos."""

import csv
import json

import numpy as np
import pytest

from videomae_tf.training import FINETUNE_RECIPES, finetune, get_pretrain_config, get_recipe
from videomae_tf.training.finetune import resolve_config


def test_official_recipes():
    k400 = get_recipe("k400")
    assert k400["model"]["arch"] == "vit_b" and k400["num_classes"] == 400
    assert (k400["lr"], k400["epochs"], k400["layer_decay"], k400["drop_path"]) == (5e-4, 75, 0.75, 0.1)
    assert (k400["weight_decay"], k400["opt_betas"], k400["min_lr"]) == (0.05, [0.9, 0.999], 1e-6)
    assert (k400["warmup_epochs"], k400["warmup_lr"], k400["smoothing"]) == (5, 0.0, 0.1)
    assert (k400["mixup"], k400["cutmix"], k400["data"]["flip"]) == (0.8, 1.0, True)
    assert (k400["test_num_segment"], k400["test_num_crop"]) == (5, 3)
    assert get_recipe("k400_vit_s")["epochs"] == 150
    assert get_recipe("k400_vit_h")["drop_path"] == 0.2
    ssv2 = get_recipe("ssv2_vit_s")
    assert ssv2["num_classes"] == 174 and ssv2["layer_decay"] == 0.7
    assert ssv2["data"]["flip"] is False and ssv2["test_num_segment"] == 2
    ucf = get_recipe("ucf101")
    assert (ucf["num_classes"], ucf["epochs"], ucf["layer_decay"], ucf["min_lr"]) == (101, 100, 0.7, 1e-5)
    assert get_pretrain_config("k400_v1")["opt_betas"] == [0.9, 0.95]
    assert get_pretrain_config("k710_v2_vit_g")["clip_grad"] == 0.02
    assert "synthetic" in FINETUNE_RECIPES
    with pytest.raises(KeyError, match="unknown recipe"):
        get_recipe("k401")


def test_config_keys_are_checked():
    with pytest.raises(KeyError, match="lr_rate"):
        resolve_config({"lr_rate": 1e-3, "output_dir": "x"})
    with pytest.raises(KeyError, match="data.trian"):
        resolve_config({"data": {"trian": "a.txt"}, "output_dir": "x"})
    with pytest.raises(ValueError, match="output_dir"):
        resolve_config({})


@pytest.mark.slow
def test_finetune_on_synthetic_videos_end_to_end(tmp_path):
    from videomae_tf import load_model
    from videomae_tf.data import make_synthetic_dataset, read_annotations
    from videomae_tf.data.pipeline import validation_dataset

    data = make_synthetic_dataset(tmp_path / "videos", num_train_per_class=4, num_val_per_class=2)
    config = get_recipe("synthetic")
    config.update(output_dir=str(tmp_path / "run"), epochs=2, batch_size=8, progress=False,
                  checkpoint_every=3, data=dict(config["data"], synthetic=None, root=str(data["root"]),
                                                train=str(data["train"]), val=str(data["val"])))
    summary = finetune(config)
    assert summary["step"] == 2 * summary["steps_per_epoch"] == 8  # 32 videos / batch 8
    assert summary["total_batch"] == 8 and summary["replicas"] == 1
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
    with open(run / "logs" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert summary["train_loss"] == pytest.approx(float(rows[-1]["train_loss"]), rel=1e-6)
    assert summary["checkpoint"].endswith("ckpt-8")
    model = load_model(summary["weights"])
    assert model.num_classes == 8 and model.clip_shape == (8, 32, 32, 3)
    # val_top1 is the saved model's top-1 on the 16 validation clips (one view each)
    cfg = resolve_config(config)
    clips, labels = next(iter(validation_dataset(
        read_annotations(data["val"], root=data["root"]), num_frames=8, crop_size=32,
        sampler=cfg["data"]["val_sampler"], sampling_rate=cfg["data"]["sampling_rate"],
        short_side=cfg["data"]["short_side"], batch_size=16)))
    logits = model.predict(clips, verbose=0)
    assert summary["val_top1"] == pytest.approx(np.mean(logits.argmax(1) == labels.numpy()))
    again = finetune(dict(config, epochs=2))  # finished: resume="auto" has nothing left to do
    assert again["step"] == 8 and again["history"] == []


def test_auto_precision_on_the_default_strategy_is_float32_on_cpu():
    """precision="auto" under the default strategy (one CPU, what most recipes start with)
    resolved by asking the strategy for its devices, which the default one refuses."""
    import tensorflow as tf

    from videomae_tf.training.distribute import resolve_precision

    assert resolve_precision("auto", tf.distribute.get_strategy()) == "float32"
