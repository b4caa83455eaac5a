"""Bad input, round 3 (issue 28): a recipe that wrote over the user's data, a command that
replaced a file it did not write, text values read as truthy strings, a cluster spec that
does not describe this process, and errors whose first line was not the one that says
what is wrong."""

import json

import numpy as np
import pytest

from videomae_tf.cli import main
from videomae_tf.config import apply_settings, get_recipe, resolve
from videomae_tf.errors import InputError


def _tree(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def users_data(tmp_path):
    """A user's own data folder: two lists, a label map and a 'video'."""
    root = tmp_path / "mine"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "a.mp4").write_bytes(b"the user's video")
    (root / "train.txt").write_text("clips/a.mp4 0\n")
    (root / "val.txt").write_text("clips/a.mp4 0\n")
    (root / "labels.txt").write_text("waving\n")
    return root


def test_a_recipe_with_synthetic_data_reads_the_users_lists_and_writes_nothing_there(
        users_data, tmp_path):
    from videomae_tf.training.run import data_lists

    before = _tree(users_data)
    config = get_recipe("synthetic")  # data.synthetic is set: the demo dataset
    config = apply_settings(config, {"data.train": str(users_data / "train.txt"),
                                     "data.val": str(users_data / "val.txt"),
                                     "data.root": str(users_data)}, [])
    config["output_dir"] = str(tmp_path / "run")
    train, val = data_lists(resolve(config, "finetune"), "finetune")
    assert [r.path for r in train] == [str(users_data / "clips" / "a.mp4")]
    assert _tree(users_data) == before
    assert not (tmp_path / "run").exists()


def test_synthetic_data_is_never_rendered_over_other_files(users_data):
    from videomae_tf.data import make_synthetic_dataset

    before = _tree(users_data)
    with pytest.raises(InputError, match=r"mine holds files that are not a synthetic dataset"):
        make_synthetic_dataset(users_data, num_train_per_class=1, num_val_per_class=1)
    assert _tree(users_data) == before


def test_crop_persons_does_not_replace_a_file_it_did_not_write(tmp_path, capsys):
    from videomae_tf.data import make_synthetic_dataset

    paths = make_synthetic_dataset(tmp_path / "synthetic", num_train_per_class=1,
                                   num_val_per_class=0)
    video = sorted((paths["root"] / "videos" / "train").iterdir())[0]
    boxes = tmp_path / "boxes.csv"
    boxes.write_text(f"video,frame,x1,y1,x2,y2\n{video.name},0,8,8,40,40\n")
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / f"{video.stem}.mp4"
    theirs.write_bytes(b"somebody else's clip")
    argv = ["crop-persons", str(video), "--output", str(out), "--boxes", str(boxes),
            "--no-progress"]
    assert main(argv) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert str(theirs) in first and "--overwrite" in first, first
    assert theirs.read_bytes() == b"somebody else's clip"
    assert main(argv + ["--overwrite"]) == 0
    assert theirs.read_bytes() != b"somebody else's clip"
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err  # its own output: replaced on a rerun


def test_crop_persons_remembers_every_clip_it_wrote_across_runs(tmp_path, monkeypatch):
    from videomae_tf.data import make_synthetic_dataset
    from videomae_tf.data.person_crop import crop_persons

    paths = make_synthetic_dataset(tmp_path / "synthetic", num_train_per_class=1,
                                   num_val_per_class=0)
    first, second = sorted((paths["root"] / "videos" / "train").iterdir())[:2]
    boxes = {p.name: np.array([[0, 8, 8, 40, 40]]) for p in (first, second)}
    monkeypatch.chdir(tmp_path)
    crop_persons([first], "out", boxes=boxes, progress=False)  # a relative --output
    crop_persons([second], tmp_path / "out", boxes=boxes, progress=False)
    rows = crop_persons([first], tmp_path / "out", boxes=boxes, progress=False)  # again: ours
    assert [r.error for r in rows] == [""]
    report = (tmp_path / "out" / "crop_report.csv").read_text()
    assert first.name in report and second.name in report  # both still on record


@pytest.mark.parametrize("text, value", [("False", False), ("false", False), ("TRUE", True),
                                         ("None", None), ("null", None), ("none", "none"),
                                         ("3", 3), ("[1,2]", [1, 2]), ("runs/x", "runs/x")])
def test_text_values_are_parsed_for_what_they_say(text, value):
    config = apply_settings({"model": {}}, {}, [f"model.cosine_attention={text}"])
    assert config["model"]["cosine_attention"] == value
    assert type(config["model"]["cosine_attention"]) is type(value)


@pytest.mark.parametrize("setting, expected", [
    ("jit_compile=maybe", "jit_compile='maybe'; expected a boolean"),
    ("data.flip=1", "data.flip=1; expected a boolean"),
    ("progress=yes", "progress='yes'; expected a boolean"),
])
def test_a_boolean_key_refuses_what_is_not_a_boolean(setting, expected):
    config = apply_settings(get_recipe("synthetic"), {}, [setting])
    with pytest.raises(InputError) as info:
        resolve(config, "finetune")
    assert expected in str(info.value).splitlines()[0]


@pytest.mark.parametrize("setting, expected", [
    ("epochs=ten", "epochs='ten'; expected an integer >= 1"),  # a key with a range
    ("lr=true", "lr=True; expected a number"),
    ("warmup_lr=1e-6x", "warmup_lr='1e-6x'; expected a number"),
])
def test_a_number_key_refuses_what_is_not_a_number(setting, expected):
    config = apply_settings(get_recipe("synthetic"), {}, [setting])
    with pytest.raises(InputError) as info:
        resolve(config, "finetune")
    assert expected in str(info.value).splitlines()[0]


def test_a_config_file_value_is_checked_for_its_keys_type(tmp_path, capsys):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"num_classes": 2, "jit_compile": "False"}))
    assert main(["finetune", "--config", str(config), "--print-config"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert "jit_compile='False'; expected a boolean" in first


@pytest.mark.parametrize("text, value", [("1", True), ("TRUE", True), ("on", True),
                                         ("0", False), ("off", False), ("", False)])
def test_a_switch_in_the_environment_is_read_strictly(monkeypatch, text, value):
    from videomae_tf.hub import offline

    monkeypatch.setenv("HF_HUB_OFFLINE", text)
    assert offline() is value


def test_a_switch_in_the_environment_that_says_neither_is_refused(monkeypatch):
    from videomae_tf.hub import offline

    monkeypatch.setenv("HF_HUB_OFFLINE", "offline")
    with pytest.raises(InputError, match=r"HF_HUB_OFFLINE='offline' is not a boolean"):
        offline()


def test_a_model_option_that_is_a_boolean_refuses_a_string():
    from videomae_tf.models import VideoMAEClassifier

    with pytest.raises(InputError, match=r"cosine_attention='False'; expected a boolean"):
        VideoMAEClassifier(num_classes=2, cosine_attention="False")
    with pytest.raises(InputError, match=r"use_mean_pooling=1; expected a boolean"):
        VideoMAEClassifier(num_classes=2, use_mean_pooling=1)


@pytest.mark.parametrize("tf_config, expected", [
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "chief", "index": 0}},
     "TF_CONFIG task type 'chief' is not in its cluster, which has 'worker'"),
    ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}},
     "TF_CONFIG task index 2: the cluster lists 2 worker address(es)"),
    ({"cluster": {"worker": ["a:1", "b:2"]}}, "TF_CONFIG has a cluster but no task"),
])
def test_a_cluster_spec_that_does_not_describe_this_process_is_refused(tf_config, expected):
    from videomae_tf.training.distribute import cluster_workers

    with pytest.raises(InputError) as info:
        cluster_workers(json.dumps(tf_config))
    assert expected in str(info.value)
    assert cluster_workers(json.dumps(dict(tf_config, task={"type": "worker", "index": 1}))) == 2


def test_an_unknown_keras_backend_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "foo")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    assert main(["predict", str(video), "--weights", str(tmp_path / "w.weights.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "KERAS_BACKEND='foo' is not a Keras backend" in err[0], err
    assert "tensorflow, jax, torch" in err[0]


def test_a_clip_of_the_wrong_shape_says_so_in_its_first_line():
    from tests.tiny_configs import TINY
    from videomae_tf.models import VideoMAEClassifier
    from videomae_tf.models.fast import fast_predict

    run = fast_predict(VideoMAEClassifier(num_classes=2, **TINY), "graph")
    for clip, expected in ((np.zeros((1, 4, 30, 32, 3), np.float32), "got (1, 4, 30, 32, 3)"),
                           (np.zeros((4, 32, 32, 3), np.float32), "got (4, 32, 32, 3)"),
                           (np.zeros((1, 4, 32, 32, 3), np.uint8), "got uint8")):
        with pytest.raises(ValueError) as info:
            run(clip)
        first = str(info.value).splitlines()[0]
        assert expected in first and "videomae_classifier" in first, str(info.value)


@pytest.mark.parametrize("grid, batch_size, expected", [
    ((8, 14, 14), 0, "batch_size must be an integer >= 1, got 0"),
    ((8, 14, 14), 2.5, "batch_size must be an integer >= 1, got 2.5"),
    ((14, 14), 2, "grid must be (T', H', W')"),
    ((8, 0, 14), 2, "grid must be (T', H', W')"),
])
def test_mask_arguments_are_named_in_the_error(grid, batch_size, expected):
    from videomae_tf.masking import batch_masks

    with pytest.raises(InputError) as info:
        batch_masks("tube", grid, 0.9, batch_size)
    assert str(info.value).startswith(expected)



def _tiny_classifier():
    from videomae_tf.models import VideoMAEClassifier

    model = VideoMAEClassifier(num_classes=2, embed_dim=32, depth=1, num_heads=2, img_size=32,
                               num_frames=4)
    model(np.zeros((1, 4, 32, 32, 3), "float32"))
    return model


def test_a_weights_file_holding_nan_is_refused_naming_the_weight(tmp_path):
    import keras

    from videomae_tf.models.saving import load_weights_strictly

    model = _tiny_classifier()
    weight = next(w for w in model.weights if w.path.endswith("norm1/beta"))
    value = keras.ops.convert_to_numpy(weight).copy()
    value[0] = np.inf
    weight.assign(value)
    model.save_weights(tmp_path / "bad.weights.h5")
    with pytest.raises(InputError, match=r"weight .*norm1/beta holds NaN or Inf values"):
        load_weights_strictly(_tiny_classifier(), tmp_path / "bad.weights.h5")


def test_a_weights_file_holding_integers_is_refused_naming_the_array(tmp_path):
    import h5py

    from videomae_tf.models.saving import load_weights_strictly

    model = _tiny_classifier()
    path = tmp_path / "int.weights.h5"
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        names = []
        f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset)
                     else None)
        shape = f[names[0]].shape
        del f[names[0]]
        f.create_dataset(names[0], data=np.zeros(shape, "int32"))
    with pytest.raises(InputError, match=rf"array {names[0]} is not floating point"):
        load_weights_strictly(_tiny_classifier(), path)


def test_a_cluster_spec_tensorflow_takes_is_taken():
    from videomae_tf.training.distribute import cluster_workers

    with pytest.raises(InputError, match="TF_CONFIG's cluster must map task types to "
                                         "address lists, got list"):
        cluster_workers(json.dumps({"cluster": ["a:1"], "task": {"type": "worker"}}))

    spec = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": "1"}}
    assert cluster_workers(json.dumps(spec)) == 2  # TensorFlow reads the index with int()


def test_an_empty_keras_backend_is_unset(monkeypatch):
    from videomae_tf.startup import keras_backend_problem

    monkeypatch.setenv("KERAS_BACKEND", "")
    assert keras_backend_problem() is None


def test_lr_scaling_none_is_the_word_none():
    config = apply_settings(get_recipe("synthetic"), {}, ["lr_scaling=none"])
    assert resolve(config, "finetune")["lr_scaling"] == "none"
