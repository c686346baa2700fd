"""Progress bars: tqdm on a terminal or in a notebook, nothing where output is logged."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["progress_bar"]

#: Size used when the terminal reports none (see :func:`progress_bar`).
_FALLBACK_SIZE = os.terminal_size((80, 24))


def _stderr_size() -> os.terminal_size | None:
    try:
        return os.get_terminal_size(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        # no stderr, no file descriptor (a notebook's stream), or not a terminal
        return None


def progress_bar(
    iterable: Any = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    initial: int = 0,
    progress: bool | None = None,
):
    """A ``tqdm.auto`` progress bar on standard error.

    Parameters
    ----------
    iterable : iterable, optional
        Wrapped like ``tqdm(iterable)``; or call ``update`` on the bar returned.
    total : int, optional
        Number of steps (default: ``len(iterable)``).
    desc : str, optional
        Text before the bar.
    initial : int
        Steps already done (a resumed sweep).
    progress : bool, optional
        ``True`` always shows the bar, ``False`` never; ``None`` (default) shows it on a
        terminal or in a notebook with ipywidgets, not when standard error is a file or pipe.

    Returns
    -------
    tqdm.tqdm
        A bar that leaves its last line on the terminal unless it is nested in another bar.

    Notes
    -----
    A pseudo-terminal whose size was never set (``script``, ``ssh -t`` from a program,
    ``pty.openpty``) reports 0 columns and 0 lines; tqdm then draws an empty bar, or none
    since it finds no line free for it: it looks as if there were no bar at all. Such a
    terminal gets the size ``_FALLBACK_SIZE``.
    """
    from tqdm.auto import tqdm

    size = _stderr_size()
    ncols = _FALLBACK_SIZE.columns if size is not None and size.columns == 0 else None
    nrows = _FALLBACK_SIZE.lines if size is not None and size.lines == 0 else None
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        initial=initial,
        disable=None if progress is None else not progress,
        ncols=ncols,
        nrows=nrows,
        leave=None,
    )
