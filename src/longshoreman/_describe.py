"""How a plugin is named in messages: ``name (target) from distribution version``.

One wording for every place that reports a plugin (the CLI's ``check``, log records of
load and call failures), so a reader can grep one form and always learn the three
things that identify a plugin: its entry point name, what it points at, and which
installed distribution (at which version) declared it. Synchronous and dependency-free.
"""

from __future__ import annotations

from typing import Any

from ._entrypoints import EntryPoint
from ._extension import Extension

__all__ = ["describe_extension"]


def describe_extension(plugin: EntryPoint | Extension[Any]) -> str:
    """``"name (module:attr) from dist 1.2"`` for an entry point or an extension.

    An entry point whose distribution is unknown is ``"... from an unknown
    distribution"``; an extension built by hand, with no entry point (as
    ``make_test_instance`` allows), is just ``"name (module:attr)"``.
    """
    if isinstance(plugin, Extension):
        entry_point = plugin.entry_point
        text = f"{plugin.name} ({plugin.entry_point_target})"
        if entry_point is None:
            return text
    else:
        entry_point = plugin
        text = f"{plugin.name} ({plugin.value})"
    dist = entry_point.dist
    if dist is None:
        return f"{text} from an unknown distribution"
    return f"{text} from {dist.name} {dist.version}"
