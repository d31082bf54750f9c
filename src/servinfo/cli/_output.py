"""Console helpers shared by every command: Rich consoles, JSON, and values as people read them.

Human output never shows a Python repr: :func:`human` writes booleans as yes/no,
dates in ISO 8601, sizes in bytes with a readable unit, mappings as ``key: value``
and sequences as lists; :func:`table` keeps id columns whole on narrow terminals.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "console",
    "err_console",
    "human",
    "log_to_stderr",
    "print_json",
    "progress_bar",
    "size",
    "table",
]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def log_to_stderr() -> None:
    """servinfo's log records (``INFO`` and up) on stderr, for a server or worker process."""
    import logging

    logger = logging.getLogger("servinfo")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@contextmanager
def progress_bar(label: str, *, quiet: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (none when ``quiet``, as for ``--json``); yields the
    ``progress(done, total)`` callback that long work (a sweep, a re-redaction) calls."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=err_console, disable=quiet
    ) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout, plainly, so scripts can parse it."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def size(count: int) -> str:
    """A number of bytes as people read it: ``16434`` → ``16.0 KiB``."""
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{count} bytes" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def human(value: Any, key: str = "") -> str:
    """``value`` as people read it; ``key`` names it (a ``size`` or ``…_bytes`` is a size)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and (key == "size" or key.endswith("_bytes")):
        return size(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        # A key with no value says nothing: "since, subjects …, until" read as if it did.
        shown = {k: v for k, v in value.items() if v is not None}
        return ", ".join(f"{k} {human(v, str(k))}".rstrip() for k, v in shown.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human(v, key) for v in value)
    return str(value)


def table(*columns: str, ids: Collection[str] = (), title: str | None = None) -> Table:
    """A Rich table whose ``ids`` columns are printed whole however narrow the terminal.

    Rich shrinks every column of a table wider than the terminal, ``no_wrap`` ones
    last; an id column's minimum width is therefore raised to its longest id as
    rows are added, so that other columns give way and no id is cut.
    """
    from rich.table import Table

    class _WholeIds(Table):
        def add_row(self, *cells: Any, **options: Any) -> None:
            super().add_row(*cells, **options)
            for column, cell in zip(self.columns, cells, strict=False):
                if column.no_wrap and isinstance(cell, str):
                    column.min_width = max(column.min_width or 0, len(cell))

    shown = _WholeIds(title=title)
    for name in columns:
        shown.add_column(name, no_wrap=name in ids, overflow="fold" if name in ids else "ellipsis")
    return shown
