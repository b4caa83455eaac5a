"""``predict --timeline`` engine: windows every stride seconds over a long real video,
each scored exactly as a clip decoded on its own would be."""

import json

import cv2
import numpy as np
import pytest

from tests.tiny_configs import TINY
from videomae_tf import VideoMAEClassifier
from videomae_tf.data import transforms
from videomae_tf.data.decoders import VideoReader
from videomae_tf.evaluation import softmax
from videomae_tf.timeline import predict_timeline, render_timeline, timeline_windows, write_timeline

SOURCES = ("arm_wrestling_k400.mp4", "mmaction2_test.mp4", "flipping_pancake.mkv")
FPS = 30
SIZE = (340, 256)


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, shared_data):
    """About three minutes of real video: the shared clips, one after another, six times."""
    path = tmp_path_factory.mktemp("long") / "long.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    count = 0
    for _ in range(6):
        for name in SOURCES:
            for frame in VideoReader(shared_data / "videos" / name, "pyav").iter_frames():
                writer.write(cv2.cvtColor(cv2.resize(frame, SIZE), cv2.COLOR_RGB2BGR))
                count += 1
    writer.release()
    return path, count


@pytest.fixture(scope="module")
def model():
    return VideoMAEClassifier(num_classes=4, **TINY)


def _window_probs(model, video, indices):
    frames = VideoReader(video, "pyav").get_batch(indices)
    frames = transforms.resize_short_side(frames, model.clip_shape[1])
    clip = transforms.normalize(transforms.center_crop(frames, model.clip_shape[1]))
    return softmax(np.asarray(model(clip[None])))[0]


def test_windows_cover_the_long_video_and_match_single_clips(long_video, model, tmp_path):
    """(Streamed decoding itself is checked for every backend in test_decoders.)"""
    video, num_frames = long_video
    assert num_frames / FPS > 170  # about three minutes
    names = ["a", "b", "c", "d"]
    timeline = predict_timeline(model, video, stride_s=2.0, sampling_rate=4, batch_size=16,
                                class_names=names, backend="pyav", progress=False)
    expected = timeline_windows(num_frames, FPS, 2.0, 4, 4)
    assert len(timeline.probs) == len(expected) == (num_frames - 13) // 60 + 1
    np.testing.assert_array_equal(timeline.starts, [w[0] for w in expected])
    np.testing.assert_array_equal(timeline.ends, [w[-1] for w in expected])
    for k in (0, len(expected) // 2, len(expected) - 1):
        np.testing.assert_allclose(timeline.probs[k], _window_probs(model, video, expected[k]),
                                   atol=1e-5)
    paths = write_timeline(timeline, tmp_path, k=2)
    rows = open(paths["csv"]).read().splitlines()
    assert rows[0] == "window,start_s,end_s,class1,probability1,class2,probability2"
    assert len(rows) == 1 + len(expected)
    summary = json.loads(open(paths["json"]).read())
    assert summary["num_windows"] == len(expected) and summary["windows"][1]["start_s"] == 2.0
    picture = cv2.cvtColor(cv2.imread(paths["png"]), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(picture, render_timeline(timeline))
    assert picture.shape[1] == 960


def test_a_video_shorter_than_one_window_gets_one(model, shared_data):
    timeline = predict_timeline(model, shared_data / "videos" / "rotation_90.mov", stride_s=0.5,
                                progress=False)
    assert len(timeline.probs) == 1 and timeline.starts[0] == 0 and timeline.ends[0] == 2


def test_bad_stride_is_refused(model, shared_data):
    with pytest.raises(ValueError, match="stride"):
        predict_timeline(model, shared_data / "videos" / "short_32_frames.mp4", stride_s=0)
