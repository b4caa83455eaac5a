"""One video-reading interface over three decoders: decord, PyAV and OpenCV.

``VideoReader(path)`` opens a file with the first backend that is installed, in the
order decord (the official VideoMAE loader), PyAV, OpenCV, or with the one named by
``backend=``. Every backend gives the same thing: ``num_frames``, ``fps`` and
``get_batch(indices)`` -> RGB ``uint8`` array ``(T, H, W, 3)``, where frame ``i`` is the
``i``-th frame in presentation order. On the H.264, MPEG-4 part 2 and MJPEG files we
test on, the three backends return bit-identical frames.

What each backend does:

* **decord** -- random access through its own frame index (seeks to the nearest key frame
  and decodes forward). Resizes at decode time with ffmpeg's scaler (``width``/``height``
  are the output size, after rotation). Applies rotation metadata (a ``.mov`` tagged 90
  degrees comes out upright, portrait). Known to loop forever on files whose header
  claims more frames than they hold -- hence the time bound below -- and, on an XVID AVI
  with B-frames, now and then returns the next-to-last frame for the last one.
* **PyAV** -- decodes sequentially from the start up to the highest index asked for and
  converts only the frames asked for (frame-exact, cost grows with the last index).
  Resizes with ffmpeg's scaler (bilinear; on average within half a grey level of
  decord's output); rotation metadata is applied by us with ``np.rot90`` (same result as decord).
  Counts frames from the container header, or by demuxing packets when the header has
  no count (Matroska).
* **OpenCV** -- sequential ``grab()`` up to the highest index, ``retrieve()`` only for
  the frames asked for; OpenCV applies rotation metadata itself. Its frame count is an
  estimate for some containers (duration x fps), so a shortfall of at most
  ``_COUNT_SLACK`` trailing frames is filled with the last decoded frame; a larger one
  is a decode error. Resizing is emulated with ``cv2.resize(INTER_AREA)``.

A *folder* of extracted frames (the "rawframes" of mmaction2 / VideoMAE SSV2 lists) is
read too: its images in name order are the frames (``img_*`` only, when present).

Errors: anything that goes wrong -- missing file, unknown container, a packet the codec
rejects, a stream that ends early, a decode that does not finish within ``timeout``
seconds -- raises :class:`VideoDecodeError` naming the file and the reason. A decode
that times out is abandoned: it runs in a daemon worker thread (all three decoders
release the GIL while decoding), the caller gets the error at once and the pipeline
goes on; the abandoned thread is counted in :func:`abandoned_decodes`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np

from videomae_tf.errors import InputError

__all__ = [
    "BACKENDS",
    "DEFAULT_TIMEOUT",
    "VideoDecodeError",
    "VideoReader",
    "abandoned_decodes",
    "available_backends",
    "read_clip",
    "resolve_backend",
    "run_with_timeout",
]

#: Backend names in the order ``backend="auto"`` tries them.
BACKENDS = ("decord", "pyav", "opencv")
_MODULES = {"decord": "decord", "pyav": "av", "opencv": "cv2"}
_ALIASES = {"av": "pyav", "cv2": "opencv"}

#: Seconds a single open or decode may take before it is abandoned.
DEFAULT_TIMEOUT = 60.0

# Trailing frames an estimated frame count may over-report (OpenCV on Matroska claims
# 311 frames for a 310-frame file) before a short stream counts as broken.
_COUNT_SLACK = 2

T = TypeVar("T")


class VideoDecodeError(RuntimeError):
    """A video could not be opened or decoded; ``path`` names it, ``reason`` says why."""

    def __init__(self, path, reason: str):
        self.path = os.fspath(path)
        self.reason = str(reason)
        super().__init__(f"cannot decode video '{self.path}': {self.reason}")

    def __reduce__(self):  # keep (path, reason) when pickled across processes
        return (type(self), (self.path, self.reason))


# --------------------------------------------------------------------------- time bound

_abandoned_lock = threading.Lock()
_abandoned = 0


def abandoned_decodes() -> int:
    """How many decodes have been abandoned after a timeout in this process."""
    return _abandoned


def run_with_timeout(fn: Callable[[], T], timeout: float | None, path, what: str) -> T:
    """Run ``fn()`` in a daemon thread and wait at most ``timeout`` seconds.

    Returns its result. Raises :class:`VideoDecodeError` for ``path`` if it does not
    finish in time (the thread is left to die on its own) or if it raises anything
    else; a ``VideoDecodeError`` raised by ``fn`` passes through unchanged.
    ``timeout=None`` runs ``fn`` in the calling thread with no bound.
    """
    if timeout is None:
        return _wrap_errors(fn, path, what)
    box: dict = {}

    def target():
        try:
            box["value"] = _wrap_errors(fn, path, what)
        except BaseException as e:  # handed to the caller below
            box["error"] = e

    worker = threading.Thread(target=target, name=f"decode:{os.path.basename(os.fspath(path))}",
                              daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        global _abandoned
        with _abandoned_lock:
            _abandoned += 1
        raise VideoDecodeError(path, f"{what} did not finish within {timeout:g} s; abandoned")
    if "error" in box:
        raise box["error"]
    return box["value"]


class _CallerError(Exception):
    """Carries an error of the caller's code (a sampler) past the decode-error wrapping."""


def _wrap_errors(fn: Callable[[], T], path, what: str) -> T:
    try:
        return fn()
    except (VideoDecodeError, IndexError, _CallerError):  # IndexError: a bad index, not the file
        raise
    except Exception as e:  # decoder libraries raise their own types; unify them
        raise VideoDecodeError(path, f"{what} failed: {type(e).__name__}: {_short(e)}") from e


def _short(e: Exception, limit: int = 300) -> str:
    text = re.sub(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", "", " ".join(str(e).split()))  # decord's
    # "[12:00:00] /src/file.cc:218: " prefixes
    return text if len(text) <= limit else "..." + text[-limit:]


# ------------------------------------------------------------------------------ backends

def available_backends() -> tuple[str, ...]:
    """The installed backends, in the order ``"auto"`` tries them."""
    return tuple(b for b in BACKENDS if importlib.util.find_spec(_MODULES[b]) is not None)


def resolve_backend(name: str = "auto") -> str:
    """Turn ``"auto"`` or a backend name (``av``/``cv2`` accepted) into an installed one."""
    name = _ALIASES.get(name.lower(), name.lower())
    available = available_backends()
    if name == "auto":
        if not available:
            raise ImportError("no video backend installed: install decord, av or opencv-python")
        return available[0]
    if name not in BACKENDS:
        raise InputError(f"unknown video backend '{name}'; expected 'auto' or one of {BACKENDS}")
    if name not in available:
        raise ImportError(f"video backend '{name}' needs the '{_MODULES[name]}' package, "
                          f"which is not installed (installed: {available or 'none'})")
    return name


class _Decord:
    def __init__(self, path, width, height, num_threads):
        import decord

        self._vr = decord.VideoReader(path, ctx=decord.cpu(0), width=width or -1,
                                      height=height or -1, num_threads=num_threads)
        self.num_frames = len(self._vr)
        self.fps = float(self._vr.get_avg_fps())

    def get_batch(self, indices):
        return self._vr.get_batch(list(indices)).asnumpy()

    def close(self):
        self._vr = None


class _PyAV:
    def __init__(self, path, width, height, num_threads):
        import av

        self._av, self._path, self._size, self._threads = av, path, (width, height), num_threads
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoDecodeError(path, "the container has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            self.fps = float(rate) if rate else 0.0
            self.num_frames = stream.frames
            if self.num_frames <= 0:  # no count in the header (Matroska): count packets
                self.num_frames = sum(1 for p in container.demux(stream) if p.size)

    def get_batch(self, indices):
        wanted = set(int(i) for i in indices)
        last = max(wanted)
        frames, decoded = {}, 0
        with self._av.open(self._path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
            for i, frame in enumerate(container.decode(stream)):
                decoded = i + 1
                if i in wanted:
                    frames[i] = self._to_rgb(frame)
                if i >= last:
                    break
        return _assemble(self._path, indices, frames, decoded, self.num_frames)

    def iter_frames(self):
        with self._av.open(self._path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self._threads
            for frame in container.decode(stream):
                yield self._to_rgb(frame)

    def _to_rgb(self, frame):
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        width, height = self._size
        if width and height and rotation in (90, 270):
            width, height = height, width  # output size is after rotation
        if width and height:
            rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
        else:
            rgb = frame.to_ndarray(format="rgb24")
        # PyAV reports the angle to rotate counter-clockwise by (-90 = clockwise).
        return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb

    def close(self):
        pass


class _OpenCV:
    def __init__(self, path, width, height, num_threads):
        import cv2

        self._cv2, self._path, self._size = cv2, path, (width, height)
        cap = self._open()
        try:
            self.num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.fps = float(cap.get(cv2.CAP_PROP_FPS))
        finally:
            cap.release()

    def _open(self):
        cap = self._cv2.VideoCapture(self._path)
        if not cap.isOpened():
            raise VideoDecodeError(self._path, "OpenCV could not open the file")
        return cap

    def iter_frames(self):
        cap = self._open()
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield self._rgb(bgr)
        finally:
            cap.release()

    def _rgb(self, bgr):
        rgb = self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB)
        width, height = self._size
        if width and height:
            rgb = self._cv2.resize(rgb, (width, height), interpolation=self._cv2.INTER_AREA)
        return rgb

    def get_batch(self, indices):
        wanted = set(int(i) for i in indices)
        last = max(wanted)
        frames, decoded = {}, 0
        cap = self._open()
        try:
            while decoded <= last and cap.grab():
                if decoded in wanted:
                    ok, bgr = cap.retrieve()
                    if not ok:
                        break
                    frames[decoded] = self._rgb(bgr)
                decoded += 1
        finally:
            cap.release()
        return _assemble(self._path, indices, frames, decoded, self.num_frames)

    def close(self):
        pass


class _FrameFolder:
    """A folder of extracted frames (mmaction2 / VideoMAE "rawframes"): the images in
    name order are frames 0, 1, ...; only ``img_*`` files when there are any (folders may
    also hold ``x_*``/``y_*`` optical flow)."""

    _EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

    def __init__(self, path, width, height, num_threads):
        import cv2

        self._cv2, self._path, self._size = cv2, path, (width, height)
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(self._EXTENSIONS))
        rgb = [n for n in names if n.startswith("img_")]
        self._files = rgb or names
        self.num_frames = len(self._files)
        self.fps = 0.0

    def get_batch(self, indices):
        cv2 = self._cv2
        frames = []
        for i in indices:
            file = os.path.join(self._path, self._files[i])
            bgr = cv2.imread(file, cv2.IMREAD_COLOR)
            if bgr is None:
                raise VideoDecodeError(self._path, f"cannot read frame image '{file}'")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            width, height = self._size
            if width and height:
                rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
            frames.append(rgb)
        if len({f.shape for f in frames}) > 1:
            raise VideoDecodeError(self._path, "frame images differ in size")
        return np.stack(frames)

    def close(self):
        pass


_IMPLEMENTATIONS = {"decord": _Decord, "pyav": _PyAV, "opencv": _OpenCV,
                    "frames": _FrameFolder}


def _assemble(path, indices, frames: dict, decoded: int, claimed: int) -> np.ndarray:
    """Stack the decoded frames in request order; handle a stream that ended early."""
    missing = [int(i) for i in indices if int(i) not in frames]
    if missing:
        if decoded == 0:
            raise VideoDecodeError(path, "no frame could be decoded")
        if claimed - decoded > _COUNT_SLACK or not frames:
            raise VideoDecodeError(path, f"stream ended after {decoded} of {claimed} frames "
                                         f"(frame {min(missing)} requested)")
        last = frames[max(frames)]  # estimated count slightly too high: repeat the last frame
        for i in missing:
            frames[i] = last
    return np.stack([frames[int(i)] for i in indices])


# ---------------------------------------------------------------------------- the reader

class VideoReader:
    """Frame-exact random access to one video file through a chosen backend.

    Args:
        path: the video file, or a folder of frame images (then ``backend`` is
            ``"frames"``: images in name order, read with OpenCV; ``fps`` is 0).
        backend: ``"auto"`` (decord, else PyAV, else OpenCV) or a backend name.
        width, height: resize every frame to this output size at decode time (both or
            neither; the size is after rotation metadata is applied).
        timeout: seconds each open or ``get_batch`` may take (``None``: unbounded).
        num_threads: decoder threads; 1 suits a pipeline that decodes files in parallel.

    Raises:
        VideoDecodeError: the file is missing, unreadable, or has no frames.
    """

    def __init__(self, path, backend: str = "auto", *, width: int | None = None,
                 height: int | None = None, timeout: float | None = DEFAULT_TIMEOUT,
                 num_threads: int = 1):
        self.path = os.fspath(path)
        self.backend = resolve_backend(backend)
        if bool(width) != bool(height):
            raise InputError(f"give both width and height to resize, or neither "
                             f"(got width={width}, height={height})")
        self.timeout = timeout
        if os.path.isdir(self.path):  # a folder of frame images, whatever the backend
            self.backend = "frames"
        elif not os.path.isfile(self.path):
            raise VideoDecodeError(self.path, "no such file")
        impl = _IMPLEMENTATIONS[self.backend]
        self._impl = run_with_timeout(
            lambda: impl(self.path, width, height, num_threads), timeout, self.path,
            f"opening with {self.backend}")
        if self._impl.num_frames <= 0:
            raise VideoDecodeError(self.path, f"{self.backend} finds no frames")

    @property
    def num_frames(self) -> int:
        """Frame count as the container reports it."""
        return self._impl.num_frames

    @property
    def fps(self) -> float:
        """Average frame rate (0.0 when the container does not say)."""
        return self._impl.fps

    def __len__(self) -> int:
        return self.num_frames

    def get_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as uint8 ``(T, H, W, 3)`` RGB."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size == 0:
            raise InputError("get_batch needs at least one frame index")
        bad = indices[(indices < 0) | (indices >= self.num_frames)]
        if bad.size:
            raise IndexError(f"frame index {int(bad[0])} out of range for '{self.path}' "
                             f"with {self.num_frames} frames")
        return run_with_timeout(lambda: self._impl.get_batch(indices.tolist()), self.timeout,
                                self.path, f"decoding {indices.size} frames with {self.backend}")

    def iter_frames(self, chunk: int = 32) -> Iterator[np.ndarray]:
        """Every frame in order, one uint8 ``(H, W, 3)`` RGB array at a time, never holding
        more than ``chunk`` of them: for long videos that must not be loaded whole. PyAV
        and OpenCV decode sequentially; decord and frame folders read ``chunk`` frames per
        ``get_batch``. Decode errors raise :class:`VideoDecodeError`."""
        native = getattr(self._impl, "iter_frames", None)
        if native is None:
            for start in range(0, self.num_frames, chunk):
                yield from self.get_batch(range(start, min(start + chunk, self.num_frames)))
            return
        frames = native()
        count = 0
        while True:
            try:
                frame = _wrap_errors(lambda: next(frames, None), self.path,
                                     f"decoding with {self.backend}")
            except VideoDecodeError:
                frames.close()
                raise
            if frame is None:
                break
            count += 1
            yield frame
        if count < self.num_frames - _COUNT_SLACK:  # OpenCV just stops at a bad packet
            raise VideoDecodeError(self.path, f"stream ended after {count} of {self.num_frames} "
                                              f"frames ({self.backend})")

    def close(self) -> None:
        """Release the decoder."""
        self._impl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"VideoReader('{self.path}', backend='{self.backend}', "
                f"num_frames={self.num_frames}, fps={self.fps:g})")


def read_clip(path, indices: Sequence[int] | Callable[[int, float], Sequence[int]], *,
              backend: str = "auto", width: int | None = None, height: int | None = None,
              timeout: float | None = DEFAULT_TIMEOUT, num_threads: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """Open ``path``, pick frame indices and decode them, all within one time bound.

    ``indices`` is either a list of frame indices or a function
    ``(num_frames, fps) -> indices`` (a sampler) called once the frame count is known.
    Returns ``(frames uint8 (T, H, W, 3), indices int64 (T,))``. Raises
    :class:`VideoDecodeError` naming the file on any failure, including a timeout.
    """
    path = os.fspath(path)

    def work():
        reader = VideoReader(path, backend, width=width, height=height, timeout=None,
                             num_threads=num_threads)
        try:
            idx = indices
            if callable(indices):
                try:
                    idx = indices(reader.num_frames, reader.fps)
                except Exception as e:
                    raise _CallerError() from e
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            return reader.get_batch(idx), idx
        finally:
            reader.close()

    try:
        return run_with_timeout(work, timeout, path, "reading a clip")
    except _CallerError as e:  # the sampler's own error, unchanged
        raise e.__cause__ from None
