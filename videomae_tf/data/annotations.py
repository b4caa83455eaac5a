"""Annotation lists and label maps.

Every list format of the VideoMAE family becomes a list of :class:`VideoRecord`
``(path, label, num_frames)``:

=============== ========================================== ==============================
format          one line                                   from
=============== ========================================== ==============================
``videomae``    ``path label`` (space separated)           VideoMAE fine-tuning / pretraining
``mmaction2``   ``path label``                             mmaction2 VideoDataset
``ma52``        ``file.mp4 fine_label``                    MA-52 (MAC 2024)
``rawframes``   ``frame_folder total_frames label``        mmaction2 / VideoMAE RawFrameDataset
``v2_pretrain`` ``path start_index total_frames`` (``path 0 -1`` for a video file)
                                                           VideoMAE V2 pretraining
``k400_csv``    ``video_id, num_frames, label_index``      the K400 validation list
=============== ========================================== ==============================

``format="auto"`` tells them apart by the first data line. Paths may contain spaces (the
numeric fields are split off the right). Blank lines and ``#`` comments are skipped, as
is a ``k400_csv`` header line. Relative paths are joined to ``root``.

Label maps ship with the package (``labels/*.txt``, one class name per line, line number =
class index; ``ma52.txt`` is ``index<TAB>name``) and load by dataset name.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from videomae_tf.errors import InputError
from videomae_tf.files import read_bytes

__all__ = [
    "FORMATS",
    "LABEL_MAPS",
    "MissingFilesError",
    "VideoRecord",
    "check_files",
    "load_label_map",
    "read_annotations",
    "write_annotations",
]

FORMATS = ("videomae", "mmaction2", "ma52", "rawframes", "v2_pretrain", "k400_csv")

#: Label maps shipped with the package, by name -> number of classes.
LABEL_MAPS = {
    "kinetics400": 400, "kinetics600": 600, "kinetics700": 700, "kinetics710": 710,
    "something_something_v2": 174, "ucf101": 101, "hmdb51": 51, "ma52": 52,
}
_LABEL_ALIASES = {"k400": "kinetics400", "k600": "kinetics600", "k700": "kinetics700",
                  "k710": "kinetics710", "ssv2": "something_something_v2",
                  "sthv2": "something_something_v2", "ucf": "ucf101", "hmdb": "hmdb51",
                  "ma-52": "ma52"}


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One line of an annotation list.

    ``label`` is ``None`` for pretraining lists (``-1`` or no label); ``num_frames`` is
    set when the list gives it (rawframes, V2 frame folders, K400 csv).
    """

    path: str
    label: int | None = None
    num_frames: int | None = None


class MissingFilesError(FileNotFoundError):
    """Some listed files do not exist; ``missing`` holds every one of them."""

    def __init__(self, missing: Sequence[str], total: int, source: str | None = None,
                 show: int = 20):
        self.missing = list(missing)
        where = f" listed in '{source}'" if source else ""
        lines = "\n  ".join(self.missing[:show])
        more = f"\n  ... and {len(self.missing) - show} more" if len(self.missing) > show else ""
        super().__init__(f"{len(self.missing)} of {total} files{where} do not exist:\n  "
                         f"{lines}{more}")


# --------------------------------------------------------------------------- list files

def read_annotations(file, format: str = "auto", root=None, suffix: str = ""
                     ) -> list[VideoRecord]:
    """Read an annotation list into records.

    Args:
        file: the list file.
        format: one of :data:`FORMATS`, or ``"auto"`` to tell from the first data line.
        root: folder that relative paths are joined to.
        suffix: appended to every path (``".mp4"`` for K400 lists of bare video ids).

    Raises:
        ValueError: a line does not fit the format (the message gives file and line).
    """
    if format != "auto" and format not in FORMATS:
        raise InputError(f"unknown annotation format '{format}'; expected 'auto' or one of "
                         f"{FORMATS}")
    records = []
    detected = None  # (format, line number) the first data line showed, in "auto"
    for lineno, line in enumerate(read_text(file).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fmt = format
        if format == "auto":
            try:
                fmt = _detect_format(line)
            except InputError as e:
                raise InputError(f"{file}, line {lineno}: {e}") from None
            if detected is None:
                detected = (fmt, lineno)
            elif fmt != detected[0] and (detected[0], fmt) not in _SAME_SHAPE:
                # the first line's guess is confirmed by every other line, never forced on it
                raise InputError(f"{file}, line {lineno}: reads as {fmt}, but line "
                                 f"{detected[1]} as {detected[0]}: the list mixes formats "
                                 f"(or a path ends in numbers); give the format: {line!r}")
            fmt = detected[0]
        if fmt == "k400_csv" and not records and _is_csv_header(line):
            continue
        try:
            path, label, num_frames = _PARSERS[fmt](line)
        except ValueError as e:
            raise InputError(f"{file}, line {lineno}: {e}: {line!r}") from None
        path = path + suffix
        if root is not None and not os.path.isabs(path):
            path = os.path.join(os.fspath(root), path)
        records.append(VideoRecord(path, label, num_frames))
    return records


def read_text(file) -> str:
    """A text file as UTF-8, or UTF-16 when it starts with a UTF-16 byte-order mark (what
    Windows editors and PowerShell write); a ValueError naming the file otherwise. ``file``
    may be a gfile URL (``gs://bucket/train.csv``)."""
    data = read_bytes(file)
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")  # -sig: tolerate a UTF-8 byte-order mark
    except UnicodeDecodeError as e:
        raise InputError(f"{file} is not UTF-8 text (byte {e.start} is {data[e.start:e.start + 1]!r}):"
                         " save it as UTF-8") from None


def write_annotations(records: Iterable[VideoRecord], file, format: str = "videomae",
                      root=None) -> None:
    """Write records as a ``videomae``/``mmaction2``/``ma52`` (``path label``),
    ``rawframes`` or ``v2_pretrain`` list; paths are made relative to ``root`` if given."""
    lines = []
    for r in records:
        path = os.path.relpath(r.path, root) if root is not None else r.path
        if format in ("videomae", "mmaction2", "ma52"):
            lines.append(f"{path} {_need_label(r)}")
        elif format == "rawframes":
            lines.append(f"{path} {r.num_frames} {_need_label(r)}")
        elif format == "v2_pretrain":
            lines.append(f"{path} 0 {-1 if r.num_frames is None else r.num_frames}")
        else:
            raise InputError(f"cannot write format '{format}'; expected videomae, mmaction2, "
                             "ma52, rawframes or v2_pretrain")
    Path(file).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _need_label(r: VideoRecord) -> int:
    if r.label is None:
        raise InputError(f"record '{r.path}' has no label")
    return r.label


def _split_right(line: str, n: int) -> list[str]:
    parts = line.rsplit(None, n)
    if len(parts) != n + 1:
        raise InputError(f"expected a path and {n} number(s)")
    return parts


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{what} '{text}' is not an integer") from None


def _label(text: str) -> int | None:
    value = _int(text, "label")
    return None if value < 0 else value


def _parse_path_label(line):
    path, label = _split_right(line, 1)
    return path, _label(label), None


def _parse_rawframes(line):
    path, total, label = _split_right(line, 2)
    return path, _label(label), _int(total, "total_frames")


def _parse_v2(line):
    path, start, total = _split_right(line, 2)
    _int(start, "start index")
    total = _int(total, "total_frames")
    return path, None, (None if total < 0 else total)


def _parse_k400_csv(line):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 3:
        raise InputError("expected 'video_id, num_frames, label_index'")
    return parts[0], _label(parts[2]), _int(parts[1], "num_frames")


_PARSERS = {"videomae": _parse_path_label, "mmaction2": _parse_path_label,
            "ma52": _parse_path_label, "rawframes": _parse_rawframes,
            "v2_pretrain": _parse_v2, "k400_csv": _parse_k400_csv}


def _is_csv_header(line: str) -> bool:
    parts = [p.strip() for p in line.split(",")]
    return len(parts) == 3 and not parts[1].lstrip("-").isdigit()


#: (format of the first line, format a later line reads as) that one list may hold: a V2
#: pretraining line whose start index is not 0 reads as rawframes.
_SAME_SHAPE = {("v2_pretrain", "rawframes")}


def _detect_format(line: str) -> str:
    if line.count(",") == 2:
        return "k400_csv"
    parts = line.split()
    numeric = 0
    for p in reversed(parts[1:]):
        if not p.lstrip("-").isdigit():
            break
        numeric += 1
    if numeric >= 2:
        # `path 0 -1` / `folder 0 total` (V2); a rawframes total of 0 frames is meaningless
        return "v2_pretrain" if parts[-2] == "0" else "rawframes"
    if numeric == 1:
        return "videomae"
    raise InputError(f"cannot tell the annotation format of the line {line!r}")


# ---------------------------------------------------------------------------- existence

def check_files(records: Sequence[VideoRecord], *, raise_error: bool = True,
                source: str | None = None) -> list[str]:
    """Find every record whose file (or frame folder) does not exist.

    Returns the missing paths (empty when all are there); with ``raise_error`` raises
    one :class:`MissingFilesError` listing all of them instead. ``source`` names the
    list file in the message.
    """
    missing = [r.path for r in records if not os.path.exists(r.path)]
    if missing and raise_error:
        raise MissingFilesError(missing, len(records), source)
    return missing


# ---------------------------------------------------------------------------- label maps

def load_label_map(name_or_path) -> list[str]:
    """Class names, index = class id, for a shipped dataset or a label file.

    ``name_or_path`` is a name from :data:`LABEL_MAPS` (aliases like ``k400`` and
    ``ssv2`` work) or a path to a file with one name per line, or ``index<TAB>name``
    lines (any order, indices 0..n-1 each once).
    """
    key = str(name_or_path).lower()
    key = _LABEL_ALIASES.get(key, key)
    if key in LABEL_MAPS:
        text = resources.files(__package__).joinpath("labels", f"{key}.txt").read_text("utf-8")
        source = f"{key}.txt"
    elif os.path.isfile(name_or_path):
        text, source = read_text(name_or_path), os.fspath(name_or_path)
    else:
        raise InputError(f"unknown label map '{name_or_path}': neither a file nor one of "
                         f"{sorted(LABEL_MAPS)}")
    names = _parse_label_lines([line for line in text.splitlines() if line.strip()], source)
    if key in LABEL_MAPS and len(names) != LABEL_MAPS[key]:
        raise InputError(f"label map {source} has {len(names)} classes, expected "
                         f"{LABEL_MAPS[key]}")
    return names


def _parse_label_lines(lines: list[str], source: str) -> list[str]:
    if not lines or not all("\t" in line and line.split("\t", 1)[0].strip().isdigit()
                            for line in lines):
        return [line.strip() for line in lines]
    by_index = {}
    for line in lines:
        index, name = line.split("\t", 1)
        by_index[int(index)] = name.strip()
    if sorted(by_index) != list(range(len(lines))):
        raise InputError(f"label map {source}: indices must be 0..{len(lines) - 1}, each once")
    return [by_index[i] for i in range(len(lines))]

