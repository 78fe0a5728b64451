"""Readable, bounded failure reports: the one place that turns a plugin's exception
into text for a log record.

A plugin's exception is untrusted: its ``__str__`` may raise, its message may be ten
megabytes long. Logging it directly can lose the record (``logging`` prints "--- Logging
error ---" and drops it) or flood the log. Here the message and the traceback are
rendered once, safely, and cut to a bound; the record still carries ``exc_info`` for
handlers that want the exception object.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._entrypoints import EntryPoint
    from ._extension import Extension

__all__ = ["LOG", "describe", "log_failure", "safe_str"]

LOG = logging.getLogger("longshoreman")


def _quiet_by_default() -> None:
    from . import _add_null_handler  # the package's NullHandler, once per process

    _add_null_handler()


_quiet_by_default()

#: The longest exception message kept in a record, and the longest traceback text.
MAX_MESSAGE = 2_000
MAX_TRACEBACK = 20_000


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}... [{len(text) - 2 * half} characters cut] ...{text[-half:]}"


def safe_str(exc: BaseException) -> str:
    """``TypeName: message``, whatever ``__str__``/``__repr__`` do, at most ~2 kB."""
    name = type(exc).__qualname__
    try:
        text = str(exc)
    except Exception:
        try:
            text = repr(exc)
        except Exception:
            text = f"<unprintable {name} object>"
    text = _cut(text, MAX_MESSAGE)
    return f"{name}: {text}" if text else name


def _traceback(exc: BaseException) -> str:
    # TracebackException renders a failing __str__ as "<exception str() failed>".
    try:
        text = "".join(traceback.TracebackException.from_exception(exc).format())
    except Exception:  # a pathological exception: keep the record, lose the frames
        text = safe_str(exc)
    return _cut(text.rstrip("\n"), MAX_TRACEBACK)


def describe(source: Extension[Any] | EntryPoint | None, fallback: str = "?") -> str:
    """``'name' (module:attr) from dist 1.0``: which plugin, and whose it is."""
    if source is None:
        return fallback
    from ._extension import Extension

    if isinstance(source, Extension):
        ep = source.entry_point
        text = f"{source.name!r} ({source.entry_point_target})"
    else:
        ep = source
        text = f"{ep.name!r} ({ep.value})"
    dist = ep.dist if ep is not None else None
    if dist is not None:
        text += f" from {dist.name} {dist.version}"
    return text


def log_failure(message: str, exc: BaseException, *, level: int = logging.ERROR) -> None:
    """Log ``message: <exception>`` with its traceback, as one bounded record."""
    if not LOG.isEnabledFor(level):
        return
    record = LOG.makeRecord(
        LOG.name,
        level,
        __file__,
        0,
        "%s: %s",
        (message, safe_str(exc)),
        (type(exc), exc, exc.__traceback__),
    )
    # Formatters use exc_text when it is set: the bounded rendering, computed safely.
    record.exc_text = _traceback(exc)
    LOG.handle(record)
