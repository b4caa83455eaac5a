"""The MA-52 model: head outputs and gradients, saving and loading, starting the backbone
from a pretrained model, and the submission/ensemble writers."""

import csv
import pickle

import keras
import numpy as np
import pytest
import tensorflow as tf

import videomae_tf
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER
from videomae_tf.models import MicroActionModel, VideoMAEPretrainer, official_weights
from videomae_tf.training.losses import micro_action_loss

CLIPS = np.random.default_rng(0).standard_normal((3, *TINY_CLIP)).astype("float32")
SLOTS = TINY_CLIP[0] // TINY["tubelet_size"]


@pytest.mark.parametrize("head", ["i3d", "tsn", "timesformer"])
@pytest.mark.parametrize("assist", [(False, False), (True, False), (True, True), (False, True)])
def test_head_outputs(head, assist):
    frame, coarse = assist
    model = MicroActionModel(backbone=TINY, head=head, frame_assist=frame, coarse_assist=coarse)
    out = model(CLIPS)
    expected = {"logits": (3, 52)}
    if frame:
        expected["frame_logits"] = (3, SLOTS, 52)
    if coarse:
        expected["coarse_logits"] = (3, 7)
    if frame and coarse:
        expected["coarse_frame_logits"] = (3, SLOTS, 7)
    assert {k: tuple(v.shape) for k, v in out.items()} == expected


def test_heads_pool_the_normalised_token_map():
    model = MicroActionModel(backbone=TINY, head="i3d", dropout=0.0, frame_assist=False)
    token_map = model.backbone.forward_token_map(CLIPS)
    assert tuple(token_map.shape) == (3, SLOTS, 2, 2, TINY["embed_dim"])
    pooled = np.asarray(token_map).mean(axis=(1, 2, 3))
    kernel, bias = (np.asarray(w) for w in model.fine_classifier.weights)
    np.testing.assert_allclose(np.asarray(model(CLIPS)["logits"]), pooled @ kernel + bias,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("arcface", [None, "target", "all"])
def test_every_weight_gets_a_gradient_from_the_full_loss(arcface):
    # seeded: in a model this small the SE gate has 2 hidden ReLUs, which some random
    # initialisations leave both dead (about one run in four)
    keras.utils.set_random_seed(0)
    model = MicroActionModel(backbone=TINY, frame_assist=True, coarse_assist=True,
                             arcface=arcface)
    loss_fn = micro_action_loss("fine_a_coarse_double", arcface=arcface)
    labels = np.array([0, 20, 50])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(loss_fn(labels, model(CLIPS, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    dead = [v.path for v, g in zip(model.trainable_variables, grads)
            if g is None or not np.any(np.asarray(g))]
    assert np.isfinite(float(loss)) and not dead, dead


def test_save_and_load_round_trip(tmp_path):
    model = MicroActionModel(backbone=TINY, coarse_assist=True, arcface="all")
    expected = {k: np.asarray(v) for k, v in model(CLIPS).items()}
    path = videomae_tf.save_weights(model, tmp_path / "ma52.weights.h5")
    loaded = videomae_tf.load_model(path)
    assert isinstance(loaded, MicroActionModel) and loaded.get_config() == model.get_config()
    for key, value in loaded(CLIPS).items():
        np.testing.assert_array_equal(np.asarray(value), expected[key])
    folder = videomae_tf.save_pretrained(model, tmp_path / "folder")
    again = videomae_tf.from_pretrained(folder)
    np.testing.assert_array_equal(np.asarray(again(CLIPS)["logits"]), expected["logits"])
    assert "VideoMAE" in (folder / "README.md").read_text()


def test_backbone_starts_from_a_pretrainer_with_its_norm():
    pretrainer = VideoMAEPretrainer(**TINY, **TINY_DECODER)
    model = MicroActionModel(backbone=TINY)
    copied = model.load_encoder_weights(pretrainer)
    assert "norm.weight" in copied  # the token map is normalised by the pretrained norm
    src = official_weights(pretrainer)
    dst = official_weights(model.backbone)
    for key in copied:
        np.testing.assert_array_equal(np.asarray(dst[key]), np.asarray(src["encoder." + key]))


def test_backbone_starts_from_a_fine_tuned_classifier_fc_norm_as_norm():
    classifier = videomae_tf.VideoMAEClassifier(num_classes=710, **TINY)
    model = MicroActionModel(backbone=TINY)
    copied = model.load_encoder_weights(classifier)
    assert "norm.weight" in copied and not [k for k in copied if k.startswith("head.")]
    np.testing.assert_array_equal(np.asarray(model.backbone.norm.gamma),
                                  np.asarray(classifier.fc_norm.gamma))


def test_submission_and_ensemble(tmp_path):
    from videomae_tf.evaluation.submission import ensemble, write_submission

    path = write_submission(tmp_path / "sub.csv", ["a", "b"], [3, 49])
    assert list(csv.reader(path.open())) == [["id", "coarse", "fine"], ["a", "0", "3"],
                                             ["b", "6", "49"]]

    def dump(name, probs, order):
        records = [{"video_id": i, "filename": f"v{i}.mp4", "pred_score": np.asarray(probs[i]),
                    "gt_label": np.array([i])} for i in order]
        (tmp_path / name).write_bytes(pickle.dumps(records))
        return tmp_path / name

    a = dump("a.pkl", np.array([[0.9, 0.1], [0.6, 0.4]]), [0, 1])
    b = dump("b.pkl", np.array([[0.1, 0.9], [0.0, 1.0]]), [1, 0])  # other row order
    scores, names = ensemble([a, b], [3, 1])
    np.testing.assert_allclose(scores.probs, [[0.7, 0.3], [0.45, 0.55]])
    assert names == ["v0.mp4", "v1.mp4"] and scores.labels.tolist() == [0, 1]
    c = dump("c.pkl", np.array([[0.5, 0.5]]), [0])
    with pytest.raises(ValueError, match="does not score the same videos"):
        ensemble([a, c])
    with pytest.raises(ValueError, match="2 weights for 1 scores files"):
        ensemble([a], [1, 2])
