"""Training logs: TensorBoard scalars (``tf.summary``) and one CSV row per epoch."""

import csv
import os

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

# What tf.summary.scalar writes, without needing the tensorboard package installed.
_SCALAR = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
    plugin_name="scalars"))


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
