"""The ``list-plugins`` Sphinx directive (SPEC §9), built in real tiny Sphinx projects."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from longshoreman import sphinxext

from .conftest import FakeEnv

NS = "lsm.docs.formatters"

PLUGINS = '''
class Plain:
    """Plain text output.

    Writes one value per line, with no decoration.
    """


def fancy():
    """A fancy formatter.

    Options
    -------

    width
        The line width.
    """


class NoDoc:
    pass
'''


@pytest.fixture
def env(fake_env: FakeEnv) -> FakeEnv:
    fake_env.module("doc_plugins.fmt", PLUGINS)
    fake_env.dist(
        "doc-plugins",
        "1.0",
        {
            NS: {
                "plain": "doc_plugins.fmt:Plain",
                "fancy": "doc_plugins.fmt:fancy",
                "nodoc": "doc_plugins.fmt:NoDoc",
            }
        },
    )
    fake_env.dist("broken-plugins", "0.3", {NS: {"broken": "doc_plugins.missing:Thing"}})
    return fake_env


def build(tmp_path: Path, body: str, builder: str = "text") -> tuple[str, list[str]]:
    """Build a one-page project using the directive; return the page and the warnings."""
    from sphinx.cmd.build import build_main

    src = tmp_path / "docs"
    src.mkdir()
    (src / "conf.py").write_text('extensions = ["longshoreman.sphinxext"]\n')
    (src / "index.rst").write_text("Plugins\n=======\n\n" + textwrap.dedent(body))
    out = tmp_path / "out"
    warnings = tmp_path / "warnings.txt"
    status = build_main(
        [str(src), str(out), "-b", builder, "-q", "-E", "--no-color", "-w", str(warnings)]
    )
    assert status == 0
    page = (out / ("index.txt" if builder == "text" else "index.html")).read_text()
    return page, warnings.read_text().splitlines()


def load_warning(index_line: int) -> str:
    return (
        f"index.rst:{index_line}: WARNING: list-plugins: cannot load broken "
        "(doc_plugins.missing:Thing) from broken-plugins 0.3: ModuleNotFoundError: "
        "No module named 'doc_plugins.missing' [longshoreman.load]"
    )


def test_simple_list(env: FakeEnv, tmp_path: Path) -> None:
    page, warnings = build(tmp_path, f".. list-plugins:: {NS}\n")
    assert page == (
        "Plugins\n"
        "*******\n"
        "\n"
        "* fancy -- A fancy formatter.\n"
        "\n"
        "* nodoc\n"
        "\n"
        "* plain -- Plain text output.\n"
    )
    assert [w.split("/docs/")[-1] for w in warnings] == [load_warning(4)]


def test_namespace_in_the_content_as_stevedore_wrote_it(env: FakeEnv, tmp_path: Path) -> None:
    page, _ = build(tmp_path, f".. list-plugins::\n\n   {NS}\n")
    assert "* plain -- Plain text output.\n" in page
    assert "* fancy -- A fancy formatter.\n" in page


def test_detailed(env: FakeEnv, tmp_path: Path) -> None:
    page, warnings = build(tmp_path, f".. list-plugins:: {NS}\n   :detailed:\n")
    # The default title style (underlined "=") is not the "-" the docstring uses, so the
    # docstring's "Options" becomes a subsection of its plugin's section.
    assert page == textwrap.dedent(
        """\
        Plugins
        *******


        fancy
        =====

        A fancy formatter.


        Options
        -------

        width
           The line width.


        nodoc
        =====

        Warning:

          No documentation found for nodoc in doc_plugins.fmt:NoDoc


        plain
        =====

        Plain text output.

        Writes one value per line, with no decoration.
        """
    )
    assert [w.split("/docs/")[-1] for w in warnings] == [load_warning(4)]


def section_titles(page: str) -> list[tuple[str, str]]:
    """(title, the character the text builder underlines it with: one per level)."""
    lines = page.splitlines()
    return [
        (lines[i], lines[i + 1][0])
        for i in range(len(lines) - 1)
        if lines[i]
        and lines[i + 1]
        and set(lines[i + 1]) == {lines[i + 1][0]}
        and len(lines[i + 1]) == len(lines[i])
        and lines[i + 1][0] in "*=-~"
    ]


def test_titlecase_and_underline_style(env: FakeEnv, tmp_path: Path) -> None:
    page, _ = build(
        tmp_path, f".. list-plugins:: {NS}\n   :detailed:\n   :titlecase:\n   :underline-style: -\n"
    )
    # Plugins titled like the docstring's own subsections: "Options" is now a sibling.
    assert section_titles(page) == [
        ("Plugins", "*"),
        ("Fancy", "="),
        ("Options", "="),
        ("Nodoc", "="),
        ("Plain", "="),
    ]


def test_overline_style(env: FakeEnv, tmp_path: Path) -> None:
    page, _ = build(
        tmp_path,
        f".. list-plugins:: {NS}\n   :detailed:\n   :overline-style: -\n   :underline-style: -\n",
    )
    # Over- and underlined "-" is a different style from underlined "-": nested again.
    assert section_titles(page) == [
        ("Plugins", "*"),
        ("fancy", "="),
        ("Options", "-"),
        ("nodoc", "="),
        ("plain", "="),
    ]


def test_detailed_lines() -> None:
    """The reST the directive writes for each plugin, with every option."""

    class Plugin:
        """Does things."""

    from longshoreman import EntryPoint

    ep = EntryPoint("csv-out", "pkg.mod:Plugin", NS)
    lines = list(sphinxext._detailed([(ep, Plugin)], over="#", under="~", titlecase=True))
    assert lines == [
        ("#######", "pkg.mod"),
        ("Csv-Out", "pkg.mod"),
        ("~~~~~~~", "pkg.mod"),
        ("", "pkg.mod"),
        ("Does things.", "pkg.mod"),
        ("", "pkg.mod"),
    ]


def test_empty_namespace_warns(env: FakeEnv, tmp_path: Path) -> None:
    page, warnings = build(tmp_path, "Before.\n\n.. list-plugins:: no.such.namespace\n")
    assert page == "Plugins\n*******\n\nBefore.\n"
    assert [w.split("/docs/")[-1] for w in warnings] == [
        "index.rst:6: WARNING: list-plugins: no plugins in namespace 'no.such.namespace' "
        "[longshoreman.empty]"
    ]


def test_missing_namespace_is_a_document_error(env: FakeEnv, tmp_path: Path) -> None:
    page, warnings = build(tmp_path, ".. list-plugins::\n   :detailed:\n")
    assert len(warnings) == 1
    message = "index.rst:4: ERROR: list-plugins: give the namespace, as in '.. list-plugins:: NS'"
    assert warnings[0].split("/docs/")[-1].startswith(message)
    assert "Plugins" in page


def test_class_option_in_html(env: FakeEnv, tmp_path: Path) -> None:
    page, _ = build(tmp_path, f".. list-plugins:: {NS}\n   :class: plugin-list\n", "html")
    assert '<ul class="plugin-list simple">' in page or '<ul class="simple plugin-list">' in page


def test_setup_registers_a_parallel_safe_directive() -> None:
    added: list[tuple[str, Any]] = []

    class App:
        def add_directive(self, name: str, cls: Any) -> None:
            added.append((name, cls))

    import longshoreman

    meta = sphinxext.setup(App())  # type: ignore[arg-type]
    assert added == [("list-plugins", sphinxext.ListPluginsDirective)]
    assert meta == {
        "version": longshoreman.__version__,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def test_sphinxext_never_imports_anyio(env: FakeEnv, tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys\n"
        "from sphinx.cmd.build import build_main\n"
        f"assert build_main([{str(tmp_path / 'docs')!r}, {str(tmp_path / 'out2')!r}, "
        "'-b', 'text', '-q', '-E']) == 0\n"
        "print('anyio' in sys.modules)\n"
    )
    build(tmp_path, f".. list-plugins:: {NS}\n   :detailed:\n")
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(env.root), "PATH": "", "LONGSHOREMAN_NO_CACHE": "1"},
        check=False,
    )
    assert done.stdout == "False\n"
    assert done.returncode == 0
