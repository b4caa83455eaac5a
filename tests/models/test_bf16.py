"""bf16 inference (the ``mixed_bfloat16`` policy: bf16 matmuls, float32 softmax and norms)
against fp32 on decoded real videos: the logits stay within a stated bound and the top-1
class does not change. The model is the synthetic recipe's trained one (tests/conftest.py),
so its logits carry real class margins, not a random model's near-ties."""

from pathlib import Path

import keras
import numpy as np
import pytest

from videomae_tf.data.annotations import VideoRecord
from videomae_tf.evaluation import TestViews as Views  # not collected as a test class
from videomae_tf.evaluation import views_dataset
from videomae_tf.models import load_model
from videomae_tf.models.fast import fast_predict

#: |bf16 - fp32| logit bound, relative to the largest |fp32 logit| of the clip: bf16 keeps
#: 8 mantissa bits (relative step 2^-8 = 0.4 %); measured 0.1-0.6 % on these clips.
LOGIT_BOUND = 0.02
REAL_VIDEOS = ("arm_wrestling_k400.mp4", "flipping_pancake.mkv", "mmaction2_test.mp4",
               "rotation_90.mov", "short_32_frames.mp4", "ma52_nodding_0019_02_0078.mp4")


def _centre_clips(paths, clip_shape) -> np.ndarray:
    """One official test view per video (the centre clip, centre crop), decoded by the
    evaluation pipeline that ``evaluate`` and ``predict`` use."""
    records = [VideoRecord(str(path), 0) for path in paths]
    views = Views(num_clips=1, num_crops=1, sampling_rate=2)
    batches = views_dataset(records, clip_shape, views, batch_size=len(records), on_error="raise")
    clips = np.concatenate([batch["video"].numpy() for batch in batches])
    assert len(clips) == len(records)
    return clips


def _logits(weights: str, clips: np.ndarray, policy: str) -> np.ndarray:
    keras.config.set_dtype_policy(policy)
    try:
        model = load_model(weights)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.dtype_policy.name == policy
    return np.asarray(keras.ops.convert_to_numpy(
        keras.ops.cast(fast_predict(model)(clips), "float32")))


@pytest.mark.slow
def test_bfloat16_logits_stay_close_and_keep_top1_on_real_videos(synthetic_run, shared_data):
    config, summary, _ = synthetic_run
    root = Path(config["data"]["root"])
    clip_shape = load_model(summary["weights"]).clip_shape
    paths = [shared_data / "videos" / name for name in REAL_VIDEOS]
    validation = sorted(root.glob("videos/val/*.avi"))  # the trained domain, one per class
    paths += validation[::max(1, len(validation) // 8)]
    clips = _centre_clips(paths, clip_shape)
    fp32 = _logits(summary["weights"], clips, "float32")
    bf16 = _logits(summary["weights"], clips, "mixed_bfloat16")
    error = np.abs(bf16 - fp32).max(axis=1) / np.abs(fp32).max(axis=1)
    print(f"bf16 vs fp32: relative logit error per clip {[round(float(e), 4) for e in error]}")
    assert (error < LOGIT_BOUND).all(), dict(zip(map(str, paths), error))
    changed = [str(p) for p, a, b in zip(paths, fp32.argmax(1), bf16.argmax(1)) if a != b]
    assert not changed, f"top-1 changed in bf16 on {changed}"
