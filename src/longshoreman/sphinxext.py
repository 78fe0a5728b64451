"""Sphinx extension: ``.. list-plugins:: NAMESPACE`` documents the plugins of a namespace.

Add ``"longshoreman.sphinxext"`` to ``extensions`` in ``conf.py`` (install
``longshoreman[sphinx]``). The directive uses the synchronous discovery layer only and
imports each plugin to read its docstring; it never invokes a plugin, and never starts an
event loop. A plugin that cannot be imported becomes a Sphinx warning at the directive
(type ``longshoreman``, subtype ``load``, so ``suppress_warnings`` can silence it) and
the others are still rendered; a namespace with no plugins warns with subtype ``empty``.

Options, as stevedore's directive has them:

``detailed``
    A section per plugin, titled with its name, holding its whole docstring (a warning
    box when it has none). Without it: a bullet list of names and first docstring lines.
``titlecase``
    Section titles in title case (``detailed`` only).
``overline-style``, ``underline-style``
    The characters drawn over and under section titles (default: none over, ``=``
    under), to fit the section levels of the surrounding document.

Plugins are listed sorted by name; plugins sharing a name keep discovery order.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any, ClassVar

try:
    from docutils import nodes
    from docutils.parsers.rst import directives
    from docutils.statemachine import StringList
    from docutils.utils import column_width
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles
except ImportError as _missing:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "longshoreman.sphinxext needs Sphinx: install 'longshoreman[sphinx]'"
    ) from _missing

from . import __version__
from ._cache import list_entry_points

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from sphinx.application import Sphinx

    from ._entrypoints import EntryPoint

__all__ = ["ListPluginsDirective", "setup"]

LOG = logging.getLogger(__name__)


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


def _simple(loaded: list[tuple[EntryPoint, Any]]) -> Iterator[tuple[str, str]]:
    for ep, plugin in loaded:
        summary = (inspect.getdoc(plugin) or "").strip().partition("\n")[0].strip()
        yield (f"* {ep.name} -- {summary}" if summary else f"* {ep.name}"), ep.module


def _detailed(
    loaded: list[tuple[EntryPoint, Any]], over: str, under: str, titlecase: bool
) -> Iterator[tuple[str, str]]:
    for ep, plugin in loaded:
        source = ep.module
        title = ep.name.title() if titlecase else ep.name
        width = column_width(title)
        if over:
            yield over * width, source
        yield title, source
        if under:
            yield under * width, source
        yield "", source
        doc = inspect.getdoc(plugin)
        if doc:
            yield doc, source
        else:
            yield f".. warning:: No documentation found for {ep.name} in {ep.value}", source
        yield "", source


class ListPluginsDirective(SphinxDirective):
    """``.. list-plugins:: NAMESPACE``: the plugins of a namespace, with their docs."""

    # The namespace may follow the directive or sit in its content, as stevedore reads it.
    optional_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "class": directives.class_option,
        "detailed": directives.flag,
        "titlecase": directives.flag,
        "overline-style": directives.single_char_or_unicode,
        "underline-style": directives.single_char_or_unicode,
    }

    def run(self) -> list[nodes.Node]:
        words = self.arguments or list(self.content)
        namespace = " ".join(words).strip()
        if not namespace:
            raise self.error("list-plugins: give the namespace, as in '.. list-plugins:: NS'")
        location = self.get_location()
        eps = sorted(list_entry_points(namespace), key=lambda ep: ep.name)
        if not eps:
            LOG.warning(
                "list-plugins: no plugins in namespace %r",
                namespace,
                location=location,
                type="longshoreman",
                subtype="empty",
            )
        loaded: list[tuple[EntryPoint, Any]] = []
        for ep in eps:
            try:
                plugin = ep.load()
            except Exception as exc:  # one plugin's fault must not stop the build
                LOG.warning(
                    "list-plugins: cannot load %s (%s) from %s: %s: %s",
                    ep.name,
                    ep.value,
                    _origin(ep),
                    type(exc).__name__,
                    exc,
                    location=location,
                    type="longshoreman",
                    subtype="load",
                )
                continue
            loaded.append((ep, plugin))
            # Rebuild this page when the plugin's module (its docstrings) changes.
            module_file = getattr(sys.modules.get(ep.module), "__file__", None)
            if module_file:
                self.env.note_dependency(module_file)

        if "detailed" in self.options:
            lines = _detailed(
                loaded,
                over=self.options.get("overline-style", ""),
                under=self.options.get("underline-style", "="),
                titlecase="titlecase" in self.options,
            )
        else:
            lines = _simple(loaded)
        content = StringList()
        for text, source in lines:
            for offset, line in enumerate(text.splitlines() or [""]):
                content.append(line, source, offset)

        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container)
        result: list[nodes.Node] = list(container.children)
        for node in result:
            if isinstance(node, nodes.Element):
                node["classes"].extend(self.options.get("class", []))
        return result


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``list-plugins`` directive."""
    app.add_directive("list-plugins", ListPluginsDirective)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
