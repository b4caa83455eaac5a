"""Video data: decoders, annotation lists, samplers, transforms, tf.data pipelines and the
embedded synthetic dataset.

The modules for decoding, annotations and the synthetic dataset use no TensorFlow
themselves; the tf.data builders (``finetune_dataset`` ...) are loaded on first use.
"""

from videomae_tf.data.annotations import (
    FORMATS,
    LABEL_MAPS,
    MissingFilesError,
    VideoRecord,
    check_files,
    load_label_map,
    read_annotations,
    write_annotations,
)
from videomae_tf.data.decoders import (
    BACKENDS,
    VideoDecodeError,
    VideoReader,
    available_backends,
    read_clip,
)
from videomae_tf.data.synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset

_PIPELINE = ("DecodeErrorLog", "SAMPLERS", "finetune_dataset", "pretrain_dataset",
             "multiview_dataset", "validation_dataset", "video_dataset")


def __getattr__(name):  # lazy: importing the pipeline imports TensorFlow
    if name in _PIPELINE:
        from videomae_tf.data import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'videomae_tf.data' has no attribute '{name}'")


__all__ = [
    "BACKENDS", "FORMATS", "LABEL_MAPS", "SYNTHETIC_CLASSES",
    "MissingFilesError", "VideoDecodeError", "VideoReader", "VideoRecord",
    "available_backends", "check_files", "load_label_map",
    "make_synthetic_dataset", "read_annotations", "read_clip", "write_annotations",
    *_PIPELINE,
]
