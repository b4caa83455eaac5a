"""Writing outputs without ever leaving a half-written file under the final name.

Every file a command produces is written to a hidden temporary name beside it and renamed
into place only when complete, so an interrupted run, a full disk or a crash leaves the
previous file (or no file) behind, never a truncated one.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

__all__ = ["check_space", "is_url", "partial_path", "read_bytes", "replacing",
           "write_bytes_atomic", "write_png", "write_text_atomic"]

#: Room kept free beyond an estimate (HDF5 headers, metadata).
_SLACK = 1 << 20


def is_url(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a ``tf.io.gfile`` URL (``gs://bucket/x``, ``ram://x``) rather than
    a local path."""
    return "://" in os.fspath(path)


def read_bytes(path: os.PathLike | str) -> bytes:
    """The bytes of a local file or of a gfile URL (TensorFlow is imported only for a URL);
    a missing file is a FileNotFoundError either way."""
    if not is_url(path):
        return Path(path).read_bytes()
    import tensorflow as tf

    name = os.fspath(path)
    try:
        with tf.io.gfile.GFile(name, "rb") as f:
            return f.read()
    except tf.errors.NotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name) from None


def partial_path(path: os.PathLike | str) -> Path:
    """The temporary name ``path`` is written under: ``.partial.<name>`` beside it (hidden,
    and with the same suffixes, which Keras and NumPy writers check)."""
    path = Path(path)
    return path.with_name(f".partial.{path.name}")


@contextlib.contextmanager
def replacing(path: os.PathLike | str) -> Iterator[Path]:
    """``with replacing(out) as tmp: write(tmp)``: ``tmp`` becomes ``out`` on success and is
    removed on failure (it is ours: nothing else is deleted)."""
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary name; returns ``path``."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: os.PathLike | str, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` through a temporary name; returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_png(path: os.PathLike | str, image_bgr) -> Path:
    """Encode an OpenCV (BGR) image as PNG and write it through a temporary name."""
    import cv2

    ok, encoded = cv2.imencode(".png", image_bgr)
    if not ok:
        raise OSError(f"could not encode {path}")
    return write_bytes_atomic(path, encoded.tobytes())


def check_space(path: os.PathLike | str, nbytes: int, already: int = 0) -> None:
    """Raise OSError(ENOSPC) naming ``path`` when ``nbytes`` more bytes (plus a margin) do
    not fit: on its file system's free space, or under this process's file-size limit
    (``ulimit -f``) for a file already ``already`` bytes long.

    Called before HDF5 writes: an HDF5 file that fails mid-write leaves h5py unable to
    close it (errors at every later call, a crash at exit), so those must not start
    without room. Other writers fail cleanly and rely on ``replacing`` alone."""
    import errno
    import resource
    import shutil

    path = Path(path)
    folder = next(p for p in (path.parent, *path.parent.parents) if p.exists())
    free = shutil.disk_usage(folder).free
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    room = free if limit == resource.RLIM_INFINITY else min(free, limit - already)
    needed = nbytes + _SLACK
    if needed > room:
        raise OSError(errno.ENOSPC, f"not enough room to write {path}: it needs about "
                                    f"{needed / 2**20:.1f} MiB and {max(room, 0) / 2**20:.1f} "
                                    "MiB are available (free space or the file-size limit)")
