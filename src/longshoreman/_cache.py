"""The two cache layers in front of discovery, and ``list_entry_points``.

* The in-process memo keeps one snapshot of the current environment and hands out the
  same tuples while nothing changed.
* The on-disk cache keeps one file per environment (interpreter + ``sys.path``), so a
  new process skips the scan.

Both are checked on every call against *stamps*: one ``stat`` per ``sys.path`` entry (a
folder's mtime moves when a distribution is added, removed or renamed: install,
uninstall, upgrade, reinstall, editable install), plus the files of legacy
``*.egg-info`` folders, which their writers rewrite in place. Nanosecond timestamps are
compared for equality, with inode, device, ctime and size; a folder changed within
``RACY_NS`` of a scan is not trusted and that scan is not remembered (see
``_discovery``). The cache is only an optimisation: any problem with it is a miss (at
most one warning per file and process), never an exception and never a different
result.

A hit imports nothing but ``gc``, ``os``, ``stat``, ``sys`` and ``zlib``; in particular neither
``importlib.metadata`` nor ``importlib_metadata``.

File format (version 1), all text UTF-8 with surrogates passed through::

    b"longshoreman-cache/1\\n"
    b"<crc32 of key+index, 8 hex> <len(key)> <len(index)>\\n"
    key:   "\\0"-separated: tag, cwd, #sys.path, entries..., #stamps, (path, stamp)...
    index: one line per group:
           group \\0 offset (from the header's end) \\0 length \\0 #eps \\0 #dists \\0 crc32
    sections, one per group: "\\0".join(names + values + dist keys + dist rows)

A group's section holds everything a hit on that group needs, so a hit reads the
header and one section, and checks both against their CRC.
"""

from __future__ import annotations

import os
import sys
import zlib

from ._discovery import Scan, custom_finders, scan, stamp, without_gc
from ._entrypoints import Distribution, EntryPoint, _CachedEntryPoint, _DistTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._discovery import Stamp

__all__ = ["cache_dir", "cache_info", "clear_disk_cache", "invalidate_caches", "list_entry_points"]

MAGIC = b"longshoreman-cache/1\n"
SUFFIX = ".lscache"
#: The most cache files kept in the directory; the least recently written go first.
MAX_FILES = 32
#: Files larger than this are not read (a miss), nor written.
MAX_FILE_SIZE = 64 << 20
_HEAD_READ = 65536
_TAG = f"{sys.implementation.cache_tag}\0{sys.hexversion}\0{sys.executable}"

_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: object) -> None:
    if key in _warned:
        return
    _warned.add(key)
    import logging

    logging.getLogger("longshoreman").warning(message, *args)


# -- where the disk cache lives -------------------------------------------------------


def cache_dir() -> tuple[str | None, str]:
    """The disk cache folder for this process, or ``None`` with the reason."""
    if os.environ.get("LONGSHOREMAN_NO_CACHE", "").strip().lower() in ("1", "true", "yes", "on"):
        return None, "LONGSHOREMAN_NO_CACHE is set"
    explicit = os.environ.get("LONGSHOREMAN_CACHE_DIR", "")
    if explicit and os.path.isabs(explicit):
        return explicit, "LONGSHOREMAN_CACHE_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "longshoreman"), "XDG_CACHE_HOME"
    home = os.environ.get("HOME", "")
    if home and os.path.isabs(home):
        return os.path.join(home, ".cache", "longshoreman"), "HOME"
    return None, "no absolute LONGSHOREMAN_CACHE_DIR, XDG_CACHE_HOME or HOME"


def _unsafe(st: os.stat_result) -> str | None:
    if st.st_uid != os.geteuid():
        return "is not owned by the current user"
    if st.st_mode & 0o022:
        return "is writable by group or others"
    return None


def directory_problem(path: str) -> str | None:
    """Why the disk cache refuses the folder ``path`` (``None``: fine, or not there yet)."""
    import stat as stat_mod

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if stat_mod.S_ISLNK(st.st_mode):
        return "is a symlink"
    if not stat_mod.S_ISDIR(st.st_mode):
        return "is not a directory"
    return _unsafe(st)


def _safe_dir(path: str, create: bool) -> bool:
    import stat as stat_mod

    try:
        st = os.lstat(path)
    except OSError:
        if not create:
            return False  # nothing to read: a plain miss
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            os.mkdir(path, 0o700)
            st = os.lstat(path)
        except OSError as exc:
            _warn_once(path, "disk cache off: cannot create %s (%s)", path, exc)
            return False
    if stat_mod.S_ISLNK(st.st_mode) or not stat_mod.S_ISDIR(st.st_mode):
        _warn_once(path, "disk cache off: %s is a symlink or not a directory", path)
        return False
    problem = _unsafe(st)
    if problem:
        _warn_once(path, "disk cache off: %s %s", path, problem)
        return False
    return True


# -- the environment and its key ------------------------------------------------------


def _entries(path: Iterable[object]) -> tuple[list[str], str]:
    """Absolute ``sys.path`` entries, and the cwd when a relative one needed it."""
    cwd = ""
    out = []
    for item in path:
        try:
            entry = os.fsdecode(item)  # type: ignore[arg-type] # str, bytes or PathLike
        except TypeError:
            continue  # not a path at all: the import system ignores it too
        if not entry.startswith("/"):
            cwd = cwd or os.getcwd()
            entry = os.path.normpath(os.path.join(cwd, entry))
        out.append(entry)
    return out, cwd


def _key(entries: list[str], cwd: str) -> str:
    return "\0".join([_TAG, cwd, str(len(entries)), *entries])


def _file_name(key: str) -> str:
    data = key.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{SUFFIX}"


def _stamps_hold(stamps: list[tuple[str, Stamp]]) -> bool:
    for path, expected in stamps:  # noqa: SIM110 - a plain loop is the fastest form here
        if stamp(path) != expected:
            return False
    return True


# -- snapshots ------------------------------------------------------------------------


class _Snapshot:
    """One environment's entry points, with what must hold for them to be current."""

    __slots__ = ("_tuples", "cwd", "finders", "key", "path", "stamps", "volatile")

    def __init__(self, path: list[str], cwd: str, key: str, stamps: list[tuple[str, Stamp]]):
        self.path = path  # a copy of sys.path as it was
        self.cwd = cwd
        self.key = key
        self.stamps = stamps
        self.finders: list[object] = []
        self.volatile = False
        self._tuples: dict[str, tuple[EntryPoint, ...]] = {}

    def current(self) -> bool:
        if self.volatile or sys.path != self.path:
            return False
        if self.cwd and os.getcwd() != self.cwd:
            return False
        if custom_finders():
            return False
        return _stamps_hold(self.stamps)

    def group(self, namespace: str) -> tuple[EntryPoint, ...]:
        found = self._tuples.get(namespace)
        if found is None:
            found = self._tuples[namespace] = self._build(namespace)
        return found

    def _build(self, namespace: str) -> tuple[EntryPoint, ...]:
        raise NotImplementedError

    def counts(self) -> dict[str, int]:
        raise NotImplementedError

    def adopt(self, previous: _Snapshot | None) -> None:
        """Keep the previous snapshot's tuples for groups whose content is unchanged."""
        if previous is None or previous.key != self.key:
            return
        for namespace, old in previous._tuples.items():
            new = self.group(namespace)
            if _same(old, new):
                self._tuples[namespace] = old


def _same(a: tuple[EntryPoint, ...], b: tuple[EntryPoint, ...]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if (x.name, x.value, x.group) != (y.name, y.value, y.group) or x.dist != y.dist:
            return False
    return True


class _ScannedSnapshot(_Snapshot):
    __slots__ = ("_dists", "_groups")

    def __init__(self, path: list[str], cwd: str, key: str, result: Scan) -> None:
        super().__init__(path, cwd, key, result.stamps)
        self.volatile = result.volatile
        self._groups = result.groups
        self._dists = [Distribution(n, v, p) for n, v, p in result.dists]

    def _build(self, namespace: str) -> tuple[EntryPoint, ...]:
        dists = self._dists
        rows = self._groups.get(namespace, ())
        # A generator, so the entry points are made while the collector is paused.
        return without_gc(tuple, (EntryPoint(n, v, namespace, dists[i]) for n, v, i in rows))

    def counts(self) -> dict[str, int]:
        return {group: len(rows) for group, rows in self._groups.items()}


class _FileSnapshot(_Snapshot):
    """A snapshot read from a cache file; groups are decoded on first use."""

    __slots__ = ("_base", "_file", "_identity", "_index", "_sections")

    def __init__(
        self,
        path: list[str],
        cwd: str,
        key: str,
        stamps: list[tuple[str, Stamp]],
        file: str,
        identity: tuple[int, int, int],
        index: str,
        base: int,
    ) -> None:
        super().__init__(path, cwd, key, stamps)
        self._base = base  # section offsets count from the end of the header
        self._file = file
        self._identity = identity
        self._index = index
        self._sections: dict[str, bytes] = {}

    def _entry(self, namespace: str) -> tuple[int, int, int, int, int] | None:
        at = self._index.find("\n" + namespace + "\0")
        if at < 0:
            return None
        end = self._index.find("\n", at + 1)
        fields = self._index[at + 1 : end].split("\0")
        if len(fields) != 6:
            return None
        offset, length, n_eps, n_dists, crc = map(int, fields[1:])
        return self._base + offset, length, n_eps, n_dists, crc

    def _build(self, namespace: str) -> tuple[EntryPoint, ...]:
        try:
            entry = self._entry(namespace)
        except ValueError:
            entry = None
        if entry is None:
            return ()
        offset, length, n_eps, n_dists, crc = entry
        data = self._sections.pop(namespace, None)
        if data is None:
            data = _read_section(self._file, self._identity, offset, length)
        if data is None or zlib.crc32(data) != crc:
            raise _Stale
        # The distributions' block stays one string until an entry point's dist is read.
        parts = data.decode("utf-8", "surrogatepass").split("\0", 3 * n_eps)
        if n_eps < 1 or len(parts) != 3 * n_eps + 1 or parts[-1].count("\0") != 3 * n_dists - 1:
            raise _Stale
        table = _DistTable(parts[-1])
        from itertools import repeat

        eps = map(
            _CachedEntryPoint,
            parts[:n_eps],
            parts[n_eps : 2 * n_eps],
            repeat(namespace),
            parts[2 * n_eps : 3 * n_eps],
            repeat(table),
        )
        return without_gc(tuple, eps)

    def counts(self) -> dict[str, int]:
        out = {}
        for line in self._index.split("\n"):
            fields = line.split("\0")
            if len(fields) == 6 and fields[3].isdigit():
                out[fields[0]] = int(fields[3])
        return out


class _Stale(Exception):
    """A cache file changed or broke under a snapshot: rebuild from a scan."""


def _open_checked(file: str) -> tuple[int, os.stat_result] | None:
    import stat as stat_mod

    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP for a symlink, EACCES, ...
        _warn_once(file, "ignored cache file %s: %s", file, exc)
        return None
    try:
        st = os.fstat(fd)
        problem = _unsafe(st)
        if not stat_mod.S_ISREG(st.st_mode):
            problem = "is not a regular file"
        elif st.st_size > MAX_FILE_SIZE:
            problem = "is too large"
        if problem:
            _warn_once(file, "ignored cache file %s: it %s", file, problem)
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return fd, st


def _read_section(
    file: str, identity: tuple[int, int, int], offset: int, length: int
) -> bytes | None:
    opened = _open_checked(file)
    if opened is None:
        return None
    fd, st = opened
    try:
        if (st.st_ino, st.st_dev, st.st_mtime_ns) != identity:
            return None
        data = os.pread(fd, length, offset)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) == length else None


def _load(
    directory: str, path: list[str], entries: list[str], cwd: str, key: str, namespace: str
) -> _FileSnapshot | None:
    """The snapshot stored for this environment, if it is there, intact and current."""
    if not _safe_dir(directory, create=False):
        return None
    file = os.path.join(directory, _file_name(key))
    opened = _open_checked(file)
    if opened is None:
        return None
    fd, st = opened
    try:
        head = os.pread(fd, _HEAD_READ, 0)
        snapshot = _parse(head, fd, file, st, path, cwd, key)
        if snapshot is None:
            return None
        # The group asked for is read while the file is open: one open per cold hit.
        try:
            entry = snapshot._entry(namespace)
        except ValueError:
            entry = None
        if entry is not None:
            data = os.pread(fd, entry[1], entry[0])
            snapshot._sections[namespace] = data
        return snapshot
    except (OSError, ValueError, UnicodeDecodeError, IndexError):
        _warn_once(file, "ignored corrupt cache file %s", file)
        return None
    finally:
        os.close(fd)


def _parse(
    head: bytes, fd: int, file: str, st: os.stat_result, path: list[str], cwd: str, key: str
) -> _FileSnapshot | None:
    if not head.startswith(MAGIC):
        raise ValueError("bad magic")
    eol = head.index(b"\n", len(MAGIC))
    crc_text, key_len_text, index_len_text = head[len(MAGIC) : eol].split(b" ")
    key_len, index_len = int(key_len_text), int(index_len_text)
    start = eol + 1
    end = start + key_len + index_len
    if key_len < 0 or index_len < 0 or end > st.st_size:
        raise ValueError("bad lengths")
    if end > len(head):
        head = head[:start] + os.pread(fd, end - start, start)
    header = head[start:end]
    if len(header) != key_len + index_len or zlib.crc32(header) != int(crc_text, 16):
        raise ValueError("bad header checksum")
    stored = header[:key_len].decode("utf-8", "surrogatepass")
    index = header[key_len:].decode("utf-8", "surrogatepass")
    # The environment's key, then: #stamps, (path, stamp) pairs.
    if not stored.startswith(key + "\0"):
        return None  # another environment with the same file name: a miss
    rest = stored[len(key) + 1 :].split("\0")
    n_stamps = int(rest[0])
    if len(rest) != 1 + 2 * n_stamps:
        raise ValueError("bad stamps")
    stamps: list[tuple[str, Stamp]] = []
    for i in range(n_stamps):
        value = rest[2 + 2 * i]
        parsed: Stamp = None
        if value:
            mtime, ctime, inode, device, size = map(int, value.split(","))  # 5 ints, or ValueError
            parsed = (mtime, ctime, inode, device, size)
        stamps.append((rest[1 + 2 * i], parsed))
    if not _stamps_hold(stamps):
        return None
    identity = (st.st_ino, st.st_dev, st.st_mtime_ns)
    return _FileSnapshot(list(path), cwd, key, stamps, file, identity, index, end)


def _serialise(key: str, result: Scan) -> bytes | None:
    """The file for a scan, or ``None`` if something in it cannot be stored safely."""
    stamp_tokens: list[str] = [str(len(result.stamps))]
    for path, st in result.stamps:
        stamp_tokens += [path, ",".join(map(str, st)) if st is not None else ""]
    key_text = "\0".join([key, *stamp_tokens])
    sections: list[bytes] = []
    index_lines: list[str] = []
    offset = 0
    for group, rows in result.groups.items():
        dist_keys: dict[int, str] = {}
        dist_rows: list[str] = []
        for _, _, i in rows:
            if i not in dist_keys:
                dist_keys[i] = str(len(dist_keys))
                name, version, where = result.dists[i]
                dist_rows += [name, version, where or ""]
        fields = [name for name, _, _ in rows] + [value for _, value, _ in rows]
        fields += [dist_keys[i] for _, _, i in rows] + dist_rows
        section = "\0".join(fields)
        if section.count("\0") != len(fields) - 1 or "\n" in group or "\0" in group:
            return None  # a NUL or newline where a separator goes: do not cache
        data = section.encode("utf-8", "surrogatepass")
        index_lines.append(
            f"{group}\0{offset}\0{len(data)}\0{len(rows)}\0{len(dist_keys)}\0{zlib.crc32(data)}"
        )
        sections.append(data)
        offset += len(data)
    key_bytes = key_text.encode("utf-8", "surrogatepass")
    index_bytes = ("\n" + "\n".join(index_lines) + "\n").encode("utf-8", "surrogatepass")
    header = key_bytes + index_bytes
    top = MAGIC + f"{zlib.crc32(header):08x} {len(key_bytes)} {len(index_bytes)}\n".encode()
    blob = top + header + b"".join(sections)
    return blob if len(blob) <= MAX_FILE_SIZE else None


def _store(directory: str, key: str, result: Scan) -> None:
    blob = _serialise(key, result)
    if blob is None or not _safe_dir(directory, create=True):
        return
    final = os.path.join(directory, _file_name(key))
    if not _replaceable(final):
        return
    temp = os.path.join(directory, f".{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(
            temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(blob)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(temp, final)
    except OSError as exc:
        _warn_once(directory, "could not write the disk cache in %s: %s", directory, exc)
        try:
            os.unlink(temp)
        except OSError:
            pass
        return
    _prune(directory)


def _replaceable(file: str) -> bool:
    """A file in our place that is not ours (or is a link) is left alone, not replaced."""
    import stat as stat_mod

    try:
        st = os.lstat(file)
    except OSError:
        return True
    problem = "is a symlink" if stat_mod.S_ISLNK(st.st_mode) else _unsafe(st)
    if problem:
        _warn_once(file, "ignored cache file %s: it %s", file, problem)
        return False
    return True


def _prune(directory: str) -> None:
    """Keep at most MAX_FILES cache files; drop temp files left by dead writers."""
    import time

    try:
        names = os.listdir(directory)
    except OSError:
        return
    files = []
    now = time.time()
    for name in names:
        full = os.path.join(directory, name)
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if name.endswith(SUFFIX):
            files.append((st.st_mtime_ns, full))
        elif name.endswith(".tmp") and name.startswith(".") and now - st.st_mtime > 3600:
            _unlink(full)
    files.sort(reverse=True)
    for _, full in files[MAX_FILES:]:
        _unlink(full)


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
    except OSError:
        return False
    return True


# -- the process-wide cache -----------------------------------------------------------


class EntryPointCache:
    """The in-process memo plus the disk cache; one per process by default."""

    def __init__(self) -> None:
        self._snapshot: _Snapshot | None = None
        # longshoreman.testing's fake entry points: namespace -> layers (eps, replace).
        self._overlays: dict[str, list[tuple[tuple[EntryPoint, ...], bool]]] = {}
        self._overlaid: dict[str, tuple[tuple[EntryPoint, ...], tuple[EntryPoint, ...]]] = {}

    def push_overlay(self, namespace: str, eps: tuple[EntryPoint, ...], replace: bool) -> object:
        """Add fake entry points to a namespace until :meth:`pop_overlay` (for testing)."""
        layer = (eps, replace)
        self._overlays.setdefault(namespace, []).append(layer)
        self._overlaid.pop(namespace, None)
        return layer

    def pop_overlay(self, namespace: str, layer: object) -> None:
        layers = self._overlays.get(namespace, [])
        for i, candidate in enumerate(layers):
            if candidate is layer:
                del layers[i]
                break
        if not layers:
            self._overlays.pop(namespace, None)
        self._overlaid.pop(namespace, None)

    def _overlay(self, namespace: str, found: tuple[EntryPoint, ...]) -> tuple[EntryPoint, ...]:
        memo = self._overlaid.get(namespace)
        if memo is not None and memo[0] is found:
            return memo[1]  # same inputs, same tuple
        result = found
        for eps, replace in self._overlays[namespace]:
            result = eps if replace else result + eps
        self._overlaid[namespace] = (found, result)
        return result

    def snapshot(self, namespace: str = "", *, use_disk: bool = True) -> _Snapshot:
        """The current snapshot: the memo if still current, else the disk file, else a scan.

        ``namespace`` is the group about to be asked for (read while the file is open);
        ``use_disk=False`` skips the file, for when it just proved broken.
        """
        snap = self._snapshot
        if snap is not None and snap.current():
            return snap
        import time

        started = time.time_ns()
        path = list(sys.path)
        entries, cwd = _entries(path)
        key = _key(entries, cwd)
        finders = custom_finders()
        directory, _ = cache_dir()
        fresh: _Snapshot | None = None
        if use_disk and directory is not None and not finders:
            fresh = _load(directory, path, entries, cwd, key, namespace)
        if fresh is None:
            result = scan(entries, finders, started)
            fresh = _ScannedSnapshot(path, cwd, key, result)
            if directory is not None and not result.volatile:
                _store(directory, key, result)
        fresh.adopt(snap)
        self._snapshot = fresh
        return fresh

    def entry_points(self, namespace: str) -> tuple[EntryPoint, ...]:
        found = self._discovered(namespace)
        return self._overlay(namespace, found) if namespace in self._overlays else found

    def _discovered(self, namespace: str) -> tuple[EntryPoint, ...]:
        snap = self.snapshot(namespace)
        try:
            return snap.group(namespace)
        except (_Stale, ValueError, UnicodeDecodeError, IndexError):
            # The file changed or broke after the header was read: scan instead.
            self._snapshot = None
            directory, _ = cache_dir()
            if directory is not None:
                _warn_once(
                    f"stale:{directory}",
                    "cache file in %s changed while in use; rescanned",
                    directory,
                )
            return self.snapshot(namespace, use_disk=False).group(namespace)

    def invalidate(self) -> None:
        self._snapshot = None
        directory, _ = cache_dir()
        if directory is None or not _safe_dir(directory, create=False):
            return
        entries, cwd = _entries(list(sys.path))
        _unlink(os.path.join(directory, _file_name(_key(entries, cwd))))


_default: EntryPointCache | None = None


def default_cache() -> EntryPointCache:
    global _default  # noqa: PLW0603 - the lazily created process default
    if _default is None:
        _default = EntryPointCache()
    return _default


def list_entry_points(namespace: str) -> tuple[EntryPoint, ...]:
    """Every entry point of ``namespace``, in discovery order, importing nothing.

    The result is immutable; while nothing changed, repeated calls return the very same
    tuple. See the module docs of ``longshoreman._discovery`` for the order.
    """
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, not {type(namespace).__name__}")
    return default_cache().entry_points(namespace)


def entry_point_groups() -> dict[str, int]:
    """Every group in the environment with its number of entry points."""
    cache = default_cache()
    counts = cache.snapshot().counts()
    for namespace in cache._overlays:
        counts[namespace] = len(cache.entry_points(namespace))
    return counts


def invalidate_caches() -> None:
    """Drop the in-process memo and this environment's disk cache file.

    Named after :func:`importlib.invalidate_caches`; needed only after changes no
    installer makes (hand-editing an installed ``entry_points.txt``).
    """
    default_cache().invalidate()


def cache_info() -> dict[str, object]:
    """What ``longshoreman cache info`` shows: where the cache is, and what is in it."""
    directory, reason = cache_dir()
    files: list[dict[str, object]] = []
    info: dict[str, object] = {
        "directory": directory,
        "enabled": directory is not None,
        "reason": reason,
        "files": files,
    }
    if custom_finders():
        info["enabled"] = False
        info["reason"] = "a sys.meta_path finder other than the standard one provides distributions"
    if directory is None:
        return info
    problem = directory_problem(directory)
    if problem is not None:
        info["enabled"] = False
        info["reason"] = f"{directory} {problem}"
    entries, cwd = _entries(list(sys.path))
    current = _file_name(_key(entries, cwd))
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    for name in names:
        if name.endswith(SUFFIX):
            try:
                size = os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
            files.append({"name": name, "size": size, "current": name == current})
    return info


def clear_disk_cache() -> int:
    """Remove every environment's cache file; return how many were removed."""
    default_cache()._snapshot = None
    directory, _ = cache_dir()
    if directory is None or not _safe_dir(directory, create=False):
        return 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    return sum(_unlink(os.path.join(directory, n)) for n in names if n.endswith(SUFFIX))
