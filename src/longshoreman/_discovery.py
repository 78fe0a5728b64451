"""Reading entry points off ``sys.path``, one distribution at a time.

This is the slow path, run when the cache misses. It never imports ``importlib.metadata``
(nor the backport) for folders and zip files: it lists each ``sys.path`` entry once (a
folder with ``os.listdir``, a zip file or zipped egg with ``zipfile``, as importlib does),
reads every ``*.dist-info`` and ``*.egg-info`` it finds on its own (so a broken one only
costs its own lines), and returns everything the cache needs to serve and to validate the
result later.

The order is the documented one: ``sys.path`` order; within one path entry, distributions
sorted by normalised name (then by folder name); within a distribution, file order. The
first distribution of a name shadows later ones (importlib's rule). Within one path
entry, of two metadata folders of one name (``pip install --ignore-installed`` leaves
such pairs) the one ``importlib.metadata.version(name)`` reports wins: the first, in the
entry's listing order, whose folder name is that name. A folder whose name starts with
``~`` (pip's leftover of an interrupted upgrade, which pip ignores) is not a
distribution; neither is a metadata folder with no readable ``METADATA``/``PKG-INFO``:
both shadow nothing. A distribution whose metadata has no ``Name`` is listed (under its
folder's name) but shadows nothing either. Exact duplicates ``(name, value, group)`` are
kept once, with the first distribution that declared them.
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

    from . import _add_null_handler

    _add_null_handler()  # silent unless the application configures logging
    logging.getLogger("longshoreman").warning(message, *args)


def normalize(name: str) -> str:
    """PEP 503 normalisation: runs of ``-_.`` become one ``-``, lower case.

    Separators at either end are dropped as well. Written with ``str`` methods (no
    ``re``, which costs import time): a scan normalises two names per distribution.
    """
    low = name.strip().lower()
    if "_" in low or "." in low:
        low = low.replace("_", "-").replace(".", "-")
    while "--" in low:
        low = low.replace("--", "-")
    if low[:1] == "-" or low[-1:] == "-":
        low = low.strip("-")
    return low


class _Dist:
    __slots__ = ("entry_points", "folder", "key", "name", "path", "stem", "version")

    def __init__(
        self,
        name: str,
        key: str | None,
        version: str,
        path: str | None,
        folder: str,
        entry_points: list[tuple[str, str, str]],
        stem: str | None = None,
    ) -> None:
        self.name = name  # what the metadata says (or the folder's name, if it says nothing)
        self.key = key  # normalised Name, or None when the metadata has no Name
        self.version = version
        self.path = path
        self.folder = folder
        self.entry_points = entry_points  # (group, name, value), file order
        self.stem = stem  # the normalised name in the folder's name (importlib's lookup key)


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


_CHUNK = 16384


def _header_complete(data: bytes) -> bool:
    return b"\n\n" in data or b"\n\r\n" in data


def _read(path: str, limit: int, enough: Callable[[bytes], bool] | None = None) -> bytes | None:
    """Up to ``limit`` bytes of a file; ``None`` if it cannot be read.

    Reads in small chunks, growing only for a large file: ``os.read(fd, n)`` allocates
    ``n`` bytes first, and an 8 MiB buffer per ``entry_points.txt`` cost more than the
    rest of a scan. ``enough(data)`` true after the first chunk ends the read early (a
    header block that is complete needs no more of its file).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        want = min(limit, _CHUNK)
        data = os.read(fd, want)
        if enough is not None and enough(data):
            return data
        parts = [data]
        size = len(data)
        while data and size < limit:
            if len(data) == want:
                want = min(want * 4, 1 << 20)
            data = os.read(fd, min(want, limit - size))
            parts.append(data)
            size += len(data)
        return b"".join(parts)
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


def _read_headers(read: Callable[[int], bytes | None]) -> tuple[str | None, str | None] | None:
    """``(Name, Version)`` from a METADATA/PKG-INFO file; ``None`` if unreadable.

    ``read(limit)`` returns up to ``limit`` bytes of the file, or ``None``.
    """
    data = read(_METADATA_READ)
    if data is None:
        return None
    if len(data) == _METADATA_READ and not _header_complete(data):
        data = read(_MAX_METADATA) or data  # a header block longer than one read
    return _headers(data)


def _kind(low: str, base_is_egg: bool) -> str | None:
    """What a listed name is, by importlib's rules; ``low`` is the name in lower case."""
    if low.endswith(".dist-info"):
        return "dist-info"
    if low.endswith(".egg-info"):
        return "egg-info"
    if base_is_egg and low == "egg-info":
        return "egg"  # the EGG-INFO folder of an egg that is itself a sys.path entry
    return None


def _stem(entry: str, folder: str, kind: str) -> str:
    """``name-version`` part of a metadata folder's name (of the egg's, for EGG-INFO)."""
    if kind == "egg":
        return os.path.basename(entry).rpartition(".")[0]
    return folder.rpartition(".")[0]


def _dist(
    where: str,
    folder: str,
    stem: str,
    headers: tuple[str | None, str | None] | None,
    read_entry_points: Callable[[], bytes | None],
    has_entry_points: Callable[[], bool],
    path: str | None,
) -> _Dist | None:
    """The distribution in one metadata folder, or ``None`` if it is not one."""
    stem_name, _, stem_version = stem.partition("-")
    if headers is None:
        if has_entry_points():
            _warn(
                (where, 0),
                "ignored %s: it has no readable METADATA/PKG-INFO, so it is not a distribution",
                where,
            )
        return None
    name, version = headers
    key = normalize(name) if name else None
    if name is None:
        _warn(
            (where, hash(version)),
            "%s has no Name in its metadata; listed as %r, shadowing nothing",
            where,
            stem_name,
        )
    data = read_entry_points()
    entry_points = parse_entry_points(data, f"{where}/entry_points.txt") if data else []
    return _Dist(
        name or stem_name,
        key,
        version or stem_version,
        path,
        folder,
        entry_points,
        normalize(stem_name),
    )


def _from_folder(base: str, folder: str, kind: str, scan: Scan) -> _Dist | None:
    path = f"{base}/{folder}" if base != "/" else f"/{folder}"
    stem = _stem(base, folder, kind)
    if kind == "egg-info" and "-" not in stem:
        # setuptools' egg_info (setup.py develop, legacy editable installs) writes
        # ``Name.egg-info`` -- never with a version in the name -- and rewrites its files
        # in place, which changes no sys.path entry; but each run first touches the
        # folder itself (``os.utime``), and adds or removes files in it. Folders named
        # ``Name-version....egg-info`` are installed copies, replaced as a whole like a
        # dist-info, which the entry's own stamp sees.
        scan.stamps.append((path, stamp(path)))
    is_dir = True
    meta = f"{path}/{'METADATA' if kind == 'dist-info' else 'PKG-INFO'}"
    headers = _read_headers(lambda limit: _read(meta, limit, _header_complete))
    if headers is None and kind == "egg-info" and os.path.isfile(path):
        is_dir = False  # distutils wrote PKG-INFO as a single ``*.egg-info`` file
        headers = _read_headers(lambda limit: _read(path, limit, _header_complete))
    eps = f"{path}/entry_points.txt"
    return _dist(
        path,
        folder,
        stem,
        headers,
        lambda: _read(eps, _MAX_ENTRY_POINTS) if is_dir else None,
        lambda: os.path.exists(eps),
        path if is_dir else None,
    )


def _from_directory(entry: str, scan: Scan) -> list[_Dist]:
    try:
        # importlib.metadata lists the folder the same way, so "the first in listing
        # order" means the same folder for both.
        names = os.listdir(entry or ".")
    except (OSError, ValueError):
        return []
    base_is_egg = os.path.basename(entry).lower().endswith(".egg")
    dists = []
    for folder in names:
        if folder[:1] == "~":
            continue  # pip's leftover of an interrupted upgrade; pip ignores it
        kind = _kind(folder.lower(), base_is_egg)
        if kind is None:
            continue
        dist = _from_folder(entry, folder, kind, scan)
        if dist is not None:
            dists.append(dist)
    return dists


def _from_zip(entry: str) -> list[_Dist]:
    """Distributions in a zip file on ``sys.path`` (a zipped egg, a bundle), read directly.

    The names are taken as importlib does: the first path component of every member, in
    the archive's order. Anything that is not a readable zip file gives nothing, as it
    does for importlib.
    """
    import zipfile

    try:
        archive = zipfile.ZipFile(entry)
    except Exception:  # not a zip file, unreadable, truncated, ...
        return []
    with archive:
        names = archive.namelist()
        members = set(names)

        def read(member: str, limit: int) -> bytes | None:
            if member not in members:
                return None
            try:
                with archive.open(member) as file:
                    return file.read(limit)
            except Exception:  # a damaged member (bad CRC, unknown compression, ...)
                return None

        base_is_egg = os.path.basename(entry).lower().endswith(".egg")
        dists = []
        for folder in dict.fromkeys(name.split("/", 1)[0] for name in names):
            if folder[:1] == "~":
                continue
            kind = _kind(folder.lower(), base_is_egg)
            if kind is not None:
                dist = _from_zip_folder(entry, folder, kind, read, members)
                if dist is not None:
                    dists.append(dist)
        return dists


def _from_zip_folder(
    entry: str,
    folder: str,
    kind: str,
    read: Callable[[str, int], bytes | None],
    members: set[str],
) -> _Dist | None:
    meta = f"{folder}/{'METADATA' if kind == 'dist-info' else 'PKG-INFO'}"
    eps = f"{folder}/entry_points.txt"
    headers = _read_headers(lambda limit: read(meta, limit))
    if headers is None and kind == "egg-info" and folder in members:
        # A single-file ``*.egg-info``: it is the PKG-INFO, and there are no entry points.
        return _dist(
            f"{entry}/{folder}",
            folder,
            _stem(entry, folder, kind),
            _read_headers(lambda limit: read(folder, limit)),
            lambda: None,
            lambda: False,
            None,
        )
    return _dist(
        f"{entry}/{folder}",
        folder,
        _stem(entry, folder, kind),
        headers,
        lambda: read(eps, _MAX_ENTRY_POINTS),
        lambda: eps in members,
        None,
    )


def _entry_order(found: list[_Dist]) -> list[_Dist]:
    """The distributions of one ``sys.path`` entry, in the documented order.

    ``found`` is in the entry's listing order. Of several folders of one name, the one
    ``importlib.metadata.version(name)`` reports is kept: importlib looks the name up
    among folders whose own name carries it, and takes the first in listing order; a
    folder with that Name under another folder name comes after those. The others would
    be shadowed by it anyway.
    """
    best: dict[str, _Dist] = {}
    out: list[_Dist] = []
    for dist in found:
        key = dist.key
        if key is None:
            out.append(dist)  # no Name: shadows nothing, so nothing to choose
            continue
        kept = best.get(key)
        if kept is None or (kept.stem != key and dist.stem == key):
            best[key] = dist
    out.extend(best.values())
    out.sort(key=lambda d: (d.key or normalize(d.name), d.folder))
    return out


def _from_finder_dists(found: Iterable[object], where: str) -> list[_Dist]:
    """Distributions handed over by a ``sys.meta_path`` finder, through importlib_metadata."""
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
    found: list[object] = []
    for finder in sys.meta_path:
        try:
            if getattr(finder, "find_distributions", None) is None or is_standard_finder(finder):
                continue
        except Exception:
            pass  # a finder that cannot even be inspected is not one of the standard ones
        found.append(finder)
    return found


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
        ordered.extend(_entry_order(found))
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
