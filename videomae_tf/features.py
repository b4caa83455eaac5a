"""Per-video embeddings of a trained model: the ``videomae-tf features`` command's engine.

    from videomae_tf.features import extract_features
    report = extract_features(model, "val.txt", "features/")     # one .npy per video
    report = extract_features(model, ["a.mp4", "b.mp4"], "features.h5")  # one HDF5 file

Each video is cut into test views (``TestViews``: clips x crops, as in evaluation); the
video's embedding is the mean over its views of the model's pooled features
(``forward_features``: fc_norm of the mean token for a classifier; the mean of the
encoder's normalised tokens for a pretraining model). Optionally the per-view features
(``clips``) and the token maps (``tokens``, (views, T', H', W', D)) are kept too.

Outputs are named after the video's path relative to ``root`` (the list's data folder)
without its extension, so ``class_a/x.mp4`` becomes ``class_a/x.npy`` or the HDF5 group
``class_a/x``. A video whose output exists is skipped, so an interrupted run resumes; a
video that cannot be decoded is reported and the others are written.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from videomae_tf.errors import InputError
from videomae_tf.evaluation.predict import TestViews, views_dataset
from videomae_tf.evaluation.progress import progress_bar
from videomae_tf.files import check_space, write_bytes_atomic

__all__ = ["FEATURE_VIEWS", "FeatureReport", "extract_features", "feature_function",
           "feature_names", "load_features"]

#: Default views for features: one centred clip, one centre crop (fast; raise for
#: multi-view embeddings).
FEATURE_VIEWS = TestViews(num_clips=1, num_crops=1)

POOLED, CLIPS, TOKENS = "pooled", "clips", "tokens"

#: Where an output keeps the settings its features were made with (a file in a folder, an
#: attribute of an HDF5 file): a resumed run must use the same ones.
SETTINGS_NAME = "features_settings.json"


@dataclasses.dataclass
class FeatureReport:
    """What ``extract_features`` did: names written and skipped, videos that failed."""

    output: str
    written: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # path -> reason

    def summary(self) -> str:
        line = (f"features: {len(self.written)} written, {len(self.skipped)} already there, "
                f"{len(self.failed)} failed -> {self.output}")
        if self.failed:
            path, reason = next(iter(self.failed.items()))
            line += f"\nfailed (first of {len(self.failed)}): {path}: {reason}"
        return line


# ------------------------------------------------------------------------------ names

def feature_names(paths: Sequence[str], root: str | os.PathLike | None = None) -> list[str]:
    """The output name of each video: its path relative to ``root`` without the extension
    ('/'-separated), or the file stem when there is no root or the video is outside it.

    Raises ValueError when two videos would get the same name.
    """
    names = []
    for path in paths:
        rel = None
        if root is not None:
            rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
            if rel.startswith(os.pardir):
                rel = None
        name = Path(rel).with_suffix("").as_posix() if rel else Path(path).stem
        names.append(name)
    seen: dict[str, str] = {}
    for name, path in zip(names, paths):
        if name in seen:
            raise InputError(f"two videos would write the same features '{name}': {seen[name]} "
                             f"and {path} (give their common folder as the root)")
        seen[name] = path
    return names


# ---------------------------------------------------------------------------- writers

def _stored_settings(text, where) -> dict:
    try:
        stored = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: the stored feature settings are not JSON ({e}); this "
                         "output was not written by `videomae-tf features`") from None
    if not isinstance(stored, dict):
        raise InputError(f"{where}: the stored feature settings are not a JSON object")
    return stored


def _check_settings(where, stored: dict, wanted: dict) -> None:
    """InputError when ``where`` holds features made otherwise than ``wanted``: skipping
    its videos as done would mix two kinds of features in one output."""
    if stored != wanted:
        differ = sorted(k for k in {*stored, *wanted} if stored.get(k) != wanted.get(k))
        detail = ", ".join(f"{k}={stored.get(k)!r} there, {wanted.get(k)!r} now" for k in differ)
        raise InputError(f"{where} holds features made with other settings ({detail}): "
                         "choose a new --output, or the same settings to resume")


def feature_settings(model, views: TestViews, windows) -> dict:
    """What decides a video's pooled features, as JSON: the model (``model_fingerprint``)
    and its dtype policy, and the views or the TAD windows."""
    made_by = {"model": model_fingerprint(model), "policy": model.dtype_policy.name}
    if windows is not None:
        return {"kind": "tad", **dataclasses.asdict(windows), "size": list(windows.size),
                **made_by}
    return {"kind": "views", **dataclasses.asdict(views), **made_by}


def model_fingerprint(model) -> str:
    """A short hash of the model's class, config and weights (their shapes and first
    values: cheap for a billion parameters, and two trained models differ there)."""
    import hashlib

    from keras import ops

    digest = hashlib.sha256(type(model).__name__.encode())
    config = {k: v for k, v in model.get_config().items() if k not in ("name", "dtype")}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for weight in model.weights:
        digest.update(str(tuple(weight.shape)).encode())
        values = np.asarray(ops.convert_to_numpy(ops.cast(weight, "float32"))).reshape(-1)
        digest.update(values[:64].tobytes())
    return digest.hexdigest()[:16]


def _npy_file(folder: Path, name: str, kind: str) -> Path:
    """``<name>.npy`` for the pooled features, ``<name>.<kind>.npy`` for the others."""
    return folder / (f"{name}.npy" if kind == POOLED else f"{name}.{kind}.npy")


class _NpyFolder:
    """``<name>.npy`` (pooled), ``<name>.clips.npy``, ``<name>.tokens.npy`` under a folder;
    the pooled file is written last, so its presence means the video is complete."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._settings: dict | None = None  # to store with the first video written
        folder.mkdir(parents=True, exist_ok=True)

    def settings(self, wanted: dict) -> None:
        """Check ``wanted`` against the settings stored here; stored with the first video."""
        path = self.folder / SETTINGS_NAME
        self._settings = None if path.is_file() else wanted
        if path.is_file():
            _check_settings(path, _stored_settings(path.read_bytes(), path), wanted)

    def has(self, name: str) -> bool:
        return _npy_file(self.folder, name, POOLED).is_file()

    def write(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        for kind in sorted(arrays, key=lambda k: k == POOLED):  # pooled last
            path = _npy_file(self.folder, name, kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == POOLED and self._settings is not None:  # before the first video ends
                write_bytes_atomic(self.folder / SETTINGS_NAME,
                                   json.dumps(self._settings, indent=1).encode())
                self._settings = None
            # through memory: numpy's own file writes can stop short without an error
            buffer = io.BytesIO()
            np.save(buffer, arrays[kind])
            write_bytes_atomic(path, buffer.getvalue())

    def close(self) -> None:
        pass


class _H5File:
    """One group per video in an HDF5 file, written under a temporary name and moved into
    place, so a group under its final name is always complete."""

    _PARTIAL = "__partial__"

    def __init__(self, path: Path):
        import h5py

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._settings: dict | None = None  # to store with the first video written
        check_space(path, 0)
        try:
            self.file = h5py.File(path, "a")
        except OSError as e:
            raise InputError(f"{path} exists and is not an HDF5 file we can append to ({e})") \
                from None
        if self._PARTIAL in self.file:  # left by an interrupted run of ours
            del self.file[self._PARTIAL]

    def settings(self, wanted: dict) -> None:
        """Check ``wanted`` against the settings stored here; stored with the first video."""
        stored = self.file.attrs.get(SETTINGS_NAME)
        self._settings = None if stored is not None else wanted
        if stored is not None:
            _check_settings(self.path, _stored_settings(stored, self.path), wanted)

    def has(self, name: str) -> bool:
        return name in self.file and POOLED in self.file[name]

    def write(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        check_space(self.path, sum(a.nbytes for a in arrays.values()),
                    already=self.path.stat().st_size)
        partial = f"{self._PARTIAL}/{name}"
        for kind, array in arrays.items():
            self.file.create_dataset(f"{partial}/{kind}", data=array)
        if name in self.file:  # an incomplete group (no pooled features)
            del self.file[name]
        if self._settings is not None:  # before the first video is complete
            self.file.attrs[SETTINGS_NAME] = json.dumps(self._settings)
            self._settings = None
        self.file.move(partial, name)
        self.file.flush()

    def close(self) -> None:
        if self._PARTIAL in self.file:
            del self.file[self._PARTIAL]
        self.file.close()


def feature_output(output: Path):
    """The writer of a features output: an HDF5 file (``.h5``) or a folder of ``.npy``."""
    return _H5File(output) if output.suffix in (".h5", ".hdf5") else _NpyFolder(output)


def load_features(source: str | os.PathLike, names: Sequence[str], kind: str = POOLED
                  ) -> np.ndarray:
    """Stack the ``kind`` features of ``names`` from a features folder or ``.h5`` file.

    Raises KeyError naming the first video that has none.
    """
    source = Path(source)
    if source.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(source, "r") as f:
            missing = [n for n in names if n not in f or kind not in f[n]]
            if missing:
                raise KeyError(f"{source} has no {kind} features for {len(missing)} of "
                               f"{len(names)} videos (first: '{missing[0]}')")
            return np.stack([f[n][kind][()] for n in names])
    missing = [n for n in names if not _npy_file(source, n, kind).is_file()]
    if missing:
        raise KeyError(f"{source} has no {kind} features for {len(missing)} of {len(names)} "
                       f"videos (first: '{missing[0]}'; run `videomae-tf features` first)")
    return np.stack([np.load(_npy_file(source, n, kind)) for n in names])


# ---------------------------------------------------------------------------- extract

def feature_function(model, token_map: bool = False) -> Callable[[np.ndarray], dict]:
    """``clips -> {"pooled": (B, D)[, "tokens": (B, T', H', W', D)]}`` for a VideoMAE
    classifier, backbone or pretraining model, compiled once on TensorFlow."""
    import keras
    from keras import ops

    from videomae_tf.models import VideoMAEPretrainer
    from videomae_tf.models.backbone import EncoderModel

    if isinstance(model, EncoderModel):  # a VideoMAEClassifier or VideoMAEBackbone
        def forward(clips):
            out = model.forward_backbone(clips, training=False)
            return {POOLED: out["pooled"], **({TOKENS: out["token_map"]} if token_map else {})}
    elif isinstance(model, VideoMAEPretrainer):
        encoder = model.encoder

        def forward(clips):
            tokens = encoder(clips, training=False)[:, encoder.num_prefix_tokens:]
            out = {POOLED: ops.mean(tokens, axis=1)}
            if token_map:
                out[TOKENS] = ops.reshape(tokens, (ops.shape(tokens)[0], *encoder.grid,
                                                   encoder.embed_dim))
            return out
    else:
        raise TypeError(f"features need a VideoMAE classifier, backbone or pretraining model, "
                        f"got {type(model).__name__}")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        forward = tf.function(forward, reduce_retracing=True)
    # float32 out whatever the policy (a mixed_bfloat16 model computes in bf16)
    return lambda clips: {k: np.asarray(v).astype(np.float32, copy=False)
                          for k, v in forward(clips).items()}


def extract_features(model, videos, output: str | os.PathLike, *, root=None,
                     views: TestViews = FEATURE_VIEWS, per_clip: bool = False,
                     token_map: bool = False, windows=None, batch_size: int = 8,
                     backend: str = "auto", progress: bool = True) -> FeatureReport:
    """Write the embeddings of ``videos`` to ``output`` (a folder of ``.npy``, or a ``.h5``).

    ``videos``: an annotation list file, ``VideoRecord``s or video paths; ``root``: the
    folder relative paths start from, and what output names are relative to. Videos
    already in ``output`` are skipped; videos that cannot be decoded are in the report's
    ``failed`` and nothing else is lost. ``model``: a VideoMAE classifier, backbone or
    pretraining model, or a path ``videomae_tf.load_model`` reads.

    ``windows`` (a ``videomae_tf.tad.TadWindows``, or a preset name: ``"thumos14"``,
    ``"fineaction"``) switches to dense-window features for temporal action detection:
    per video one ``(windows, D)`` array of every window's pooled features, as VideoMAE
    V2's ``extract_tad_feature.py`` makes them (``videomae_tf.tad``); ``views``,
    ``per_clip`` and ``token_map`` do not apply then.
    """
    from videomae_tf.data.annotations import VideoRecord, read_annotations
    from videomae_tf.models import load_model

    if isinstance(model, (str, os.PathLike)):
        model = load_model(model)
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if windows is not None:
        windows = _tad_windows(windows, model, per_clip or token_map)
    if isinstance(videos, (str, os.PathLike)):
        records = read_annotations(videos, root=root)
    else:
        records = [v if isinstance(v, VideoRecord) else VideoRecord(os.fspath(v)) for v in videos]
        if root is not None:
            records = [r if os.path.isabs(r.path) else
                       dataclasses.replace(r, path=os.path.join(os.fspath(root), r.path))
                       for r in records]
    names = feature_names([r.path for r in records], root)
    output = Path(output)
    report = FeatureReport(str(output))
    writer = feature_output(output)
    try:
        writer.settings(feature_settings(model, views, windows))
        report.skipped = [name for name in names if writer.has(name)]
        done = set(report.skipped)
        todo = [(r, name) for r, name in zip(records, names) if name not in done]
        if todo and windows is not None:
            from videomae_tf.tad import extract_windows

            extract_windows(feature_function(model), todo, writer, report, windows,
                            batch_size, backend, progress)
        elif todo:
            _extract(model, todo, writer, report, views=views, per_clip=per_clip,
                     token_map=token_map, batch_size=batch_size, backend=backend,
                     progress=progress)
    finally:
        writer.close()
    return report


def _tad_windows(windows, model, per_view: bool):
    """``windows`` as TadWindows (a preset name looked up), checked against the model."""
    from videomae_tf.tad import TAD_PRESETS, TadWindows, check_model_fits

    if per_view:
        raise InputError("per_clip and token_map are per-view outputs; TAD windows give one "
                         "(windows, D) array per video")
    if isinstance(windows, str):
        if windows not in TAD_PRESETS:
            raise InputError(f"unknown TAD preset {windows!r}; expected one of "
                             f"{', '.join(TAD_PRESETS)}")
        windows = TAD_PRESETS[windows]
    if not isinstance(windows, TadWindows):
        raise InputError(f"windows must be a TadWindows or a preset name, got {windows!r}")
    check_model_fits(getattr(model, "encoder", model).clip_shape, windows)
    return windows


def _extract(model, todo, writer, report, *, views, per_clip, token_map, batch_size, backend,
             progress) -> None:
    """Run the model over the views of ``todo`` and write each video once its views are in
    (a video's views are adjacent in the dataset, so at most one video is held)."""
    from videomae_tf.data.annotations import VideoRecord
    from videomae_tf.data.pipeline import DecodeErrorLog

    forward = feature_function(model, token_map=token_map)
    records = [VideoRecord(r.path, 0) for r, _ in todo]  # labels unused
    error_log = DecodeErrorLog()
    clip_shape = getattr(model, "encoder", model).clip_shape
    dataset = views_dataset(records, clip_shape, views, batch_size=batch_size,
                            on_error="skip", error_log=error_log, backend=backend)
    held: dict[str, list] = {}
    current = None

    def flush():
        if current is None:
            return
        arrays = {POOLED: np.mean(np.stack(held[POOLED]), axis=0)}
        if per_clip:
            arrays[CLIPS] = np.stack(held[POOLED])
        if token_map:
            arrays[TOKENS] = np.stack(held[TOKENS])
        name = todo[current][1]
        writer.write(name, arrays)
        report.written.append(name)

    with progress_bar(len(todo) * views.per_video, "features", unit="view",
                      enabled=progress) as bar:
        for batch in dataset.as_numpy_iterator():
            out = forward(batch["video"])
            for i, video_id in enumerate(batch["video_id"]):
                if video_id != current:
                    flush()
                    current, held = int(video_id), {POOLED: [], TOKENS: []}
                for kind in out:
                    held[kind].append(out[kind][i])
            bar.update(len(batch["video"]))
        flush()
    report.failed.update(error_log.failures)
