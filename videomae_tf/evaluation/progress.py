"""A progress bar that is tqdm when installed and silent when disabled."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


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
