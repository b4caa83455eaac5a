"""What a person sees of a training run while it runs.

On a terminal: Keras' live bar for each epoch, then one summary line. On a file or a
pipe (cluster jobs, nohup, CI): no bar and no control codes, one plain line per epoch,
and on long epochs a line every ``every_seconds`` seconds, so a log reads top to bottom.
"""

import sys
import time

import keras

_SHOWN = ("loss", "top1", "lr")


def _format(values):
    parts = []
    for key, value in values.items():
        if key == "lr":
            parts.append(f"lr {value:.2e}")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4f}")
        else:
            parts.append(f"{key} {value}")
    return "  ".join(parts)


class TrainingProgress:
    """Progress of ``Trainer.fit``: ``start_epoch``, ``step`` after each step, ``end_epoch``.

    Args:
        enabled: False shows nothing.
        stream: where it goes (default: stdout).
        interactive: a live bar (default: when ``stream`` is a terminal).
        every_seconds: on a non-terminal, the least time between two in-epoch lines.
    """

    def __init__(self, enabled=True, stream=None, interactive=None, every_seconds=60.0):
        self.enabled = enabled
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.interactive = isatty() if interactive is None else interactive
        self.every_seconds = every_seconds
        self._bar = None

    def start_epoch(self, epoch, epochs, steps, done=0):
        """Epoch ``epoch`` (0-based) of ``epochs``, ``steps`` steps, ``done`` already run."""
        self._epoch, self._epochs, self._steps = epoch, epochs, steps
        self._last_line = time.monotonic()
        if self.enabled and self.interactive:
            self._bar = keras.utils.Progbar(steps, stateful_metrics=["lr"])

    def step(self, index, logs):
        """After step ``index`` (1-based within the epoch) with its ``logs``."""
        if not self.enabled:
            return
        shown = {k: logs[k] for k in _SHOWN if k in logs}
        if self._bar is not None:
            self._bar.update(index, list(shown.items()))
        elif time.monotonic() - self._last_line >= self.every_seconds and index < self._steps:
            self._write(f"epoch {self._epoch + 1}/{self._epochs}  step {index}/{self._steps}  "
                        f"{_format(shown)}")

    def end_epoch(self, row):
        """The epoch's summary row (``Trainer`` history): one line."""
        self._bar = None
        if not self.enabled:
            return
        values = {k.replace("train_", ""): v for k, v in row.items()
                  if k.startswith("train_") or k.startswith("val_") or k == "lr"}
        self._write(f"epoch {row['epoch']}/{self._epochs}  step {row['step']}  {_format(values)}"
                    f"  ({row['seconds']:.1f} s)")

    def _write(self, line):
        self.stream.write(line + "\n")
        self.stream.flush()
        self._last_line = time.monotonic()
