"""Training logs: TensorBoard scalars and images (``tf.summary``), one CSV row per epoch,
and ``curves.png`` drawn from the CSV."""

import csv
import os

import cv2
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

# What tf.summary.scalar writes, without needing the tensorboard package installed.
_SCALAR = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
    plugin_name="scalars"))
_IMAGE = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
    plugin_name="images"))


class RunLog:
    """Writes ``<log_dir>/tensorboard`` and ``<log_dir>/log.csv``; inactive without a dir."""

    def __init__(self, log_dir=None):
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self._writer = None
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "tensorboard"))

    def scalars(self, step, values, prefix):
        """TensorBoard scalars ``prefix/name`` at ``step``."""
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.write(f"{prefix}/{name}", tf.constant(float(value), tf.float32),
                                 metadata=_SCALAR)

    def image(self, step, name, image_rgb):
        """A TensorBoard image ``name`` at ``step`` (uint8 RGB, PNG-encoded as
        ``tf.summary.image`` writes it)."""
        if self._writer is None:
            return
        ok, png = cv2.imencode(".png", cv2.cvtColor(np.asarray(image_rgb), cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"could not encode the {name} image")
        height, width = image_rgb.shape[:2]
        with self._writer.as_default(step=step):
            tf.summary.write(name, tf.constant([str(width), str(height), png.tobytes()]),
                             metadata=_IMAGE)

    def curves(self, path, title):
        """Draw ``log.csv`` into ``path`` (PNG); nothing without a log dir or rows."""
        from videomae_tf.training.curves import save_curves

        log_csv = os.path.join(self.log_dir or "", "log.csv")
        if self.log_dir and os.path.exists(log_csv):
            save_curves(log_csv, path, title)

    def row(self, values):
        """Append one row to log.csv; a resumed run keeps the columns of the existing file."""
        if not self.log_dir:
            return
        path = os.path.join(self.log_dir, "log.csv")
        header = None
        if os.path.exists(path):
            with open(path, newline="") as f:
                header = next(csv.reader(f), None)
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, header or list(values), extrasaction="ignore")
            if header is None:
                writer.writeheader()
            writer.writerow(values)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()
