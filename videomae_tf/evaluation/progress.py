"""A progress bar that is tqdm when installed and silent when disabled."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator

__all__ = ["batches_with_progress", "progress_bar"]


class _NoBar:
    def __init__(self, *args, **kwargs):
        pass

    def update(self, n=1):
        pass

    def set_postfix_str(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True):
    """A context-managed bar with ``update(n)``; writes to stderr so stdout stays parseable.
    Only on a terminal: on a file or pipe it would write a fragment per update."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but keep working without it
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                leave=False, mininterval=0.5)


def batches_with_progress(items: Iterable, batch_size: int, total: int | None, desc: str,
                          unit: str, enabled: bool = True) -> Iterator[list]:
    """Lists of up to ``batch_size`` of ``items`` as they arrive (the last may be shorter),
    each counted on a progress bar of ``total`` ``unit``s once it is handed out."""
    with progress_bar(total, desc, unit=unit, enabled=enabled) as bar:
        batch: list = []
        for item in items:
            batch.append(item)
            if len(batch) == batch_size:
                bar.update(len(batch))
                yield batch
                batch = []
        if batch:
            bar.update(len(batch))
            yield batch
