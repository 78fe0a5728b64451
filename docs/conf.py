"""Sphinx configuration of longshoreman's documentation site.

Build it as CI does, from the repository root::

    pip install -e '.[docs]' ./examples/demo-plugins
    sphinx-build -W -n -b html docs docs/_build/html

The demo plugins must be installed: the site documents them with longshoreman's own
``list-plugins`` directive.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

try:
    importlib.metadata.distribution("longshoreman-demo-plugins")
except importlib.metadata.PackageNotFoundError as exc:  # pragma: no cover - a setup error
    raise RuntimeError(
        "the docs show the demo plugins: pip install ./examples/demo-plugins"
    ) from exc

project = "longshoreman"
author = "longshoreman developers"
copyright = "longshoreman developers"  # noqa: A001 - Sphinx's name
release = version = importlib.metadata.version("longshoreman")

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "longshoreman.sphinxext",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"longshoreman {release}"

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# -n (nitpicky): every cross-reference must resolve. The site is built offline, so names
# from the standard library and from anyio cannot be linked (no intersphinx); the type
# variables are not documented objects either.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(collections\.abc|typing|types|contextlib|importlib|pathlib|logging)\..*"),
    (r"py:.*", r"(anyio|sphinx|docutils)(\..*)?"),
    (r"py:.*", r"(longshoreman\.(_\w+|exceptions)\.)?(T|R|P|E_co|E2|P\.args|P\.kwargs|Self)"),
    (r"py:class", r"Sphinx"),
    (r"py:.*", r"(Awaitable|Callable|Iterable|Iterator|Sequence|Mapping|ItemsView|Any)"),
    (r"py:.*", r"(Concatenate|Generator|TracebackType|ExceptionGroup|BaseExceptionGroup)"),
]

_PRIVATE = re.compile(r"longshoreman\.(?:_\w+|exceptions)\.(?P<name>\w+(?:\.\w+)*)")


def _public_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Type hints name a class by its private module (``longshoreman._manager.X``); the
    site documents it where users import it (``longshoreman.X``)."""
    if node.get("refdomain") != "py":
        return None
    match = _PRIVATE.fullmatch(node.get("reftarget", ""))
    if match is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        f"longshoreman.{match['name']}",
        node,
        contnode,
    )


def setup(app: Any) -> None:
    app.connect("missing-reference", _public_name)
