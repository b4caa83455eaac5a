"""Every layer and model registered under "videomae_tf" through the shared harness
(tests/harness.py): config round trip, .keras and .weights.h5 round trips, a dtype policy,
and compiled against eager. A registered class without a case here fails the test."""

import numpy as np
import pytest

from tests.harness import (Case, instantiate, registered_layer_classes, run_layer_test,
                           run_model_saving_test)
from tests.tiny_configs import TINY, TINY_CLIP, TINY_DECODER, TINY_TOKENS
from videomae_tf.models import (ArcFace, FrameAssistHead, MicroActionModel, VideoMAEBackbone,
                                VideoMAEClassifier, VideoMAEEncoder, VideoMAEPretrainer)
from videomae_tf.models.layers import Attention, Block, DropPath, Mlp, TubeletEmbedding
from videomae_tf.models.pretrainer import VideoMAEDecoder

RNG = np.random.default_rng(0)
ONE_BLOCK = dict(TINY, depth=1)
WIDTH = TINY["embed_dim"]
GRID = (2, 2, 2)
CLIP = RNG.normal(size=(2,) + TINY_CLIP).astype("float32")
TOKENS = RNG.normal(size=(2, TINY_TOKENS, WIDTH)).astype("float32")
VISIBLE = np.array([[0, 2, 5, 7], [1, 3, 4, 6]], "int32")
RECONSTRUCT = np.array([[1, 3, 4, 6], [0, 2, 5, 7]], "int32")
PATCH_VALUES = 3 * TINY["tubelet_size"] * TINY["patch_size"] ** 2

CASES = [
    Case(TubeletEmbedding, dict(embed_dim=WIDTH, patch_size=16, tubelet_size=2), CLIP,
         expected_output_shape=(2, TINY_TOKENS, WIDTH)),
    Case(Attention, dict(dim=WIDTH, num_heads=2, cosine=True), TOKENS,
         expected_output_shape=TOKENS.shape),
    Case(Mlp, dict(dim=WIDTH, hidden_dim=2 * WIDTH), TOKENS, expected_output_shape=TOKENS.shape),
    Case(DropPath, dict(rate=0.1, seed=1), TOKENS, expected_output_shape=TOKENS.shape),
    Case(Block, dict(dim=WIDTH, num_heads=2, drop_path=0.1, init_values=0.1), TOKENS,
         expected_output_shape=TOKENS.shape),
    Case(VideoMAEEncoder, dict(ONE_BLOCK, use_cls_token=True, learned_pos_embed=True,
                               cosine_attention=True), CLIP,
         call_kwargs=dict(visible_index=VISIBLE), expected_output_shape=(2, 4, WIDTH)),
    Case(VideoMAEDecoder, dict(embed_dim=16, depth=1, num_heads=2, num_outputs=24),
         RNG.normal(size=(2, 6, 16)).astype("float32"), call_kwargs=dict(num_reconstruct=3),
         expected_output_shape=(2, 3, 24)),
    Case(VideoMAEClassifier, dict(ONE_BLOCK, num_classes=5, init_scale=1.0), CLIP,
         expected_output_shape=(2, 5)),
    Case(VideoMAEBackbone, dict(ONE_BLOCK, use_mean_pooling=False, init_values=0.1), CLIP,
         expected_output_shape=dict(tokens=(2, TINY_TOKENS, WIDTH), pooled=(2, WIDTH),
                                    token_map=(2, *GRID, WIDTH))),
    Case(VideoMAEPretrainer, dict(ONE_BLOCK, **TINY_DECODER),
         dict(pixel_values=CLIP, visible_index=VISIBLE, reconstruct_index=RECONSTRUCT),
         expected_output_shape=(2, 4, PATCH_VALUES)),
    Case(ArcFace, dict(num_classes=5, margin_on="all"),
         RNG.normal(size=(2, WIDTH)).astype("float32"), expected_output_shape=(2, 5)),
    Case(FrameAssistHead, dict(num_classes=5, reduction=4),
         RNG.normal(size=(2, *GRID, WIDTH)).astype("float32"),
         expected_output_shape=(2, GRID[0], 5)),
    Case(MicroActionModel, dict(backbone=ONE_BLOCK, num_classes=5, num_coarse=3,
                                coarse_assist=True, arcface="all"), CLIP,
         expected_output_shape=dict(logits=(2, 5), frame_logits=(2, GRID[0], 5),
                                    coarse_logits=(2, 3), coarse_frame_logits=(2, GRID[0], 3))),
]
try:  # keras-hub is optional: its classes are cased where it is installed
    from videomae_tf.kerashub import VideoMAEPresetBackbone, VideoMAEVideoClassifier
except ImportError:
    pass
else:
    CASES += [
        Case(VideoMAEPresetBackbone, ONE_BLOCK, CLIP,
             expected_output_shape=dict(tokens=(2, TINY_TOKENS, WIDTH), pooled=(2, WIDTH),
                                        token_map=(2, *GRID, WIDTH))),
        Case(VideoMAEVideoClassifier, dict(backbone=VideoMAEPresetBackbone(**ONE_BLOCK),
                                           num_classes=5), CLIP, expected_output_shape=(2, 5)),
    ]
BY_NAME = {f"videomae_tf>{case.cls.__name__}": case for case in CASES}


def test_every_registered_layer_and_model_has_a_case():
    registered = registered_layer_classes()
    missing = sorted(set(registered) - set(BY_NAME))
    assert not missing, (f"registered without a harness case in {__file__}: {missing}; "
                         "add a Case for each")
    assert all(registered[name] is BY_NAME[name].cls for name in registered)


@pytest.fixture(scope="module")
def built():
    """One instance per case, shared by the two tests of its class."""
    instances = {}

    def get(case):
        if case.cls not in instances:
            instances[case.cls] = instantiate(case)
        return instances[case.cls]

    return get


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.cls.__name__)
def test_layer(case, built):
    run_layer_test(case, built(case))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.cls.__name__)
def test_model_saving(case, built, tmp_path):
    run_model_saving_test(case, tmp_path, built(case))
