"""Bad training data stops a run at once with one line naming it, instead of a hang or
silently wrong training."""

import pytest

from videomae_tf.training import finetune
from videomae_tf.training.pretrain import pretrain
from videomae_tf.config import get_recipe

TINY = dict(model=dict(arch=None, patch_size=16, tubelet_size=2, embed_dim=32, depth=1,
                       num_heads=2), num_frames=4, input_size=32, epochs=1, batch_size=2,
            progress=False, jit_compile=False, resume=False, warmup_epochs=0)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    from videomae_tf.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic"), num_train_per_class=1,
                                  num_val_per_class=1)


def _config(tmp_path, train, root, **overrides):
    config = get_recipe("synthetic")
    config.update(TINY, output_dir=str(tmp_path / "run"), **overrides)
    config["data"] = dict(config["data"], train=str(train), val=None, root=str(root),
                          synthetic=None)
    return config


def test_a_wrong_data_root_stops_before_training(videos, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"none of the 8 videos listed in .* exist under "
                                                r"data root .*nowhere"):
        finetune(_config(tmp_path, videos["train"], tmp_path / "nowhere"))


def test_labels_beyond_num_classes_are_refused(videos, tmp_path):
    with pytest.raises(ValueError, match=r"data.train: .* has the label [5-7], but num_classes is 5"):
        finetune(_config(tmp_path, videos["train"], videos["root"], num_classes=5))


@pytest.mark.parametrize("command", ["finetune", "pretrain"])
def test_a_list_of_unreadable_videos_stops_instead_of_spinning(tmp_path, command):
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = []
    for i in range(3):
        (broken / f"v{i}.mp4").write_bytes(b"not a video" * 10)
        lines.append(f"v{i}.mp4 {i}")
    (tmp_path / "train.txt").write_text("\n".join(lines) + "\n")
    config = _config(tmp_path, tmp_path / "train.txt", broken)
    if command == "pretrain":
        from videomae_tf.config import get_pretrain_config, merge

        config = merge(get_pretrain_config("synthetic"), dict(
            model=dict(patch_size=8, tubelet_size=2, embed_dim=32, depth=1, num_heads=2,
                       decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
            num_frames=4, input_size=32, batch_size=2, epochs=1, progress=False, warmup_epochs=0,
            output_dir=str(tmp_path / "pt"), resume=False,
            data=dict(train=str(tmp_path / "train.txt"), root=str(broken), synthetic=None)))
    run = finetune if command == "finetune" else pretrain
    with pytest.raises(ValueError, match=r"no video of the 3 videos .* could be read: \d+ attempts in a row failed"):
        run(config)


def test_resuming_a_run_with_another_setting_is_refused_and_loses_nothing(videos, tmp_path):
    config = _config(tmp_path, videos["train"], videos["root"], num_classes=8)
    config.update(resume="auto", batch_size=4)
    finetune(config)
    record = (tmp_path / "run" / "config.json").read_text()
    changed = dict(config, lr=config["lr"] * 10)
    with pytest.raises(ValueError, match=r"holds a run with lr=.*this one asks for lr=.*new "
                                         r"output folder"):
        finetune(changed)
    with pytest.raises(ValueError, match="num_classes is 5"):  # fails while setting up
        finetune(dict(config, num_classes=5))
    assert (tmp_path / "run" / "config.json").read_text() == record
    longer = finetune(dict(config, epochs=2))  # more epochs: the same run, continued
    assert longer["step"] == 2 * longer["steps_per_epoch"]


@pytest.mark.parametrize("key, value, expected", [
    ("epochs", "abc", "epochs='abc'; expected an integer >= 1"),
    ("epochs", 1.5, "epochs=1.5; expected an integer >= 1"),
    ("batch_size", 0, "batch_size=0; expected an integer >= 1"),
    ("lr", float("nan"), "lr=nan; expected a number > 0"),
    ("smoothing", 2, "smoothing=2; expected a number >= 0 and < 1"),
    ("data.num_sample", 0, "data.num_sample=0; expected an integer >= 1"),
    ("mask_ratio", 1.0, "mask_ratio=1.0; expected a number > 0 and < 1"),
])
def test_bad_values_are_named_before_any_work(key, value, expected, tmp_path):
    from videomae_tf.training.finetune import resolve_config
    from videomae_tf.training.pretrain import resolve_pretrain_config

    resolve = resolve_pretrain_config if key == "mask_ratio" else resolve_config
    config = {"output_dir": str(tmp_path)}
    section, _, name = key.rpartition(".")
    (config.setdefault(section, {}) if section else config)[name] = value
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        resolve(config)
    assert not any(tmp_path.iterdir())  # nothing written


def test_the_cli_reports_a_bad_value_as_a_usage_error(tmp_path, capsys):
    from videomae_tf.cli import main

    code = main(["finetune", "--recipe", "synthetic", "--output", str(tmp_path / "run"),
                 "--batch-size", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "videomae-tf finetune: error: finetune config: batch_size=0; expected an integer >= 1"]


def test_a_warmup_as_long_as_the_run_is_refused(videos, tmp_path):
    config = _config(tmp_path, videos["train"], videos["root"], num_classes=8, warmup_epochs=1)
    with pytest.raises(ValueError, match=r"warmup_epochs=1 warms up for 4 of the run's 4 steps"):
        finetune(config)


def test_resuming_fine_tuning_from_a_pretraining_checkpoint_is_refused(videos, tmp_path):
    from videomae_tf.config import get_pretrain_config, merge

    pretraining = merge(get_pretrain_config("synthetic"), dict(
        model=dict(patch_size=16, tubelet_size=2, embed_dim=32, depth=1, num_heads=2,
                   decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2),
        num_frames=4, input_size=32, batch_size=4, epochs=1, progress=False, warmup_epochs=0,
        output_dir=str(tmp_path / "pt"), resume=False, checkpoint_every=1,
        data=dict(train=str(videos["train"]), root=str(videos["root"]), synthetic=None)))
    pretrain(pretraining)
    config = _config(tmp_path, videos["train"], videos["root"], num_classes=8,
                     resume=str(tmp_path / "pt"))  # a run folder: its checkpoints/ are found
    with pytest.raises(ValueError, match=r"checkpoint .*pt/checkpoints/ckpt-\d+ does not fit "
                                         r"this run's model and optimizer .*use init, not resume"):
        finetune(config)
