"""Person crop for micro-action clips (docs/numerics.md#ma52, the MA-52 / MAC 2024 winning recipe).

The crop of a clip is the union of its person boxes over all frames, padded (left 60, top
100, right 80, bottom 60 pixels, clipped to the frame) and widened symmetrically until
width / height >= 0.6: the seated subject fills the model's square input instead of the
white wall around them (reported: val F1_mean 71.87 without the crop, 72.33 with it).

    from videomae_tf.data.person_crop import crop_persons
    rows = crop_persons(["clip.mp4"], "cropped/")    # cropped/clip.mp4 + crop_report.csv

Person boxes come from a :class:`PersonDetector` run on every ``every``-th frame, or from
a boxes file the user made with any detector (:func:`read_boxes_file`). Two detectors are
built in:

* :class:`HOGPersonDetector` (the default): OpenCV's HOG + linear SVM people detectors,
  no download. OpenCV 5 keeps HOG in the contrib wheel (``opencv-contrib-python-headless``).
* :class:`OnnxPersonDetector`: a detector you provide as an ONNX file (YOLOv5 / YOLOv8
  exports, or boxes + scores), run through ``cv2.dnn``.

Every output (the cropped clips and ``crop_report.csv``) is written under a temporary name
and renamed when complete; a clip where no person is found is written uncropped and
reported ``person_found=false``, never dropped; a clip that cannot be decoded is reported
with its error and the others go on.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from pathlib import Path
from typing import ClassVar, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from videomae_tf.errors import InputError

__all__ = [
    "MIN_RATIO",
    "PAD",
    "REPORT_COLUMNS",
    "REPORT_NAME",
    "CropRow",
    "HOGPersonDetector",
    "OnnxPersonDetector",
    "PersonDetector",
    "crop_box",
    "crop_persons",
    "detector_from_spec",
    "read_boxes_file",
]

#: Padding added around the union box: (left, top, right, bottom) pixels (docs/numerics.md#ma52).
PAD = (60, 100, 80, 60)
#: The crop is widened until width / height reaches this (docs/numerics.md#ma52).
MIN_RATIO = 0.6
#: The report ``crop_persons`` writes into its output folder.
REPORT_NAME = "crop_report.csv"
#: Its columns, in order.
REPORT_COLUMNS = ("video", "output", "x1", "y1", "x2", "y2", "frame_width", "frame_height",
                  "frames", "frames_checked", "frames_with_person", "person_found", "detector",
                  "error")

_CONTRIB_HINT = ("OpenCV's HOG people detector is not in this OpenCV build (OpenCV 5 moved "
                 "it to the contrib package): pip uninstall opencv-python-headless && pip "
                 "install opencv-contrib-python-headless")


# ----------------------------------------------------------------------------- detectors

@runtime_checkable
class PersonDetector(Protocol):
    """Anything that finds people in one frame.

    ``detect(frame_rgb)`` takes a uint8 ``(H, W, 3)`` RGB frame and returns float boxes
    ``(K, 4)`` as ``x1, y1, x2, y2`` in that frame's pixels, best first (``K`` may be 0).
    ``name`` says which detector it is in the crop report."""

    name: str

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        ...


def _no_boxes() -> np.ndarray:
    return np.zeros((0, 4), np.float64)


def _check_frame(frame_rgb: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InputError(f"a frame must be uint8 (H, W, 3) RGB, got {frame.dtype} "
                         f"{tuple(frame.shape)}")
    return frame


class HOGPersonDetector:
    """OpenCV's HOG people detector (histograms of oriented gradients + a linear SVM).

    Args:
        model: ``"daimler"`` (default: the 48x96-pixel window trained on the Daimler
            pedestrian set) or ``"inria"`` (``getDefaultPeopleDetector``, 64x128). Both are
            pedestrian detectors; on the four MA-52 clips of the shared data (seated
            people) the Daimler one finds the person in every frame at ``height=240``,
            the INRIA one in only a few frames of two of them, and at larger sizes it
            fires on the legs alone (a crop from those would cut off the head).
        height: frames taller than this are downscaled to it before detecting (boxes are
            scaled back). It sets the speed (at 240: 15-30 ms per 1080x1296 frame on one
            CPU core, resizing included) and the smallest person found: the window's
            height over ``height`` of the frame (96 / 240 = 40 % for Daimler). Raise it
            for small, distant people.
        max_persons: keep this many boxes per frame, best-scoring first. 1 suits MA-52
            (one subject per clip): a second box is most often a false hit that would
            enlarge the union over the frames.
        min_score: drop boxes whose SVM score is below this.
        scale: the step between window sizes of the image pyramid.

    INRIA windows have a margin around the person; their boxes are shrunk as OpenCV's
    ``peopledetect`` sample does (10 % off each side, 7 % off the top, 13 % off the
    bottom). Daimler boxes are kept as they are (its window fits the person closely).

    Raises:
        ImportError: the installed OpenCV has no HOG (a plain OpenCV 5 wheel).
    """

    #: model -> (window (w, h), the OpenCV function giving its SVM, box shrink or None)
    _MODELS: ClassVar[dict[str, tuple]] = {
        "daimler": ((48, 96), "HOGDescriptor_getDaimlerPeopleDetector", None),
        "inria": ((64, 128), "HOGDescriptor_getDefaultPeopleDetector", (0.1, 0.07, 0.8, 0.8)),
    }

    def __init__(self, model: str = "daimler", height: int = 240, max_persons: int = 1,
                 min_score: float = 0.0, scale: float = 1.05):
        import cv2

        if model not in self._MODELS:
            raise InputError(f"unknown HOG model '{model}'; expected one of "
                             f"{sorted(self._MODELS)}")
        window, svm_getter, self._shrink = self._MODELS[model]
        if height < window[1]:
            raise InputError(f"the HOG detection height must be at least the {model} "
                             f"window's {window[1]} pixels, got {height}")
        if max_persons < 1 or not scale > 1.0:
            raise InputError(f"HOG needs max_persons >= 1 and scale > 1, got "
                             f"max_persons={max_persons}, scale={scale}")
        if not hasattr(cv2, "HOGDescriptor") or not hasattr(cv2, svm_getter):
            raise ImportError(_CONTRIB_HINT)
        self._cv2 = cv2
        self._window = window
        self._hog = cv2.HOGDescriptor(window, (16, 16), (8, 8), (8, 8), 9)
        self._hog.setSVMDetector(getattr(cv2, svm_getter)())
        self.model, self.height, self.max_persons = model, int(height), int(max_persons)
        self.min_score, self.scale = float(min_score), float(scale)
        self.name = f"hog:{model}"

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """The best ``max_persons`` boxes ``(K, 4)`` in ``frame_rgb``'s pixels."""
        boxes, _ = self.detect_scored(frame_rgb)
        return boxes

    def detect_scored(self, frame_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(boxes (K, 4), SVM scores (K,))``, best first."""
        cv2 = self._cv2
        frame = _check_frame(frame_rgb)
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        factor = min(1.0, self.height / h)  # never upscale
        if factor < 1.0:
            gray = cv2.resize(gray, (max(1, round(w * factor)), self.height),
                              interpolation=cv2.INTER_AREA)
        if gray.shape[1] < self._window[0] or gray.shape[0] < self._window[1]:
            # no window fits (and OpenCV 5's detectMultiScale crashes on such images)
            return _no_boxes(), np.zeros(0)
        rects, weights = self._hog.detectMultiScale(gray, hitThreshold=0.0, winStride=(8, 8),
                                                    padding=(16, 16), scale=self.scale)
        if len(rects) == 0:
            return _no_boxes(), np.zeros(0)
        rects = np.asarray(rects, np.float64).reshape(-1, 4)
        scores = np.asarray(weights, np.float64).reshape(-1)
        keep = scores >= self.min_score
        rects, scores = rects[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")[: self.max_persons]
        rects, scores = rects[order], scores[order]
        x, y, bw, bh = rects.T
        if self._shrink is not None:
            left, top, width, height = self._shrink
            x, y, bw, bh = x + left * bw, y + top * bh, width * bw, height * bh
        boxes = np.stack([x, y, x + bw, y + bh], axis=1) / factor
        return _clip_boxes(boxes, w, h), scores


class OnnxPersonDetector:
    """A person detector you provide as an ONNX file, run through ``cv2.dnn``.

    The frame is letterboxed (aspect kept, centred, grey 114 padding) to a square of
    ``input_size`` pixels, scaled to 0-1, RGB, NCHW: what YOLO exports expect. The first
    output, after dropping a leading batch dimension of 1, must be one of (``layout``):

    * ``"yolov5"``: ``(N, 5 + C)`` rows ``cx, cy, w, h, objectness, C class scores``;
      score = objectness x the ``person_class`` score.
    * ``"yolov8"``: ``(4 + C, N)`` (YOLOv8 / YOLO11 exports) -- ``cx, cy, w, h, C class
      scores`` per column; score = the ``person_class`` score.
    * ``"xyxy"``: ``(N, 5)`` or ``(N, 6)`` rows ``x1, y1, x2, y2, score[, class]``
      (exports with NMS built in); with a class column only ``person_class`` rows count.
    * ``"auto"`` (default): ``"yolov8"`` when the output has fewer rows than columns,
      else ``"yolov5"``. It cannot tell ``"xyxy"`` from a one-class YOLOv5: name it.

    Coordinates are in input pixels, or normalised 0-1 (told apart by their size: all
    <= 2). Boxes scoring under ``score_threshold`` are dropped, the rest go through
    non-maximum suppression and the best ``max_persons`` are kept.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be loaded by ``cv2.dnn``, or its output is not one of
            the layouts above (the message names the file and the output's shape).
    """

    LAYOUTS = ("auto", "yolov5", "yolov8", "xyxy")

    def __init__(self, model_path: str | os.PathLike, input_size: int = 640,
                 layout: str = "auto", person_class: int = 0, score_threshold: float = 0.4,
                 nms_threshold: float = 0.45, max_persons: int = 1):
        import cv2

        self.path = Path(model_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX person detector not found: {self.path}")
        if layout not in self.LAYOUTS:
            raise InputError(f"unknown ONNX output layout '{layout}'; expected one of "
                             f"{self.LAYOUTS}")
        if input_size < 32 or max_persons < 1 or person_class < 0:
            raise InputError(f"ONNX detector needs input_size >= 32, max_persons >= 1 and "
                             f"person_class >= 0, got {input_size}, {max_persons}, "
                             f"{person_class}")
        try:
            self._net = cv2.dnn.readNetFromONNX(os.fspath(self.path))
        except cv2.error as e:
            raise InputError(f"cannot load the ONNX person detector {self.path}: "
                             f"{_first_line(e)}") from None
        if self._net.empty():
            raise InputError(f"cannot load the ONNX person detector {self.path}: "
                             "OpenCV read an empty network")
        self._cv2 = cv2
        self.input_size, self.layout, self.person_class = int(input_size), layout, person_class
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)
        self.max_persons = int(max_persons)
        self.name = f"onnx:{self.path.name}"

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """The best ``max_persons`` person boxes ``(K, 4)`` in ``frame_rgb``'s pixels."""
        cv2 = self._cv2
        frame = _check_frame(frame_rgb)
        h, w = frame.shape[:2]
        size = self.input_size
        r = min(size / w, size / h)
        nw, nh = max(1, round(w * r)), max(1, round(h * r))
        left, top = (size - nw) // 2, (size - nh) // 2
        canvas = np.full((size, size, 3), 114, np.uint8)
        canvas[top:top + nh, left:left + nw] = cv2.resize(frame, (nw, nh),
                                                           interpolation=cv2.INTER_LINEAR)
        blob = cv2.dnn.blobFromImage(canvas, 1 / 255.0, (size, size), swapRB=False)
        self._net.setInput(blob)
        try:
            output = self._net.forward()
        except cv2.error as e:
            raise InputError(f"the ONNX person detector {self.path} failed on a "
                             f"{size}x{size} input: {_first_line(e)}") from None
        boxes, scores = self._parse(np.asarray(output))
        keep = scores >= self.score_threshold
        boxes, scores = boxes[keep], scores[keep]
        if len(boxes) == 0:
            return _no_boxes()
        if boxes.max() <= 2.0:  # normalised coordinates
            boxes = boxes * size
        xywh = [[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in boxes]
        picked = np.asarray(cv2.dnn.NMSBoxes(xywh, scores.astype(float).tolist(),
                                             self.score_threshold, self.nms_threshold),
                            np.int64).reshape(-1)
        picked = picked[np.argsort(-scores[picked], kind="stable")][: self.max_persons]
        boxes = (boxes[picked] - [left, top, left, top]) / r
        return _clip_boxes(boxes, w, h)

    def _parse(self, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(boxes x1y1x2y2 (N, 4), scores (N,))`` in input pixels from the raw output."""
        shape = tuple(output.shape)
        out = output[0] if output.ndim == 3 and output.shape[0] == 1 else output
        layout = self.layout
        if out.ndim == 2 and layout == "auto":
            layout = "yolov8" if out.shape[0] < out.shape[1] else "yolov5"
        if layout == "yolov8" and out.ndim == 2:
            out = out.T
        columns = out.shape[1] if out.ndim == 2 else 0
        k = self.person_class
        need = {"yolov5": 6 + k, "yolov8": 5 + k, "xyxy": 5}[layout]
        if out.ndim != 2 or columns < need or (layout == "xyxy" and columns > 6):
            expected = {"yolov5": f"(N, 5 + C) with C > {k}",
                        "yolov8": f"(4 + C, N) with C > {k}",
                        "xyxy": "(N, 5) or (N, 6)"}[layout]
            named = layout if layout == self.layout else f"auto, read as {layout}"
            raise InputError(f"the output of the ONNX person detector {self.path} has shape "
                             f"{shape}, which is not understood (layout {named}: expected "
                             f"{expected}; see OnnxPersonDetector)")
        out = out.astype(np.float64)
        if layout == "xyxy":
            if columns == 6:
                out = out[np.round(out[:, 5]) == k]
            return out[:, :4], out[:, 4]
        cx, cy, bw, bh = out[:, 0], out[:, 1], out[:, 2], out[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        scores = out[:, 4] * out[:, 5 + k] if layout == "yolov5" else out[:, 4 + k]
        return boxes, scores


def _first_line(e: Exception) -> str:
    """OpenCV's own message (``cv2.error.err``), without its source location."""
    text = str(getattr(e, "err", "") or e)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(e).__name__


def _clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to the frame, empty ones dropped."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]


def detector_from_spec(spec: str, *, height: int = 240, onnx_size: int = 640,
                       onnx_layout: str = "auto") -> PersonDetector:
    """The detector a command line names: ``hog`` (Daimler), ``hog:daimler``,
    ``hog:inria`` or ``onnx:PATH``; a ValueError naming the choices otherwise."""
    kind, _, rest = spec.partition(":")
    if kind == "hog":
        if rest not in ("", *HOGPersonDetector._MODELS):
            raise InputError(f"unknown detector '{spec}': HOG models are hog:daimler and "
                             "hog:inria")
        return HOGPersonDetector(rest or "daimler", height=height)
    if kind == "onnx" and rest:
        return OnnxPersonDetector(rest, input_size=onnx_size, layout=onnx_layout)
    raise InputError(f"unknown detector '{spec}': expected hog, hog:daimler, hog:inria or "
                     "onnx:PATH")


# ---------------------------------------------------------------------------- boxes files

#: A boxes file read: video key -> float array (K, 5) of ``frame, x1, y1, x2, y2``.
BoxesByVideo = dict[str, np.ndarray]
_FIELDS = ("frame", "x1", "y1", "x2", "y2")


def read_boxes_file(path: str | os.PathLike) -> BoxesByVideo:
    """Person boxes the user made, by video: ``{video: array (K, 5) frame, x1, y1, x2, y2}``.

    Accepted files (frames 0-based, coordinates in pixels of the source video):

    * CSV with a header naming ``video,frame,x1,y1,x2,y2`` (any order; other columns,
      e.g. a score, are ignored);
    * JSON, a list of objects ``{"video": ..., "frame": ..., "x1": ..., "y1": ...,
      "x2": ..., "y2": ...}``;
    * JSON, an object ``{video: [[frame, x1, y1, x2, y2], ...], ...}``.

    A ``video`` is matched to an input by its path as given, its absolute path, its file
    name or its stem. Raises ValueError with one line naming the file, the line (CSV) or
    entry (JSON) and the field of the first bad value.
    """
    from videomae_tf.data.annotations import read_text

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"boxes file not found: {path}")
    text = read_text(path)
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{"):
        rows = _json_boxes(text, path)
    else:
        rows = _csv_boxes(text, path)
    if not rows:
        raise InputError(f"{path}: holds no boxes")
    grouped: dict[str, list[tuple[float, ...]]] = {}
    for video, values in rows:
        grouped.setdefault(video, []).append(values)
    return {video: np.asarray(values, np.float64).reshape(-1, 5)
            for video, values in grouped.items()}


def _csv_boxes(text: str, path: Path) -> list[tuple[str, tuple[float, ...]]]:
    lines = text.splitlines()
    reader = csv.reader(lines)
    header, header_line = None, 0
    for header_line, row in enumerate(reader, 1):
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break
    if header is None:
        raise InputError(f"{path}: holds no boxes")
    missing = [f for f in ("video", *_FIELDS) if f not in header]
    if missing:
        raise InputError(f"{path}, line {header_line}: the header must name the columns "
                         f"video,frame,x1,y1,x2,y2 (missing: {', '.join(missing)})")
    col = {name: header.index(name) for name in ("video", *_FIELDS)}
    rows = []
    for lineno, row in enumerate(reader, header_line + 1):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}, line {lineno}"
        if len(row) < len(header):
            raise InputError(f"{where}: {len(row)} fields, the header has {len(header)}")
        video = row[col["video"]].strip()
        if not video:
            raise InputError(f"{where}, field 'video': empty")
        values = tuple(_number(row[col[f]].strip(), f, where) for f in _FIELDS)
        rows.append((video, _checked(values, where)))
    return rows


def _json_boxes(text: str, path: Path) -> list[tuple[str, tuple[float, ...]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}, line {e.lineno}: not valid JSON ({e.msg})") from None
    rows = []
    if isinstance(data, list):
        for i, entry in enumerate(data, 1):
            where = f"{path}, entry {i}"
            if not isinstance(entry, dict):
                raise InputError(f"{where}: expected an object with video, frame, x1, y1, "
                                 f"x2, y2, got {type(entry).__name__}")
            for field in ("video", *_FIELDS):
                if field not in entry:
                    raise InputError(f"{where}, field '{field}': missing")
            video = entry["video"]
            if not isinstance(video, str) or not video.strip():
                raise InputError(f"{where}, field 'video': expected a non-empty string, "
                                 f"got {video!r}")
            values = tuple(_number(entry[f], f, where) for f in _FIELDS)
            rows.append((video.strip(), _checked(values, where)))
    elif isinstance(data, dict):
        for video, boxes in data.items():
            if not isinstance(boxes, list):
                raise InputError(f"{path}, video '{video}': expected a list of "
                                 f"[frame, x1, y1, x2, y2], got {type(boxes).__name__}")
            for i, box in enumerate(boxes, 1):
                where = f"{path}, video '{video}', box {i}"
                if not isinstance(box, list) or len(box) != 5:
                    raise InputError(f"{where}: expected [frame, x1, y1, x2, y2], got {box!r}")
                values = tuple(_number(v, f, where) for v, f in zip(box, _FIELDS))
                rows.append((video, _checked(values, where)))
    else:
        raise InputError(f"{path}: expected a JSON list of objects or an object "
                         f"{{video: [[frame, x1, y1, x2, y2], ...]}}, got "
                         f"{type(data).__name__}")
    return rows


def _number(value: object, field: str, where: str) -> float:
    """A finite number (``frame``: a whole one, >= 0), or a ValueError naming the field."""
    if isinstance(value, bool):
        raise InputError(f"{where}, field '{field}': {value!r} is not a number")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}, field '{field}': {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"{where}, field '{field}': {value!r} is not a finite number")
    if field == "frame" and (number < 0 or number != int(number)):
        raise InputError(f"{where}, field 'frame': {value!r} is not a frame index (0, 1, ...)")
    return number


def _checked(values: tuple[float, ...], where: str) -> tuple[float, ...]:
    _, x1, y1, x2, y2 = values
    if x2 <= x1:
        raise InputError(f"{where}, field 'x2': {x2:g} is not greater than x1 {x1:g}")
    if y2 <= y1:
        raise InputError(f"{where}, field 'y2': {y2:g} is not greater than y1 {y1:g}")
    return values


# ------------------------------------------------------------------------------ crop box

def crop_box(boxes: np.ndarray | Sequence[Sequence[float]], frame_width: int,
             frame_height: int, pad: tuple[int, int, int, int] = PAD,
             min_ratio: float = MIN_RATIO, even: bool = False
             ) -> tuple[int, int, int, int] | None:
    """The person crop ``(x1, y1, x2, y2)`` of a clip (docs/numerics.md#ma52), or None without a box.

    1. The union of ``boxes`` (``(K, 4)`` x1, y1, x2, y2 of all frames), clipped to the
       frame, with its edges rounded outwards to whole pixels.
    2. Padded by ``pad`` = (left, top, right, bottom) pixels, clipped to the frame.
    3. If width / height < ``min_ratio``: widened to ``ceil(min_ratio * height)``
       symmetrically about the centre (an odd extra pixel goes right); where a side
       reaches the frame edge the rest goes to the other side; never wider than the frame
       (a frame narrower than ``min_ratio`` x the height gives a full-width crop).

    ``even=True`` also makes width and height even (one more pixel, on the side that has
    room), as MPEG-4 encoders need: the height before widening, the width after, so the
    ratio still holds. The box is in pixels, ``x2``/``y2`` exclusive:
    ``frame[y1:y2, x1:x2]`` is the crop.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    W, H = int(frame_width), int(frame_height)
    if W <= 0 or H <= 0:
        raise InputError(f"frame size must be positive, got {W}x{H}")
    boxes = _clip_boxes(boxes, W, H)
    if len(boxes) == 0:
        return None
    left, top, right, bottom = pad
    x1 = max(0, math.floor(boxes[:, 0].min()) - left)
    y1 = max(0, math.floor(boxes[:, 1].min()) - top)
    x2 = min(W, math.ceil(boxes[:, 2].max()) + right)
    y2 = min(H, math.ceil(boxes[:, 3].max()) + bottom)
    if even:
        y1, y2 = _even(y1, y2, H)
    height = y2 - y1
    if (x2 - x1) < min_ratio * height:
        target = min(W, math.ceil(round(min_ratio * height, 9)))
        extra = target - (x2 - x1)
        x1 -= extra // 2
        x2 += extra - extra // 2
        if x1 < 0:
            x2, x1 = x2 - x1, 0
        if x2 > W:
            x1, x2 = max(0, x1 - (x2 - W)), W
    if even:
        x1, x2 = _even(x1, x2, W)
    return int(x1), int(y1), int(x2), int(y2)


def _even(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """``(lo, hi)`` with an even length: one more pixel after, else before, else one less."""
    if (hi - lo) % 2 == 0:
        return lo, hi
    if hi < limit:
        return lo, hi + 1
    if lo > 0:
        return lo - 1, hi
    return lo, hi - 1


# ------------------------------------------------------------------------- cropping clips

@dataclasses.dataclass
class CropRow:
    """One clip's line of ``crop_report.csv``.

    ``x1..y2`` is the region written (the whole frame, trimmed to even sizes, when no
    person was found); ``frames`` the frames written; ``frames_checked`` the frames the
    detector looked at (every ``every``-th; all of them with a boxes file) and
    ``frames_with_person`` those with a box; ``error`` why a clip was not written (then
    ``output`` is empty)."""

    video: str
    output: str = ""
    x1: int | None = None
    y1: int | None = None
    x2: int | None = None
    y2: int | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frames: int = 0
    frames_checked: int = 0
    frames_with_person: int = 0
    person_found: bool = False
    detector: str = ""
    error: str = ""

    def csv_row(self) -> list[str]:
        """The row's cells in :data:`REPORT_COLUMNS` order."""
        values = dataclasses.astuple(self)
        return ["" if v is None else ("true" if v is True else "false" if v is False else str(v))
                for v in values]


def crop_persons(videos: Sequence[str | os.PathLike] | str | os.PathLike,
                 output_dir: str | os.PathLike, detector: PersonDetector | None = None,
                 boxes: BoxesByVideo | str | os.PathLike | None = None, every: int = 1,
                 progress: bool = True, backend: str = "auto",
                 overwrite: bool = False) -> list[CropRow]:
    """Crop every clip of ``videos`` to its person and write ``output_dir/<stem>.mp4``.

    Person boxes come from ``detector`` (default :class:`HOGPersonDetector`) run on every
    ``every``-th frame, or from ``boxes`` (a file for :func:`read_boxes_file`, or what it
    returns; not both). The crop is :func:`crop_box` of all boxes of the clip, sizes made
    even for the encoder. Clips are written with OpenCV's ``mp4v`` (MPEG-4 part 2) at the
    source frame rate (30 when the source does not say), each under a temporary name and
    renamed when complete; ``output_dir/crop_report.csv`` (:data:`REPORT_COLUMNS`) is
    rewritten the same way after each clip.

    A clip without a person found (or without boxes in the file) is written uncropped,
    ``person_found=false``; a clip that cannot be decoded, or whose boxes name frames it
    does not have, gets an ``error`` and no output, and the others go on.

    Raises (before any work): ValueError when two inputs have the same stem (their outputs
    would overwrite each other: crop them into separate folders), an output would replace
    its input or a file this function did not write there (one its report does not list;
    ``overwrite=True`` replaces it), ``boxes`` names none of the inputs, or ``every`` < 1.
    """
    from videomae_tf.evaluation.progress import progress_bar
    from videomae_tf.files import write_text_atomic

    if isinstance(videos, (str, os.PathLike)):
        videos = [videos]
    if every < 1:
        raise InputError(f"every must be at least 1, got {every}")
    if detector is not None and boxes is not None:
        raise InputError("give a person detector or a boxes file, not both")
    output_dir = Path(output_dir)
    paths = _unique(videos)
    outputs = _output_paths(paths, output_dir, overwrite)
    source = ""
    if boxes is not None:
        if not isinstance(boxes, Mapping):
            source = f"boxes:{Path(boxes).name}"
            boxes = read_boxes_file(boxes)
        else:
            source = "boxes"
        per_video = [_boxes_of(p, boxes) for p in paths]
        if paths and all(b is None for b in per_video):
            raise InputError(f"the boxes name none of the {len(paths)} input videos (a box's "
                             "video is matched to a path as given, its absolute path, file "
                             "name or stem)")
    else:
        detector = detector if detector is not None else HOGPersonDetector()
        source = detector.name
        per_video = [None] * len(paths)
    output_dir.mkdir(parents=True, exist_ok=True)
    report = output_dir / REPORT_NAME
    names_now = {out.name for out in outputs}
    # the report keeps what earlier runs wrote here (other clips), so that it stays the
    # record of which files in the folder are ours
    kept = [row for row in _earlier_rows(output_dir) if _clip_name(row) not in names_now]
    rows: list[CropRow] = []
    with progress_bar(total=len(paths), desc="crop", unit="clip", enabled=progress) as bar:
        for path, out, given in zip(paths, outputs, per_video):
            row = CropRow(video=os.fspath(path), detector=source)
            try:
                _crop_one(path, out, row, detector, given, every, backend)
            except _ClipError as e:
                row.error, row.output = str(e), ""
            rows.append(row)
            write_text_atomic(report, _report_text(rows, kept))
            bar.update(1)
    if not rows:
        write_text_atomic(report, _report_text(rows, kept))
    return rows


class _ClipError(Exception):
    """One clip could not be cropped; the message goes into the report."""


def _unique(videos: Iterable[str | os.PathLike]) -> list[Path]:
    """The inputs as Paths, a file given twice kept once."""
    seen, paths = set(), []
    for video in videos:
        path = Path(video)
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            paths.append(path)
    return paths


def _earlier_rows(output_dir: Path) -> list[dict]:
    """The rows of ``output_dir``'s report from earlier runs ([] when there is none)."""
    try:
        with open(output_dir / REPORT_NAME, newline="", encoding="utf-8") as f:
            return [row for row in csv.DictReader(f) if row.get("video")]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def _clip_name(row: dict) -> str:
    """The output file name a report row stands for (a failed clip's would-be name)."""
    return Path(row["output"]).name if row.get("output") else Path(row["video"]).stem + ".mp4"


def _written_before(output_dir: Path) -> set[str]:
    """The file names of the clips earlier runs wrote in ``output_dir`` (its report says
    so): ours to replace. Outputs are always ``output_dir/<stem>.mp4``, so a name is enough
    whatever folder the report was written from."""
    return {Path(row["output"]).name for row in _earlier_rows(output_dir) if row.get("output")}


def _output_paths(paths: Sequence[Path], output_dir: Path, overwrite: bool) -> list[Path]:
    by_name: dict[str, Path] = {}
    outputs = []
    ours = _written_before(output_dir)
    for path in paths:
        out = output_dir / f"{path.stem}.mp4"
        if out.name in by_name:
            raise InputError(f"{by_name[out.name]} and {path} would both be written to {out}: "
                             "crop videos with the same name into separate output folders")
        if out.resolve() == path.resolve():
            raise InputError(f"the output {out} would replace its input: choose another "
                             "--output folder")
        if out.exists() and not overwrite and out.name not in ours:
            raise InputError(f"{out} exists and is not a clip crop-persons wrote there (not in "
                             f"{REPORT_NAME}): choose a new --output, or --overwrite to replace "
                             "it (nothing was replaced)")
        by_name[out.name] = path
        outputs.append(out)
    return outputs


def _boxes_of(path: Path, boxes: Mapping[str, np.ndarray]) -> np.ndarray | None:
    for key in (os.fspath(path), str(path.resolve()), path.name, path.stem):
        if key in boxes:
            return np.asarray(boxes[key], np.float64).reshape(-1, 5)
    return None


def _crop_one(path: Path, out: Path, row: CropRow, detector: PersonDetector | None,
              given: np.ndarray | None, every: int, backend: str) -> None:
    """Fill ``row`` for one clip and write its output; _ClipError when it cannot. Boxes
    from ``detector``, or without one the ``given`` rows ``frame, x1, y1, x2, y2`` (None:
    the boxes file has none for this clip)."""
    from videomae_tf.data.decoders import VideoDecodeError, VideoReader

    try:
        reader = VideoReader(path, backend)
        with reader:
            first = reader.get_batch([0])[0]
            height, width = first.shape[:2]
            row.frame_width, row.frame_height = int(width), int(height)
            if detector is None:
                found = given if given is not None else np.zeros((0, 5))
                if len(found) and found[:, 0].max() >= reader.num_frames:
                    raise _ClipError(f"the boxes give frame {int(found[:, 0].max())} but the "
                                     f"clip has {reader.num_frames} frames")
                frames_with_person = len(np.unique(found[:, 0]))
                all_boxes, checked = found[:, 1:], None
            else:
                all_boxes, checked, frames_with_person = _detect(reader, detector, every)
            box = crop_box(all_boxes, width, height, even=True)
            row.person_found = box is not None
            row.frames_with_person = frames_with_person if box is not None else 0
            if box is None:  # written uncropped (sizes made even, as the encoder needs)
                box = (0, 0, *(width - width % 2, height - height % 2))
            row.x1, row.y1, row.x2, row.y2 = box
            row.frames = _write_clip(reader, out, box, reader.fps)
            row.frames_checked = row.frames if checked is None else checked
            row.output = os.fspath(out)
    except VideoDecodeError as e:
        raise _ClipError(str(e)) from None


def _detect(reader, detector: PersonDetector, every: int) -> tuple[np.ndarray, int, int]:
    """Boxes ``(K, 4)`` of every ``every``-th frame, how many frames were looked at and
    how many of those had a person."""
    found, checked, with_person = [], 0, 0
    for frame in _every_nth_frame(reader, every):
        checked += 1
        boxes = np.asarray(detector.detect(frame), np.float64).reshape(-1, 4)
        if len(boxes):
            with_person += 1
            found.append(boxes)
    return (np.concatenate(found) if found else _no_boxes()), checked, with_person


def _every_nth_frame(reader, every: int) -> Iterable[np.ndarray]:
    """Frames 0, every, 2 every, ... of ``reader``. decord and frame folders seek, so they
    are asked for those frames alone, a few at a time; PyAV and OpenCV decode from the
    start at every request, so they run through the clip once and skip the others."""
    if every > 1 and reader.backend in ("decord", "frames"):
        wanted = range(0, reader.num_frames, every)
        for start in range(0, len(wanted), 8):
            yield from reader.get_batch(list(wanted[start:start + 8]))
        return
    for i, frame in enumerate(reader.iter_frames(chunk=8)):
        if i % every == 0:
            yield frame


def _write_clip(reader, out: Path, box: tuple[int, int, int, int], fps: float) -> int:
    """Write ``reader``'s frames cropped to ``box`` into ``out`` (mp4v); the frame count."""
    import cv2

    from videomae_tf.files import replacing

    x1, y1, x2, y2 = box
    count = 0
    with replacing(out) as tmp:
        writer = cv2.VideoWriter(os.fspath(tmp), cv2.VideoWriter_fourcc(*"mp4v"),
                                 fps if fps > 0 else 30.0, (x2 - x1, y2 - y1))
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot write an mp4v video to {tmp}")
        try:
            for frame in reader.iter_frames(chunk=8):
                writer.write(cv2.cvtColor(frame[y1:y2, x1:x2], cv2.COLOR_RGB2BGR))
                count += 1
        finally:
            writer.release()
        if count == 0:
            raise _ClipError("no frame could be decoded")
        # OpenCV's writer reports no write errors: a full disk leaves an MP4 cut short,
        # without its index (the moov box, written last). Check before the rename.
        if not _complete_mp4(tmp):
            raise OSError(f"the video written to {out} is incomplete (its MP4 boxes are cut "
                          "short): is the disk full?")
    return count


def _complete_mp4(path: Path) -> bool:
    """Whether ``path``'s top-level MP4 boxes fill the file exactly and include the
    ``moov`` index and the ``mdat`` frames: read from the box headers alone, silently
    (opening a cut file with a decoder logs FFmpeg errors)."""
    size = path.stat().st_size
    kinds, offset = set(), 0
    with path.open("rb") as f:
        while offset < size:
            f.seek(offset)
            header = f.read(16)
            if len(header) < 8:
                return False
            length, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if length == 1 and len(header) == 16:  # 64-bit size
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:  # the last box runs to the end
                length = size - offset
            if length < 8:
                return False
            kinds.add(kind)
            offset += length
    return offset == size and {b"moov", b"mdat"} <= kinds


def _report_text(rows: Sequence[CropRow], kept: Sequence[dict] = ()) -> str:
    """The report: ``kept`` (earlier runs' rows for other clips, as read) then this run's."""
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    writer.writerows([row.get(column, "") for column in REPORT_COLUMNS] for row in kept)
    writer.writerows(row.csv_row() for row in rows)
    return table.getvalue()
