"""The Python code blocks of the README and the docs, found and run as the tests need them.

Every fenced block whose language is ``python`` in ``README.md`` and ``docs/**/*.md`` is a
snippet. The blocks of one document run in order, in one namespace (so a tutorial can
build on its earlier steps), with :mod:`tests.doc_prelude`'s names in scope. A block
with a top-level ``await`` runs as a coroutine under ``anyio.run`` on the backend being
tested; the others are executed as they are. Tracebacks point at the Markdown line.

Three HTML comments, invisible on GitHub, on the package index and in the Sphinx site,
steer this:

* ``<!-- invisible-code-block: python`` ... ``-->``: code run (and type-checked) in order
  with the visible blocks, for setup or checks a reader need not see;
* ``<!-- skip: next (why) -->``: the next block is not run (it needs something the tests
  do not have, such as stevedore itself);
* ``<!-- requires: MODULE -->``: the next block runs only where ``MODULE`` imports.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_SKIP = re.compile(r"^\s*<!--\s*skip:\s*next\b(?P<why>.*?)-->\s*$")
_REQUIRES = re.compile(r"^\s*<!--\s*requires:\s*(?P<module>[\w.]+)\s*-->\s*$")
_INVISIBLE = re.compile(r"^\s*<!--\s*invisible-code-block:\s*python\s*$")


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int  # 1-based line of the first line of code
    code: str
    hidden: bool = False
    skip: str | None = None
    requires: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def compile(self) -> Any:
        source = "\n" * (self.line - 1) + self.code
        return compile(
            source,
            str(self.path),
            "exec",
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )

    @property
    def is_async(self) -> bool:
        return bool(self.compile().co_flags & inspect.CO_COROUTINE)

    def runnable(self) -> bool:
        if self.skip is not None:
            return False
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def documents() -> list[Path]:
    """README.md and every Markdown page of the docs, in a stable order."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)
    return [ROOT / "README.md", *docs]


def snippets(path: Path) -> list[Snippet]:
    """The Python blocks of one Markdown file, visible and invisible, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Snippet] = []
    skip: str | None = None
    requires: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := _SKIP.match(line):
            skip = m["why"].strip(" ()") or "skipped"
        elif m := _REQUIRES.match(line):
            requires = m["module"]
        elif _INVISIBLE.match(line):
            end = i + 1
            while end < len(lines) and lines[end].strip() != "-->":
                end += 1
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Snippet(path, i + 2, code, hidden=True))
            i = end
        elif m := _FENCE.match(line):
            indent, fence, info = m["indent"], m["fence"], m["info"].strip()
            end = i + 1
            while end < len(lines) and not (
                lines[end].strip().startswith(fence[0] * len(fence))
                and not lines[end].strip().strip(fence[0])
            ):
                end += 1
            language = info.split()[0] if info else ""
            if language in ("python", "py"):
                body = [
                    text[len(indent) :] if text.startswith(indent) else text
                    for text in lines[i + 1 : end]
                ]
                code = textwrap.dedent("\n".join(body)) + "\n"
                found.append(Snippet(path, i + 2, code, skip=skip, requires=requires))
            skip = requires = None
            i = end
        i += 1
    return found


def all_snippets() -> list[Snippet]:
    return [snippet for path in documents() for snippet in snippets(path)]


def type_check_module(path: Path) -> str:
    """One document's snippets as a module for mypy and pyright.

    The blocks become, in order, the body of one ``async def``: top-level ``await`` is
    legal there and names flow from block to block, as when the document runs.
    """
    out = [
        f'"""The snippets of {path.relative_to(ROOT)}, for the type checkers."""',
        "# ruff: noqa",
        "from __future__ import annotations",
        "",
        "from doc_prelude import *",
        "",
        "",
        "async def _document() -> None:",
    ]
    for snippet in snippets(path):
        if snippet.runnable():
            out.append(f"    # {snippet.where}")
            out.append(textwrap.indent(snippet.code, "    ").rstrip())
    out.append("    pass")
    return "\n".join(out) + "\n"
