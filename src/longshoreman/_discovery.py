"""Reading entry points off ``sys.path``, one distribution at a time.

This is the slow path, run when the cache misses. It never imports ``importlib.metadata``
for plain folders: it lists each ``sys.path`` folder once, reads every ``*.dist-info``
and ``*.egg-info`` it finds on its own (so a broken one only costs its own lines), and
returns everything the cache needs to serve and to validate the result later.

The order is the documented one: ``sys.path`` order; within one path entry, distributions
sorted by normalised name (then by folder name); within a distribution, file order. The
first distribution of a name shadows later ones (importlib's rule); a metadata folder
with no readable ``METADATA``/``PKG-INFO`` is not a distribution and shadows nothing; a
distribution whose metadata has no ``Name`` is listed (under its folder's name) but
shadows nothing either. Exact duplicates ``(name, value, group)`` are kept once, with the
first distribution that declared them.
"""

from __future__ import annotations

import gc
import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")

    #: ``(st_mtime_ns, st_ctime_ns, st_ino, st_dev, st_size)``, or ``None`` for "absent".
    Stamp = tuple[int, int, int, int, int] | None

__all__ = ["Scan", "scan", "stamp", "without_gc"]

#: Changes younger than this, relative to the start of a scan, are not trusted to be seen
#: by a later ``stat``: file-system clocks tick coarsely (a jiffy on Linux, a second or
#: two elsewhere), so a second write in the same tick would keep the same mtime. A scan
#: that sees such a young folder is served but not remembered.
RACY_NS = 2_000_000_000

_METADATA_READ = 16384
_MAX_METADATA = 1 << 20
_MAX_ENTRY_POINTS = 8 << 20


def stamp(path: str) -> Stamp:
    """What the cache remembers of a path to notice, later, that it changed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_size)


_warned: set[tuple[str, int]] = set()


def _warn(key: tuple[str, int], message: str, *args: object) -> None:
    """One WARNING per broken thing per process, however often it is scanned again.

    ``key`` names the file and its content (a fixed then re-broken file warns again).
    A young environment is rescanned on every call (see ``RACY_NS``): without this, each
    of those calls would repeat the warning.
    """
    if key in _warned:
        return
    if len(_warned) > 10_000:
        _warned.clear()
    _warned.add(key)
    import logging

    logging.getLogger("longshoreman").warning(message, *args)


def normalize(name: str) -> str:
    """PEP 503 normalisation: runs of ``-_.`` become one ``-``, lower case."""
    out: list[str] = []
    dash = False
    for ch in name.strip().lower():
        if ch in "-_.":
            dash = True
            continue
        if dash and out:
            out.append("-")
        dash = False
        out.append(ch)
    return "".join(out)


class _Dist:
    __slots__ = ("entry_points", "folder", "key", "name", "path", "version")

    def __init__(
        self,
        name: str,
        key: str | None,
        version: str,
        path: str | None,
        folder: str,
        entry_points: list[tuple[str, str, str]],
    ) -> None:
        self.name = name  # what the metadata says (or the folder's name, if it says nothing)
        self.key = key  # normalised Name, or None when the metadata has no Name
        self.version = version
        self.path = path
        self.folder = folder
        self.entry_points = entry_points  # (group, name, value), file order


class Scan:
    """The result of reading the environment.

    ``dists`` are the distributions that contributed entry points, as
    ``(name, version, path)``; ``groups`` maps each group to its ``(name, value,
    dist index)`` rows in discovery order; ``stamps`` is what must be unchanged for the
    result to still hold; ``volatile`` says the result must not be remembered (a
    distribution finder we cannot stamp, or a change too recent to trust).
    """

    __slots__ = ("dists", "groups", "stamps", "volatile")

    def __init__(self) -> None:
        self.dists: list[tuple[str, str, str | None]] = []
        self.groups: dict[str, list[tuple[str, str, int]]] = {}
        self.stamps: list[tuple[str, Stamp]] = []
        self.volatile = False


def parse_entry_points(data: bytes, where: str) -> list[tuple[str, str, str]]:
    """``(group, name, value)`` of an ``entry_points.txt``, skipping bad lines.

    Lines that are not valid UTF-8, that have no ``=``, an empty name, or come before
    any ``[group]`` header (or after a broken one) are skipped; one warning names the
    file, how many lines were skipped and the first of them.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        lines: Iterable[str | None] = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = list(_decode_lines(data))
    out: list[tuple[str, str, str]] = []
    bad: list[int] = []
    group: str | None = None
    for number, raw in enumerate(lines, 1):
        if raw is None:
            bad.append(number)
            continue
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            name = line[1:-1].strip() if line[-1] == "]" else ""
            if name:
                group = name
            else:
                group = None
                bad.append(number)
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if group is None or not sep or not name:
            bad.append(number)
            continue
        out.append((group, name, value.strip()))
    if bad:
        _warn(
            (where, hash(data)),
            "skipped %d malformed line(s) in %s (first: line %d); its other entry points are kept",
            len(bad),
            where,
            bad[0],
        )
    return out


def _decode_lines(data: bytes) -> Iterator[str | None]:
    for raw in data.split(b"\n"):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield None


def _read(path: str, limit: int) -> bytes | None:
    """Up to ``limit`` bytes of a file; ``None`` if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, limit)
        # Headers and entry point files are small; loop only for the rare large one.
        while len(data) < limit:
            more = os.read(fd, min(limit - len(data), 1 << 20))
            if not more:
                break
            data += more
        return data
    except OSError:
        return None
    finally:
        os.close(fd)


def _headers(data: bytes) -> tuple[str | None, str | None]:
    """``(Name, Version)`` from the header block of METADATA/PKG-INFO."""
    end = data.find(b"\n\n")
    if end >= 0:
        data = data[:end]  # the body (a long description) is none of our business
    name = version = None
    for raw in data.split(b"\n"):
        line = raw.strip()
        if not line:
            break
        head = line[:8].lower()
        if name is None and head.startswith(b"name:"):
            name = line[5:].strip().decode("utf-8", "replace") or None
        elif version is None and head == b"version:":
            version = line[8:].strip().decode("utf-8", "replace") or None
        else:
            continue
        if name is not None and version is not None:
            break
    return name, version


def _read_headers(path: str) -> tuple[str | None, str | None] | None:
    """``(Name, Version)`` from a METADATA/PKG-INFO file; ``None`` if unreadable."""
    data = _read(path, _METADATA_READ)
    if data is None:
        return None
    if len(data) == _METADATA_READ and b"\n\n" not in data and b"\n\r\n" not in data:
        data = _read(path, _MAX_METADATA) or data  # a header block longer than one read
    return _headers(data)


def _from_folder(base: str, folder: str, kind: str, scan: Scan) -> _Dist | None:
    path = f"{base}/{folder}" if base != "/" else f"/{folder}"
    stem = folder.rpartition(".")[0] if kind != "egg" else os.path.basename(base)[:-4]
    folder_name, _, folder_version = stem.partition("-")
    if kind != "dist-info":
        # Legacy writers (setup.py develop, egg_info) rewrite these files in place,
        # which changes no folder's mtime: remember the files themselves.
        for target in (path, f"{path}/entry_points.txt", f"{path}/PKG-INFO"):
            scan.stamps.append((target, stamp(target)))
    is_dir = True
    headers = _read_headers(f"{path}/{'METADATA' if kind == 'dist-info' else 'PKG-INFO'}")
    if headers is None and kind == "egg-info" and os.path.isfile(path):
        is_dir = False  # distutils wrote PKG-INFO as a single ``*.egg-info`` file
        headers = _read_headers(path)
    if headers is None:
        if os.path.exists(f"{path}/entry_points.txt"):
            _warn(
                (path, 0),
                "ignored %s: it has no readable METADATA/PKG-INFO, so it is not a distribution",
                path,
            )
        return None
    name, version = headers
    key = normalize(name) if name else None
    if name is None:
        _warn(
            (path, hash(version)),
            "%s has no Name in its metadata; listed as %r, shadowing nothing",
            path,
            folder_name,
        )
    entry_points: list[tuple[str, str, str]] = []
    if is_dir:
        data = _read(f"{path}/entry_points.txt", _MAX_ENTRY_POINTS)
        if data:
            entry_points = parse_entry_points(data, f"{path}/entry_points.txt")
    return _Dist(
        name or folder_name,
        key,
        version or folder_version,
        path if is_dir else None,
        folder,
        entry_points,
    )


def _from_directory(entry: str, scan: Scan) -> list[_Dist]:
    try:
        names = os.listdir(entry or ".")
    except OSError:
        return []
    dists = []
    for folder in names:
        low = folder.lower()
        if low.endswith(".dist-info"):
            dist = _from_folder(entry, folder, "dist-info", scan)
        elif low.endswith(".egg-info"):
            dist = _from_folder(entry, folder, "egg-info", scan)
        elif folder == "EGG-INFO" and entry.lower().endswith(".egg"):
            dist = _from_folder(entry, folder, "egg", scan)
        else:
            continue
        if dist is not None:
            dists.append(dist)
    return dists


def _from_finder_dists(found: Iterable[object], where: str) -> list[_Dist]:
    """Distributions handed over by importlib_metadata (zip files, custom finders)."""
    dists = []
    for dist in found:
        try:
            metadata = dist.metadata  # type: ignore[attr-defined]
            name = metadata["Name"] if metadata else None
            version = metadata["Version"] if metadata else None
            text = dist.read_text("entry_points.txt")  # type: ignore[attr-defined]
        except Exception as exc:  # a third-party finder's fault must not hide the rest
            _warn((where, hash(repr(exc))), "skipped a distribution from %s: %r", where, exc)
            continue
        if not name:
            continue
        eps = (
            parse_entry_points(text.encode("utf-8", "surrogatepass"), f"{name} ({where})")
            if text
            else []
        )
        dists.append(_Dist(name, normalize(name), version or "", None, name, eps))
    return dists


def _from_zip(entry: str) -> list[_Dist]:
    import importlib_metadata

    context = importlib_metadata.DistributionFinder.Context(path=[entry])  # type: ignore[no-untyped-call]
    found = importlib_metadata.MetadataPathFinder.find_distributions(context)
    return _from_finder_dists(found, entry)


def is_standard_finder(finder: object) -> bool:
    """The path-based finders of the stdlib and of the importlib_metadata backport."""
    kind = finder if isinstance(finder, type) else type(finder)
    return kind.__name__ in ("PathFinder", "MetadataPathFinder") and kind.__module__ in (
        "_frozen_importlib_external",
        "importlib._bootstrap_external",
        "importlib.machinery",
        "importlib_metadata",
        "importlib.metadata",
    )


def custom_finders() -> list[object]:
    """``sys.meta_path`` finders, other than the standard ones, that provide distributions."""
    return [
        finder
        for finder in sys.meta_path
        if getattr(finder, "find_distributions", None) is not None
        and not is_standard_finder(finder)
    ]


def without_gc(func: Callable[P, R], *args: P.args, **kwds: P.kwargs) -> R:
    """Run ``func`` with the cyclic garbage collector paused.

    Discovery and cache hits allocate bursts of small objects that form no cycles; a
    collection in the middle of such a burst only costs time (and grows with the heap).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return func(*args, **kwds)
    finally:
        if collecting:
            gc.enable()


def scan(entries: list[str], finders: list[object], started_ns: int) -> Scan:
    """Read every distribution visible through ``entries`` (absolute) and ``finders``."""
    return without_gc(_scan, entries, finders, started_ns)


def _scan(entries: list[str], finders: list[object], started_ns: int) -> Scan:
    result = Scan()
    ordered: list[_Dist] = []
    for entry in entries:
        try:
            st = os.stat(entry)
        except (OSError, ValueError):
            result.stamps.append((entry, None))
            continue
        result.stamps.append(
            (entry, (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_size))
        )
        found = _from_directory(entry, result) if stat.S_ISDIR(st.st_mode) else _from_zip(entry)
        found.sort(key=lambda d: (d.key or normalize(d.name), d.folder))
        ordered.extend(found)
    for finder in finders:
        import importlib_metadata

        where = type(finder).__qualname__
        context = importlib_metadata.DistributionFinder.Context()  # type: ignore[no-untyped-call]
        try:
            found_dists = list(finder.find_distributions(context))  # type: ignore[attr-defined]
        except Exception as exc:
            _warn((where, hash(repr(exc))), "distribution finder %s failed: %r", where, exc)
            continue
        ordered.extend(_from_finder_dists(found_dists, where))
        result.volatile = True

    seen: set[str] = set()
    unique: set[tuple[str, str, str]] = set()
    for dist in ordered:
        if dist.key is not None:
            if dist.key in seen:
                continue
            seen.add(dist.key)
        index = -1
        for group, name, value in dist.entry_points:
            if (name, value, group) in unique:
                continue
            unique.add((name, value, group))
            if index < 0:
                index = len(result.dists)
                result.dists.append((dist.name, dist.version, dist.path))
            result.groups.setdefault(group, []).append((name, value, index))

    horizon = started_ns - RACY_NS
    # Only mtime matters here: any later change to a listing sets mtime to "now", which
    # differs from a recorded mtime unless that one was itself in the current tick.
    for _, seen_stamp in result.stamps:
        if seen_stamp is not None and seen_stamp[0] >= horizon:
            result.volatile = True
            break
    return result
