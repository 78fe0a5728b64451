"""What discovery hands out: ``Distribution`` and ``EntryPoint``.

Both are deliberately light (``__slots__``, nothing imported at module level beyond the
builtins): a warm cache hit builds thousands of them, and the whole hit must cost less
than importing ``importlib.metadata`` would.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

__all__ = ["Distribution", "EntryPoint"]

_VALUE_RE: re.Pattern[str] | None = None


def _match_value(value: str) -> re.Match[str] | None:
    global _VALUE_RE  # noqa: PLW0603 - compiled on first use: `re` costs import time
    if _VALUE_RE is None:
        import re

        # The grammar importlib.metadata accepts: "module", "module:attr.sub", "[extras]".
        _VALUE_RE = re.compile(
            r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
        )
    return _VALUE_RE.match(value)


class Distribution:
    """The installed distribution an entry point came from.

    ``name`` is the ``Name`` its metadata declares and ``version`` its ``Version``;
    ``path`` is its metadata folder (``*.dist-info``/``*.egg-info``) when that is a
    plain folder, else ``None``.
    """

    __slots__ = ("_name", "_path", "_version")

    def __init__(self, name: str, version: str, path: str | None = None) -> None:
        self._name = name
        self._version = version
        self._path = path

    # Read-only: discovery hands the same objects to every caller.
    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return self._version

    @property
    def path(self) -> str | None:
        return self._path

    def __repr__(self) -> str:
        return f"Distribution(name={self.name!r}, version={self.version!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Distribution):
            return NotImplemented
        return (self.name, self.version, self.path) == (other.name, other.version, other.path)

    def __hash__(self) -> int:
        return hash((self.name, self.version, self.path))


class EntryPoint:
    """One ``name = value`` line of a distribution's ``entry_points.txt``.

    Behaves like :class:`importlib.metadata.EntryPoint` for ``name``, ``value``,
    ``group``, ``module``, ``attr``, ``extras``, ``dist``, ``load()`` and ``matches()``;
    equality and hashing use ``(name, value, group)`` as importlib's do. A value that does
    not follow the ``module:attr [extras]`` grammar is still an entry point (discovery
    never drops it); ``module``, ``attr``, ``extras`` and ``load()`` raise ``ValueError``
    for it, so loading it is an ordinary load failure.
    """

    __slots__ = ("_dist", "_group", "_name", "_table", "_value")

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None = None) -> None:
        self._name = name
        self._value = value
        self._group = group
        self._dist = dist
        self._table: _DistTable | None = None

    # Read-only, as importlib's are: every caller shares these objects.
    @property
    def name(self) -> str:
        return self._name

    @property
    def value(self) -> str:
        return self._value

    @property
    def group(self) -> str:
        return self._group

    @property
    def dist(self) -> Distribution | None:
        """The distribution that declared this entry point."""
        table = self._table
        if table is not None:
            self._dist = table.get(self._dist)  # type: ignore[arg-type]
            self._table = None
        return self._dist

    def _parsed(self) -> re.Match[str]:
        match = _match_value(self.value)
        if match is None:
            dist = self.dist
            origin = f" (from {dist.name} {dist.version})" if dist is not None else ""
            raise ValueError(
                f"malformed entry point value {self.value!r} for {self.name!r} in group "
                f"{self.group!r}{origin}: expected 'module', 'module:attr' or "
                "'module:attr [extra1, extra2]'"
            )
        return match

    @property
    def module(self) -> str:
        return self._parsed()["module"]

    @property
    def attr(self) -> str | None:
        return self._parsed()["attr"]

    @property
    def extras(self) -> list[str]:
        import re

        return re.findall(r"\w+", self._parsed()["extras"] or "")

    def load(self) -> Any:
        """Import the module and return the object the value names."""
        import importlib

        match = self._parsed()
        obj: Any = importlib.import_module(match["module"])
        for part in (match["attr"] or "").split("."):
            if part:
                obj = getattr(obj, part)
        return obj

    def matches(self, **params: Any) -> bool:
        """True if every given attribute equals the given value (importlib's API)."""
        return all(getattr(self, key) == value for key, value in params.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntryPoint):
            return NotImplemented
        return (self.name, self.value, self.group) == (other.name, other.value, other.group)

    def __hash__(self) -> int:
        return hash((self.name, self.value, self.group))

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"


class _DistTable:
    """Distributions of a cache file, turned into objects only when an entry point asks.

    A warm hit creates one ``EntryPoint`` per plugin and no ``Distribution`` at all until
    ``ep.dist`` is read. ``text`` is the raw ``"name\\0version\\0path\\0name..."`` block,
    split on first use.
    """

    __slots__ = ("_made", "_rows", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._rows: list[str] | None = None
        self._made: dict[str, Distribution] = {}

    def get(self, key: str) -> Distribution:
        dist = self._made.get(key)
        if dist is None:
            rows = self._rows
            if rows is None:
                rows = self._rows = self._text.split("\0")
            i = int(key) * 3
            name, version, path = rows[i : i + 3]
            dist = self._made[key] = Distribution(name, version, path or None)
        return dist


class _CachedEntryPoint(EntryPoint):
    """An entry point read from the disk cache; its ``dist`` is resolved on first use."""

    __slots__ = ()

    def __init__(self, name: str, value: str, group: str, key: str, table: _DistTable) -> None:
        self._name = name
        self._value = value
        self._group = group
        self._dist = key  # type: ignore[assignment]
        self._table = table
