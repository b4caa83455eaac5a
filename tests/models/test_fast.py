"""``fast_predict``: the compiled inference call every command uses gives the model's own
outputs (fused attention and XLA included), for classifiers and the MA-52 model."""

import numpy as np
import pytest

from tests.tiny_configs import TINY, TINY_CLIP
from videomae_tf.models import MicroActionModel, VideoMAEClassifier
from videomae_tf.models.fast import fast_predict

CLIPS = np.random.default_rng(3).standard_normal((2, *TINY_CLIP)).astype("float32")


@pytest.mark.parametrize("mode", ["auto", "graph", "xla"])
def test_fast_predict_equals_the_eager_call(mode):
    model = VideoMAEClassifier(num_classes=5, init_scale=1.0, **TINY)
    expected = np.asarray(model(CLIPS, training=False))
    got = np.asarray(fast_predict(model, mode)(CLIPS))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    one = np.asarray(fast_predict(model, mode)(CLIPS[:1]))  # another batch size
    np.testing.assert_allclose(one, expected[:1], atol=1e-5)


def test_fast_predict_keeps_dict_outputs():
    model = MicroActionModel(backbone=TINY, coarse_assist=True)
    expected = model(CLIPS, training=False)
    got = fast_predict(model)(CLIPS)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(expected[key]), atol=1e-5)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="'auto', 'graph' or 'xla'"):
        fast_predict(VideoMAEClassifier(num_classes=2, **TINY), "fast")
