"""Person crop (SPEC 9): crop_box against hand computations, the boxes files, the detectors,
crop_persons on the shared MA-52 clips and a synthetic clip without a person, and
`videomae-tf crop-persons` end to end with its bad inputs."""

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from videomae_tf.data.decoders import VideoReader
from videomae_tf.data.person_crop import (
    REPORT_COLUMNS,
    REPORT_NAME,
    CropRow,
    HOGPersonDetector,
    OnnxPersonDetector,
    PersonDetector,
    crop_box,
    crop_persons,
    detector_from_spec,
    read_boxes_file,
)

W, H = 1080, 1296  # the MA-52 portrait frame

# The person in each shared MA-52 clip as marked by eye on frames 0, middle and last
# (x1, y1, x2, y2): the crop must keep all of it.
BY_EYE = {
    "ma52_nodding_0019_02_0078": (360, 275, 715, 1200),
    "ma52_shaking_body_0030_01_0002": (395, 190, 725, 1060),
    "ma52_shaking_head_0035_02_0007": (555, 345, 965, 1145),
    "ma52_sitting_straightly_0020_01_0008": (480, 262, 782, 925),
}
EVERY = 5


# ------------------------------------------------------------------------------ crop_box

@pytest.mark.parametrize("boxes, expected", [
    # pad -> (340, 200, 780, 1160): 440 x 960, ratio 0.458; widened to ceil(0.6 * 960) = 576,
    # 68 pixels on each side
    ([[400, 300, 700, 1100]], (272, 200, 848, 1160)),
    # the union of two boxes is the same box
    ([[400, 300, 600, 900], [500, 500, 700, 1100]], (272, 200, 848, 1160)),
    # fractional edges round outwards
    ([[400.5, 300.2, 699.1, 1099.9]], (272, 200, 848, 1160)),
    # an odd extra pixel (441 wide -> 576: 135 more) goes right: 67 left, 68 right
    ([[400, 300, 701, 1100]], (273, 200, 849, 1160)),
    # padding clipped at the top-left corner -> (0, 0, 580, 1060); widened to 636: the 28
    # pixels that do not fit on the left go right
    ([[30, 50, 500, 1000]], (0, 0, 636, 1060)),
    # clipped at the right edge -> (840, 300, 1080, 1260); 240 -> 576: all 336 go left
    ([[900, 400, 1050, 1200]], (504, 300, 1080, 1260)),
    # already wider than 0.6: padded only
    ([[100, 500, 900, 800]], (40, 400, 980, 860)),
    # exactly 0.6 after padding (600 x 1000): unchanged
    ([[400, 300, 860, 1140]], (340, 200, 940, 1200)),
])
def test_crop_box_by_hand(boxes, expected):
    assert crop_box(boxes, W, H) == expected
    assert crop_box(np.asarray(boxes, np.float32), W, H) == expected


def test_crop_box_no_box_narrow_frame_and_options():
    assert crop_box([], W, H) is None
    assert crop_box(np.zeros((0, 4)), W, H) is None
    assert crop_box([[2000, 2000, 2100, 2100]], W, H) is None  # outside the frame
    # a frame narrower than 0.6 x the crop's height: as wide as the frame, no wider
    assert crop_box([[100, 100, 200, 900]], 300, 1000) == (0, 0, 300, 960)
    assert crop_box([[10, 20, 30, 40]], 100, 100, pad=(0, 0, 0, 0), min_ratio=0) == (10, 20, 30, 40)
    assert crop_box([[10, 20, 30, 40]], 100, 100, pad=(1, 2, 3, 4), min_ratio=0) == (9, 18, 33, 44)


@pytest.mark.parametrize("boxes, size, expected", [
    # 441 x 961 -> height 962 (one more below), widened to ceil(577.2) = 578 (68 + 69)
    ([[400, 300, 701, 1101]], (W, H), (272, 200, 850, 1162)),
    # height 1095 ends at the frame's bottom: one more on top -> 1096, widened to 658
    ([[400, 301, 700, 1296]], (W, H), (231, 200, 889, 1296)),
    # an odd frame cropped whole: one pixel less (nowhere to grow)
    ([[0, 0, 301, 1001]], (301, 1001), (0, 0, 300, 1000)),
])
def test_crop_box_even_sizes_for_the_encoder(boxes, size, expected):
    box = crop_box(boxes, *size, even=True)
    assert box == expected
    assert (box[2] - box[0]) % 2 == 0 and (box[3] - box[1]) % 2 == 0


def test_crop_box_rules_hold_on_random_boxes():
    rng = np.random.default_rng(0)
    for _ in range(300):
        fw, fh = rng.integers(200, 2000, size=2)
        xy = rng.uniform(0, [fw, fh], size=(rng.integers(1, 5), 2))
        wh = rng.uniform(1, [fw / 2, fh / 2], size=xy.shape)
        boxes = np.concatenate([xy, np.minimum(xy + wh, [fw, fh])], axis=1)
        for even in (False, True):
            x1, y1, x2, y2 = crop_box(boxes, fw, fh, even=even)
            assert 0 <= x1 < x2 <= fw and 0 <= y1 < y2 <= fh
            # even sizes of a crop as wide (high) as an odd frame lose its last column (row)
            dx = 1 if even and (x1, x2) == (0, fw - 1) else 0
            dy = 1 if even and (y1, y2) == (0, fh - 1) else 0
            assert x1 <= boxes[:, 0].min() and y1 <= boxes[:, 1].min()
            assert x2 + dx >= boxes[:, 2].max() and y2 + dy >= boxes[:, 3].max()
            if x2 - x1 < fw - 1:  # room to widen: the ratio rule holds
                assert (x2 - x1) / (y2 - y1) >= 0.6 - 1e-9
            if even:
                assert (x2 - x1) % 2 == 0 and (y2 - y1) % 2 == 0


# --------------------------------------------------------------------------- boxes files

EXPECTED = {"a.mp4": [[0, 10, 20, 110, 220], [5, 12, 22, 112, 222]], "b": [[3, 1, 2, 3, 4]]}


def test_read_boxes_file_csv_and_both_json_forms(tmp_path):
    csv_file = tmp_path / "boxes.csv"
    csv_file.write_text("frame,video,score,x1,y1,x2,y2\n0,a.mp4,0.9,10,20,110,220\n\n"
                        "5,a.mp4,0.8,12,22,112,222\n3,b,1,1,2,3,4\n")
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"video": v, "frame": r[0], "x1": r[1], "y1": r[2],
                                   "x2": r[3], "y2": r[4]}
                                  for v, rows in EXPECTED.items() for r in rows]))
    by_video = tmp_path / "by_video.json"
    by_video.write_text(json.dumps(EXPECTED))
    for path in (csv_file, listed, by_video):
        got = read_boxes_file(path)
        assert sorted(got) == sorted(EXPECTED)
        for video, rows in EXPECTED.items():
            np.testing.assert_array_equal(got[video], np.asarray(rows, np.float64))


@pytest.mark.parametrize("name, text, message", [
    ("b.csv", "video,frame,x1,y1,x2\na,0,1,2,3\n",
     "b.csv, line 1: the header must name the columns video,frame,x1,y1,x2,y2 (missing: y2)"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,0,1,2,3,4\na,1,abc,2,3,4\n",
     "b.csv, line 3, field 'x1': 'abc' is not a number"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,1.5,1,2,3,4\n",
     "b.csv, line 2, field 'frame': '1.5' is not a frame index"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,-1,1,2,3,4\n",
     "b.csv, line 2, field 'frame': '-1' is not a frame index"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,0,5,2,5,4\n",
     "b.csv, line 2, field 'x2': 5 is not greater than x1 5"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,0,1,9,3,4\n",
     "b.csv, line 2, field 'y2': 4 is not greater than y1 9"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,0,1,nan,3,4\n",
     "b.csv, line 2, field 'y1': 'nan' is not a finite number"),
    ("b.csv", "video,frame,x1,y1,x2,y2\na,0,1,2\n", "b.csv, line 2: 4 fields, the header has 6"),
    ("b.csv", "video,frame,x1,y1,x2,y2\n", "b.csv: holds no boxes"),
    ("b.csv", "", "b.csv: holds no boxes"),
    ("b.json", '[{"video": "a", "frame": 0,\n "x1": 1}', "b.json, line 2: not valid JSON"),
    ("b.json", '[{"video": "a", "frame": 0, "x1": 1, "y1": 2, "x2": 3}]',
     "b.json, entry 1, field 'y2': missing"),
    ("b.json", '[{"video": "", "frame": 0, "x1": 1, "y1": 2, "x2": 3, "y2": 4}]',
     "b.json, entry 1, field 'video': expected a non-empty string"),
    ("b.json", '[{"video": "a", "frame": 0, "x1": "x", "y1": 2, "x2": 3, "y2": 4}]',
     "b.json, entry 1, field 'x1': 'x' is not a number"),
    ("b.json", '{"a": [[0, 1, 2, 3, 4], [1, 1, 2, 3]]}',
     "b.json, video 'a', box 2: expected [frame, x1, y1, x2, y2], got [1, 1, 2, 3]"),
    ("b.json", '{"a": [[0, 1, 2, 3, true]]}',
     "b.json, video 'a', box 1, field 'y2': True is not a number"),
    ("b.json", '"boxes"', "b.json: expected a JSON list of objects or an object"),
    ("b.json", "[]", "b.json: holds no boxes"),
])
def test_read_boxes_file_bad_content_is_one_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        read_boxes_file(path)
    assert str(info.value).startswith(f"{tmp_path / message}")  # names the file first
    assert "\n" not in str(info.value)


def test_read_boxes_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="boxes file not found"):
        read_boxes_file(tmp_path / "none.csv")


# ------------------------------------------------------------------------------ detectors

def test_detector_specs_and_protocol():
    hog = detector_from_spec("hog")
    assert isinstance(hog, HOGPersonDetector) and isinstance(hog, PersonDetector)
    assert hog.name == "hog:daimler" and detector_from_spec("hog:inria").name == "hog:inria"
    assert detector_from_spec("hog", height=480).height == 480
    for bad in ("yolo", "hog:nope", "onnx:", "onnx"):
        with pytest.raises(ValueError, match="unknown detector"):
            detector_from_spec(bad)


def test_hog_detector_finds_nobody_in_flat_and_noise_frames():
    detector = HOGPersonDetector()
    grey = np.full((H, W, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    for frame in (grey, noise):
        boxes = detector.detect(frame)
        assert boxes.shape == (0, 4) and boxes.dtype == np.float64
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(grey.astype(np.float32))


@pytest.mark.parametrize("model", ["daimler", "inria"])
def test_hog_detector_on_frames_smaller_than_its_window(model):
    detector = HOGPersonDetector(model)  # OpenCV 5 crashes (SIGSEGV) on some of these
    for shape in ((20, 20), (30, 30), (50, 50), (50, 100), (90, 90), (100, 40)):
        assert detector.detect(np.full((*shape, 3), 100, np.uint8)).shape == (0, 4)


def test_without_contrib_opencv_hog_says_what_to_install(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "HOGDescriptor")
    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
        HOGPersonDetector()


def _onnx_model(path: Path, output: np.ndarray, size: int = 64) -> Path:
    """A tiny ONNX "detector" whose output is ``output`` whatever the image."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
             helper.make_node("Add", ["detections", "nothing"], ["output0"])]
    graph = helper.make_graph(
        nodes, "detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[numpy_helper.from_array(output.astype(np.float32), "detections"),
                     numpy_helper.from_array(np.zeros(1, np.float32), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def _yolov5_rows() -> np.ndarray:
    """(1, 10, 7): cx, cy, w, h, objectness, person, other; in 64-pixel input space."""
    rows = np.zeros((1, 10, 7), np.float32)
    rows[0, 0] = [32, 32, 20, 40, 0.9, 0.8, 0.1]  # the person
    rows[0, 1] = [33, 32, 20, 40, 0.9, 0.7, 0.1]  # a duplicate NMS removes
    rows[0, 2] = [10, 10, 5, 5, 0.9, 0.1, 0.9]    # another class
    return rows


def test_onnx_detector_reads_yolov5_and_yolov8_outputs(tmp_path):
    v5 = _onnx_model(tmp_path / "v5.onnx", _yolov5_rows())
    v8 = _onnx_model(tmp_path / "v8.onnx", _yolov5_rows()[:, :, [0, 1, 2, 3, 5, 6]]
                     .transpose(0, 2, 1))
    xyxy = np.zeros((1, 3, 6), np.float32)
    xyxy[0, 0] = [22, 12, 42, 52, 0.9, 0]
    xyxy[0, 1] = [0, 0, 8, 8, 0.9, 3]
    end2end = _onnx_model(tmp_path / "end2end.onnx", xyxy)
    frame = np.zeros((128, 64, 3), np.uint8)  # letterboxed: scale 0.5, 16 pixels left and right
    for path, layout in ((v5, "auto"), (v8, "auto"), (v5, "yolov5"), (end2end, "xyxy")):
        detector = OnnxPersonDetector(path, input_size=64, layout=layout, max_persons=3)
        assert detector.name == f"onnx:{path.name}"
        np.testing.assert_allclose(detector.detect(frame), [[12, 24, 52, 104]], atol=1e-4)


def test_onnx_detector_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="none.onnx"):
        OnnxPersonDetector(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"cannot load the ONNX person detector .*bad\.onnx"):
        OnnxPersonDetector(bad)
    odd = _onnx_model(tmp_path / "odd.onnx", np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"odd\.onnx has shape \(1, 3\), which is not understood"):
        OnnxPersonDetector(odd, input_size=64).detect(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="unknown ONNX output layout"):
        OnnxPersonDetector(odd, layout="ssd")


# ------------------------------------------------------------------- clips on disk (shared)

def _write_video(path: Path, frames: np.ndarray, fps: float = 25.0) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def nobody(tmp_path_factory) -> Path:
    """A 12-frame 320x240 clip of grey and noise: no person in it."""
    rng = np.random.default_rng(1)
    frames = np.full((12, 240, 320, 3), 128, np.uint8)
    frames[6:] = rng.integers(0, 256, frames[6:].shape, dtype=np.uint8)
    return _write_video(tmp_path_factory.mktemp("nobody") / "nobody.mp4", frames)


@pytest.fixture(scope="module")
def ma52(shared_data) -> list[Path]:
    clips = sorted((shared_data / "videos").glob("ma52_*.mp4"))
    if len(clips) < 4:
        pytest.skip(f"the four MA-52 clips are not in {shared_data / 'videos'}")
    return clips


@pytest.fixture(scope="module")
def detected(ma52) -> dict[str, tuple[int, list[np.ndarray]]]:
    """HOG (the default detector) on frames 0, 5, 10, ... of each MA-52 clip, as
    crop_persons(every=5) runs it: {stem: (frame count, boxes per frame looked at)}."""
    hog = HOGPersonDetector()
    found = {}
    for clip in ma52:
        with VideoReader(clip) as reader:
            frames = reader.get_batch(range(0, reader.num_frames, EVERY))
            found[clip.stem] = (reader.num_frames, [hog.detect(f) for f in frames])
    return found


def test_hog_finds_the_person_in_the_ma52_clips(detected):
    for stem, (_, boxes) in detected.items():
        with_person = sum(len(b) > 0 for b in boxes)
        assert with_person >= 0.8 * len(boxes), stem  # all of them today
        for b in boxes:
            if len(b):  # one box per frame, a seated person's height (HOG's smallest: 40%)
                assert b.shape == (1, 4) and b[0, 3] - b[0, 1] >= 0.35 * H, stem


def test_ma52_crop_contains_every_box_and_the_person(detected):
    for stem, (_, boxes) in detected.items():
        all_boxes = np.concatenate(boxes)
        for even in (False, True):
            x1, y1, x2, y2 = crop_box(all_boxes, W, H, even=even)
            assert x1 <= all_boxes[:, 0].min() and y1 <= all_boxes[:, 1].min()
            assert x2 >= all_boxes[:, 2].max() and y2 >= all_boxes[:, 3].max()
            assert (x2 - x1) / (y2 - y1) >= 0.6
            assert x2 - x1 < W and (x2 - x1) * (y2 - y1) < 0.8 * W * H  # smaller than the frame
            px1, py1, px2, py2 = BY_EYE[stem]  # the person as marked by eye, 20 px slack
            assert x1 <= px1 + 20 and y1 <= py1 + 20 and x2 >= px2 - 20 and y2 >= py2 - 20, stem


# --------------------------------------------------------------- clips on disk (synthetic)

def test_no_person_is_written_uncropped_and_reported(nobody, tmp_path):
    rows = crop_persons([nobody], tmp_path / "out", progress=False)
    (row,) = rows
    assert not row.person_found and row.frames_with_person == 0 and row.error == ""
    assert (row.x1, row.y1, row.x2, row.y2) == (0, 0, 320, 240)  # the whole frame
    assert (row.frame_width, row.frame_height, row.frames, row.frames_checked) == (320, 240, 12, 12)
    with VideoReader(row.output) as written:
        assert written.num_frames == 12 and written.get_batch([0]).shape == (1, 240, 320, 3)
    with (tmp_path / "out" / REPORT_NAME).open() as f:
        table = list(csv.reader(f))
    assert table[0] == list(REPORT_COLUMNS) and len(table) == 2
    assert dict(zip(table[0], table[1]))["person_found"] == "false"


def test_odd_sized_frame_folder_is_written_at_even_size(tmp_path):
    import cv2

    folder = tmp_path / "odd_frames"  # "rawframes": a folder of images is a clip too
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"img_{i:05d}.png"), np.full((241, 321, 3), 90, np.uint8))
    (row,) = crop_persons([folder], tmp_path / "out", progress=False)
    assert not row.person_found and row.output == str(tmp_path / "out" / "odd_frames.mp4")
    assert (row.frame_width, row.frame_height) == (321, 241)
    assert (row.x1, row.y1, row.x2, row.y2) == (0, 0, 320, 240)  # even, as mp4v needs
    with VideoReader(row.output) as written:
        assert written.num_frames == 3 and written.fps == 30  # the source has no rate
        assert written.get_batch([2]).shape == (1, 240, 320, 3)


def test_boxes_crop_and_per_clip_errors(nobody, tmp_path, shared_data):
    other = _write_video(tmp_path / "other.mp4", np.zeros((4, 120, 160, 3), np.uint8))
    boxes = {"nobody": np.array([[0, 100, 60, 140, 180], [3, 110, 50, 150, 170]]),
             str(other): np.array([[9, 0, 0, 10, 10]])}  # frame 9 of a 4-frame clip
    corrupted = shared_data / "videos" / "corrupted.mp4"
    rows = crop_persons([nobody, other, corrupted], tmp_path / "out", boxes=boxes,
                        progress=False)
    ok, wrong_frame, broken = rows
    # union (100, 50, 150, 180) -> padded (40, 0, 230, 240) -> 190 x 240 (ratio 0.79)
    assert (ok.x1, ok.y1, ok.x2, ok.y2) == (40, 0, 230, 240) and ok.person_found
    assert ok.frames_with_person == 2 and ok.detector == "boxes"
    assert VideoReader(ok.output).get_batch([0]).shape == (1, 240, 190, 3)
    assert wrong_frame.error == "the boxes give frame 9 but the clip has 4 frames"
    assert broken.error.startswith("cannot decode video") and broken.output == ""
    assert not (tmp_path / "out" / "other.mp4").exists()
    assert not (tmp_path / "out" / "corrupted.mp4").exists()
    assert not list((tmp_path / "out").glob(".partial.*"))
    report = list(csv.DictReader((tmp_path / "out" / REPORT_NAME).open()))
    assert [r["error"] != "" for r in report] == [False, True, True]


def test_onnx_detector_crops_a_clip(nobody, tmp_path):
    detector = OnnxPersonDetector(_onnx_model(tmp_path / "v5.onnx", _yolov5_rows()),
                                  input_size=64)
    (row,) = crop_persons([nobody], tmp_path / "out", detector=detector, every=4,
                          progress=False)
    assert row.person_found and row.frames_checked == 3 == row.frames_with_person
    assert row.detector == "onnx:v5.onnx"
    # the constant box (22, 12)-(42, 52) of the 64-pixel input: the 320x240 frame is
    # letterboxed at scale 0.2 to 64x48, 8 rows of padding above -> (110, 20)-(210, 220);
    # padded (50, 0)-(290, 240)
    box = detector.detect(np.zeros((240, 320, 3), np.uint8))
    np.testing.assert_allclose(box, [[110, 20, 210, 220]], atol=1e-3)
    assert (row.x1, row.y1, row.x2, row.y2) == (50, 0, 290, 240)


def test_refusals_before_any_work(nobody, tmp_path):
    twin = tmp_path / "b" / "nobody.avi"
    twin.parent.mkdir()
    twin.write_bytes(nobody.read_bytes())
    with pytest.raises(ValueError, match=re.escape(f"{nobody} and {twin} would both be written")):
        crop_persons([nobody, twin], tmp_path / "out", progress=False)
    mp4 = tmp_path / "b" / "clip.mp4"
    mp4.write_bytes(nobody.read_bytes())
    with pytest.raises(ValueError, match="would replace its input"):
        crop_persons([mp4], tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="the boxes name none of the 1 input videos"):
        crop_persons([nobody], tmp_path / "out", boxes={"x.mp4": np.zeros((1, 5))})
    with pytest.raises(ValueError, match="not both"):
        crop_persons([nobody], tmp_path / "out", detector=HOGPersonDetector(), boxes={})
    with pytest.raises(ValueError, match="every must be at least 1"):
        crop_persons([nobody], tmp_path / "out", every=0)
    assert not (tmp_path / "out").exists()
    assert mp4.read_bytes() == nobody.read_bytes()


def test_full_disk_keeps_the_previous_output_and_says_so(nobody, tmp_path):
    """A file-size limit (RLIMIT_FSIZE: writes past it fail as on a full disk): OpenCV's
    writer does not notice, so the cut MP4 must be caught before the rename."""
    import resource
    import signal
    import subprocess
    import sys

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, do not kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    out = tmp_path / "out"
    out.mkdir()
    (out / "nobody.mp4").write_bytes(b"previous")
    code = ("from videomae_tf.data.person_crop import crop_persons\n"
            "try:\n"
            f"    crop_persons([{str(nobody)!r}], 'out', progress=False, overwrite=True)\n"
            "except OSError as e:\n"
            "    print('refused:', e)\n")
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, preexec_fn=limited, check=False,
                          env=dict(os.environ, PYTHONPATH=str(repo)))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused: the video written to out/nobody.mp4 is "
                                  "incomplete"), done.stdout
    assert (out / "nobody.mp4").read_bytes() == b"previous"
    assert sorted(p.name for p in out.iterdir()) == ["nobody.mp4"]  # no report, no .partial


def test_report_row_cells():
    row = CropRow("v.mp4", "o.mp4", 1, 2, 3, 4, 10, 20, 5, 5, 2, True, "hog:daimler", "")
    assert dict(zip(REPORT_COLUMNS, row.csv_row())) == {
        "video": "v.mp4", "output": "o.mp4", "x1": "1", "y1": "2", "x2": "3", "y2": "4",
        "frame_width": "10", "frame_height": "20", "frames": "5", "frames_checked": "5",
        "frames_with_person": "2", "person_found": "true", "detector": "hog:daimler",
        "error": ""}
    assert CropRow("v.mp4", error="x").csv_row()[2] == ""


# ------------------------------------------------------------------------------------ CLI

def test_cli_crops_a_folder_end_to_end(ma52, detected, nobody, tmp_path, capsys):
    from videomae_tf.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    clips = [ma52[0], ma52[2]]  # nodding and shaking head, the two shortest
    for clip in (*clips, nobody):
        os.symlink(clip, folder / clip.name)
    out = folder / "cropped"
    out.mkdir()
    (out / "mine.mp4").write_bytes(b"someone else's file")  # inside --output: not an input
    assert main(["crop-persons", str(folder), "--output", str(out), "--every", str(EVERY),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [(f"3 clips: 2 cropped to a person, 1 without a person (written "
                        f"uncropped), 0 failed; report: {out / REPORT_NAME}")]
    report = list(csv.DictReader((out / REPORT_NAME).open()))
    assert [Path(r["video"]).name for r in report] == sorted(c.name for c in (*clips, nobody))
    assert [r["person_found"] for r in report] == ["true", "true", "false"]
    for r, clip in zip(report, clips):  # the same boxes as HOG on every 5th frame
        frames, boxes = detected[clip.stem]
        box = tuple(int(r[k]) for k in ("x1", "y1", "x2", "y2"))
        assert box == crop_box(np.concatenate(boxes), W, H, even=True)
        assert (int(r["frames"]), int(r["frames_checked"])) == (frames, len(boxes))
        assert int(r["frames_with_person"]) == sum(len(b) > 0 for b in boxes)
        assert (r["frame_width"], r["frame_height"], r["error"]) == (str(W), str(H), "")
        assert r["detector"] == "hog:daimler" and r["output"] == str(out / f"{clip.stem}.mp4")
        with VideoReader(r["output"]) as written, VideoReader(clip) as source:
            assert written.num_frames == source.num_frames
            assert written.fps == pytest.approx(source.fps, rel=1e-3)
            last = written.get_batch([0, written.num_frames - 1])
            assert last.shape[1:] == (box[3] - box[1], box[2] - box[0], 3)
            original = source.get_batch([0])[0, box[1]:box[3], box[0]:box[2]]
        assert np.abs(last[0].astype(int) - original).mean() < 12  # the same picture (lossy)
    assert (out / "mine.mp4").read_bytes() == b"someone else's file"
    assert not list(out.glob(".partial.*"))


def test_cli_with_a_boxes_file(nobody, tmp_path, capsys):
    from videomae_tf.cli import main

    boxes = tmp_path / "boxes.csv"
    boxes.write_text("video,frame,x1,y1,x2,y2\nnobody.mp4,0,100,50,150,180\n")
    out = tmp_path / "out"
    assert main(["crop-persons", str(nobody), "--output", str(out), "--boxes", str(boxes),
                 "--no-progress"]) == 0
    assert "1 clips: 1 cropped to a person" in capsys.readouterr().out
    (row,) = csv.DictReader((out / REPORT_NAME).open())
    assert (row["x1"], row["y1"], row["x2"], row["y2"]) == ("40", "0", "230", "240")
    assert row["detector"] == "boxes:boxes.csv"


def test_cli_all_clips_failing_exits_1(shared_data, tmp_path, capsys):
    from videomae_tf.cli import main

    corrupted = shared_data / "videos" / "corrupted.mp4"
    assert main(["crop-persons", str(corrupted), "--output", str(tmp_path / "o"),
                 "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "1 clips: 0 cropped to a person, 0 without a person (written uncropped), 1 failed" \
        in captured.out
    assert f"not cropped: {corrupted}: cannot decode video" in captured.err


def test_cli_bad_inputs_exit_2_with_one_line(nobody, tmp_path, capsys):
    from videomae_tf.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    bad_boxes = tmp_path / "bad.csv"
    bad_boxes.write_text("video,frame,x1,y1,x2,y2\nnobody.mp4,0,1,2,x,4\n")
    other_boxes = tmp_path / "other.csv"
    other_boxes.write_text("video,frame,x1,y1,x2,y2\nelse.mp4,0,1,2,3,4\n")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    twin = tmp_path / "twin" / "nobody.mkv"
    twin.parent.mkdir()
    twin.write_bytes(nobody.read_bytes())
    empty_list = tmp_path / "list.txt"
    empty_list.write_text("\n")
    missing_list = tmp_path / "missing.txt"
    missing_list.write_text("gone.mp4 0\n")
    out = str(tmp_path / "out")
    cases = [
        ([str(tmp_path / "none.mp4")], "video, folder or list not found"),
        ([str(empty)], "holds no videos"),
        ([str(empty_list)], "lists no videos"),
        ([str(missing_list)], "none of the 1 videos listed in"),
        ([str(nobody), str(empty_list)], "give one annotation list"),
        ([str(nobody), "--every", "0"], "--every must be at least 1, got 0"),
        ([str(nobody), "--detect-height", "90"],
         "the HOG detection height must be at least the daimler window's 96 pixels, got 90"),
        ([str(nobody), "--detector", "yolo"], "unknown detector 'yolo'"),
        ([str(nobody), "--detector", "onnx:" + str(tmp_path / "x.onnx")],
         "ONNX person detector not found"),
        ([str(nobody), "--detector", "onnx:" + str(a_file)],
         "cannot load the ONNX person detector"),
        ([str(nobody), "--boxes", str(tmp_path / "no.csv")], "boxes file not found"),
        ([str(nobody), "--boxes", str(bad_boxes)], "bad.csv, line 2, field 'x2': 'x'"),
        ([str(nobody), "--boxes", str(other_boxes)], "the boxes name none of the 1 input"),
        ([str(nobody), "--boxes", str(bad_boxes), "--detector", "hog"],
         "give --boxes or --detector, not both"),
        ([str(nobody), str(twin)], "would both be written to"),
    ]
    for argv, message in cases:
        assert main(["crop-persons", *argv, "--output", out, "--no-progress"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
        assert err[0].startswith("videomae-tf crop-persons: error: ")
    assert main(["crop-persons", str(nobody), "--output", str(a_file)]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
