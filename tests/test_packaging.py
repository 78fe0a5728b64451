"""What the package index and a reviewer see (SPEC §13): license, metadata, extras.

The built artefacts themselves (LICENSE in the sdist and the wheel, ``twine check
--strict``, the wheel in a clean venv) are checked by ``.ci/run``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import longshoreman

ROOT = Path(__file__).resolve().parents[1]


def project() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return data


def test_the_license_is_the_apache_2_text() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) == 202  # the canonical file, appendix included
    meta = project()
    assert meta["license"] == "Apache-2.0"
    assert meta["license-files"] == ["LICENSE"]


def test_classifiers_name_every_supported_python_and_the_status() -> None:
    classifiers = set(project()["classifiers"])
    for version in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert {"Typing :: Typed", "Framework :: AnyIO", "Framework :: Trio"} <= classifiers
    assert project()["requires-python"] == ">=3.11"


def test_project_urls_are_absolute() -> None:
    urls = project()["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())


def test_extras_install_what_ci_needs() -> None:
    extras = project()["optional-dependencies"]
    names = {
        key: {req.split("[")[0].split(">")[0].split("=")[0] for req in reqs}
        for key, reqs in extras.items()
    }
    assert {"sphinx", "furo", "myst-parser"} <= names["docs"]
    assert {"pyright", "mypy"} <= names["typecheck"]
    assert {"build", "twine"} <= names["release"]
    assert {"pytest", "pytest-timeout", "trio"} <= names["test"]


def test_the_version_is_the_metadata_version() -> None:
    assert longshoreman.__version__ == project()["version"]


def test_the_package_is_marked_typed() -> None:
    assert (ROOT / "src" / "longshoreman" / "py.typed").is_file()
