"""The code in the README and the docs runs, and type-checks (SPEC §13).

Each document's Python blocks run in order in one namespace (``tests/doc_snippets.py``
says how, and which HTML comments steer it), on asyncio and on trio: a block with a
top-level ``await`` runs under ``anyio.run`` on that backend. The README's fragments find
fake ``myapp`` plugins (``tests/doc_prelude.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from . import doc_prelude
from .doc_snippets import ROOT, Snippet, all_snippets, documents, snippets, type_check_module

DOCUMENTS = documents()


def run_snippet(snippet: Snippet, namespace: dict[str, Any], backend: str) -> None:
    code = snippet.compile()
    if snippet.is_async:

        async def main() -> None:
            await eval(code, namespace)

        anyio.run(main, backend=backend)
    else:
        exec(code, namespace)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_code_blocks_run(path: Path, anyio_backend: str) -> None:
    found = snippets(path)
    namespace: dict[str, Any] = {"__name__": "__doc_snippets__"}
    exec("from tests.doc_prelude import *", namespace)
    with doc_prelude.install():
        for snippet in found:
            if not snippet.runnable():
                continue
            try:
                run_snippet(snippet, namespace, anyio_backend)
            except BaseException as exc:
                exc.add_note(f"in the code block at {snippet.where}")
                raise


def test_every_page_with_code_is_covered() -> None:
    # A page's Python blocks are all found: none is hidden in an unusual fence.
    counts = {p.relative_to(ROOT).as_posix(): len(snippets(p)) for p in DOCUMENTS}
    for page, minimum in {
        "README.md": 5,
        "docs/tutorial.md": 4,
        "docs/howto/lifespan.md": 2,
        "docs/howto/trio.md": 1,
        "docs/howto/testing.md": 3,
        "docs/howto/diagnosing.md": 2,
        "docs/migrating.md": 2,
    }.items():
        assert counts.get(page, 0) >= minimum, (page, counts)
    skipped = [s.where for s in all_snippets() if s.skip is not None]
    assert len(skipped) <= 2, skipped  # only what cannot run here (stevedore itself)


def test_the_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = text.split("```")
    assert blocks[1] == (
        "sh\npython3 -m venv .venv && .venv/bin/pip install ./examples/demo-plugins . && "
        ".venv/bin/python examples/demo.py\n"
    )
    assert blocks[3] == (
        "sh\npython3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
        ".venv/bin/python -m pytest\n"
    )


def test_the_readme_links_are_absolute() -> None:
    # The README is the package index's long description: relative links break there.
    text = (ROOT / "README.md").read_text()
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", text, flags=re.DOTALL)  # not in code
    targets = re.findall(r"\]\(([^)]+)\)", prose)
    relative = [t for t in targets if not t.startswith(("https://", "#"))]
    assert relative == []


def _type_checkers() -> tuple[str, str] | None:
    pyright = shutil.which("pyright", path=os.path.dirname(sys.executable))
    if pyright is None or importlib_missing("mypy"):
        return None
    return sys.executable, pyright


def importlib_missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


def test_the_code_blocks_type_check(tmp_path: Path) -> None:
    """mypy --strict and pyright (strict) accept every document's snippets."""
    tools = _type_checkers()
    if tools is None:
        # CI installs the checkers and sets the variable, so there this cannot be skipped.
        if os.environ.get("LONGSHOREMAN_REQUIRE_TYPECHECK"):
            pytest.fail("mypy and pyright are not installed: pip install -e '.[typecheck]'")
        pytest.skip("needs mypy and pyright: pip install -e '.[typecheck]'")
    python, pyright = tools
    shutil.copy(Path(doc_prelude.__file__), tmp_path / "doc_prelude.py")
    for path in DOCUMENTS:
        if any(s.runnable() for s in snippets(path)):
            name = path.relative_to(ROOT).with_suffix("").as_posix().replace("/", "_")
            (tmp_path / f"snippets_{name.replace('-', '_')}.py").write_text(type_check_module(path))
    prefix = Path(sys.prefix)
    config = {
        "typeCheckingMode": "strict",
        "venvPath": str(prefix.parent),
        "venv": prefix.name,
        # Snippets show a step; a name they bind need not be used again.
        "reportUnusedVariable": False,
        "reportUnusedClass": False,
        "reportUnusedFunction": False,
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix, "MYPY_CACHE_DIR": str(tmp_path / ".mypy")}
    mypy = subprocess.run(
        [python, "-m", "mypy", "--strict", "--no-warn-unused-configs", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    checked = subprocess.run(
        [pyright, "."], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
