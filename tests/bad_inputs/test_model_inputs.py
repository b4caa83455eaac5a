"""Bad model files, clips, masks and lists: one clear line naming the file or value, at
the door, instead of a Keras dump, a silently random model or silently wrong numbers."""

import json
import shutil

import numpy as np
import pytest

from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER
from videomae_tf import VideoMAEClassifier, VideoMAEPretrainer, load_model, masking, save_weights
from videomae_tf.cli import main
from videomae_tf.data.annotations import read_annotations
from videomae_tf.evaluation import as_inference_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    save_weights(VideoMAEClassifier(num_classes=3, **TINY), folder / "cls.weights.h5")
    save_weights(VideoMAEClassifier(num_classes=3, **dict(TINY, depth=3)),
                 folder / "deep.weights.h5")
    save_weights(VideoMAEPretrainer(**dict(TINY, depth=1), **TINY_DECODER),
                 folder / "shallow_pt.weights.h5")
    return folder


def _pair(files, tmp_path, weights, sidecar_text):
    shutil.copy(files / weights, tmp_path / "m.weights.h5")
    (tmp_path / "m.json").write_text(sidecar_text)
    return tmp_path / "m.weights.h5"


def test_a_sidecar_that_is_not_json_is_named(files, tmp_path, capsys):
    weights = _pair(files, tmp_path, "cls.weights.h5", "{not json")
    assert main(["export", "--weights", str(weights), "--output", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err.strip()
    assert "m.json is not valid JSON" in error and len(error.splitlines()) == 1


@pytest.mark.parametrize("weights, depth, expected", [
    ("cls.weights.h5", 3, "no values for"),                 # the file lacks 2 blocks
    ("deep.weights.h5", 2, "arrays the model has no place for"),  # Keras would skip them silently
])
def test_weights_that_do_not_fit_their_sidecar_are_refused(files, tmp_path, weights, depth,
                                                           expected):
    config = dict(TINY, depth=depth, num_classes=3, task="finetune")
    path = _pair(files, tmp_path, weights, json.dumps({"config": config}))
    with pytest.raises(ValueError, match=expected) as info:
        load_model(path)
    assert "m.weights.h5 does not fit the model" in str(info.value)


def test_random_bytes_named_keras_are_not_file_not_found(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(ValueError, match="junk.keras is not a .keras file"):
        load_model(junk)


def test_uint8_and_empty_clips_are_refused_at_the_door():
    model = VideoMAEClassifier(num_classes=3, **TINY)
    frames = np.zeros((1,) + TINY_CLIP, np.uint8)
    with pytest.raises(ValueError, match="float clips normalised .* got uint8"):
        model(frames)
    run = as_inference_model(model)
    with pytest.raises(ValueError, match="float clips normalised .* got uint8"):
        run(frames)
    with pytest.raises(ValueError, match="non-empty batch"):
        run(np.zeros((0,) + TINY_CLIP, np.float32))


def test_init_from_a_shallower_encoder_is_refused(files):
    classifier = VideoMAEClassifier(num_classes=3, **TINY)  # 2 blocks
    with pytest.raises(ValueError, match=r"no weights for \d+ of the classifier's encoder "
                                         r"tensors \(blocks\.1\..*would stay random"):
        classifier.load_encoder_weights(files / "shallow_pt.weights.h5")


@pytest.mark.parametrize("ratio", [1.5, -0.1, 1.0, "half"])
def test_mask_ratios_outside_0_1_are_refused(ratio):
    with pytest.raises(ValueError, match="mask ratio must be"):
        masking.batch_masks("tube", (2, 2, 2), ratio, batch_size=2)


def test_lists_in_utf16_are_read_and_other_encodings_named(tmp_path):
    text = "a/v1.mp4 0\nb/v2.mp4 1\n"
    (tmp_path / "utf16.txt").write_text(text, encoding="utf-16")  # with a byte-order mark
    assert [r.label for r in read_annotations(tmp_path / "utf16.txt")] == [0, 1]
    (tmp_path / "latin1.txt").write_bytes("caf\xe9.mp4 0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt is not UTF-8 text \(byte 3"):
        read_annotations(tmp_path / "latin1.txt")


@pytest.mark.parametrize("options, expected", [
    (dict(num_heads=0), "num_heads=0; expected an integer >= 1"),  # was a ZeroDivisionError
    (dict(embed_dim=30, num_heads=4), "embed_dim=30 is not divisible by num_heads=4"),
    (dict(num_classes=-1), "num_classes=-1; expected an integer >= 0"),
    (dict(drop_path_rate=1.5), "drop_path_rate=1.5; expected a number >= 0 and < 1"),
    (dict(img_size=0), "img_size=0; expected an integer >= 1"),
    (dict(in_chans=0), "in_chans=0; expected an integer >= 1"),
])
def test_bad_constructor_options_are_named(options, expected):
    with pytest.raises(ValueError, match=expected):
        VideoMAEClassifier(**dict(TINY, **options))


def test_a_wrong_clip_in_a_traced_call_names_the_expected_shape():
    """The shape check runs while TensorFlow traces predict/fit: the error must come out
    as the ValueError it is (autograph turns other exception types into StagingError)."""
    model = VideoMAEClassifier(num_classes=3, **TINY)
    wrong = np.zeros((1, TINY_CLIP[0] + 2, *TINY_CLIP[1:]), np.float32)
    with pytest.raises(ValueError, match=r"expects clips of shape \(batch, "):
        model.predict(wrong, verbose=0)
    with pytest.raises(ValueError, match="takes float clips"):
        model.predict(wrong.astype(np.uint8), verbose=0)
