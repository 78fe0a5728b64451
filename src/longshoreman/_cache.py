"""The two cache layers in front of discovery, and ``list_entry_points``.

* The in-process memo keeps one snapshot of the current environment and hands out the
  same tuples while nothing changed.
* The on-disk cache keeps one file per environment (interpreter + ``sys.path``), so a
  new process skips the scan.

Both are checked on every call against *stamps*: one ``stat`` per ``sys.path`` entry (a
folder's mtime moves when a distribution is added, removed or renamed: install,
uninstall, upgrade, reinstall, editable install; a zip file is rewritten whole), plus one
per ``Name.egg-info`` folder, which setuptools' ``egg_info`` rewrites in place after
touching the folder. Nanosecond timestamps are compared for equality, with inode,
device, ctime and size; a folder changed within ``RACY_NS`` of a scan is not trusted and
that scan is not remembered (see ``_discovery``). The cache is only an optimisation: any
problem with it is a miss (at most one warning per file and process), never an exception
and never a different result.

The cache folder is opened once per operation (``O_NOFOLLOW``, then checked with
``fstat``) and every file in it is read, written, renamed and removed relative to that
descriptor, so swapping the folder for a symlink halfway never redirects anything.

A hit imports nothing but ``gc``, ``os``, ``stat``, ``sys`` and ``zlib``; in particular neither
``importlib.metadata`` nor ``importlib_metadata``.

File format, version 2 (version 1 files came from a discovery that chose differently
between two copies of one distribution; they are misses), all text UTF-8 with
surrogates passed through::

    b"longshoreman-cache/2\\n"
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

from ._discovery import Scan, custom_finders, scan, without_gc
from ._entrypoints import Distribution, EntryPoint, _CachedEntryPoint, _DistTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._discovery import Stamp

__all__ = ["cache_dir", "cache_info", "clear_disk_cache", "invalidate_caches", "list_entry_points"]

MAGIC = b"longshoreman-cache/2\n"
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

    from . import _add_null_handler

    _add_null_handler()  # silent unless the application configures logging
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _reopen(path: str, failure: OSError) -> int | None:
    """After ``os.open`` failed with ``failure`` (not ENOENT): ``None`` if the folder is
    missing after all, a descriptor if it is a real folder now (another process made it
    in between), or -1 after warning that it is unusable."""
    import stat as stat_mod

    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None  # missing (or a parent is a file: creating it will say so)
    except OSError as exc:
        _warn_once(path, "disk cache off: cannot inspect %s (%s)", path, exc)
        return -1
    if stat_mod.S_ISLNK(st.st_mode) or not stat_mod.S_ISDIR(st.st_mode):
        _warn_once(path, "disk cache off: %s is a symlink or not a directory", path)
        return -1
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError:
        _warn_once(path, "disk cache off: cannot open %s (%s)", path, failure.strerror)
        return -1


def _open_dir(path: str, create: bool) -> int | None:
    """A descriptor of the cache folder, checked; ``None`` if it cannot or must not be used.

    Everything in the folder is then reached relative to this descriptor (``dir_fd=``),
    so the checks made here hold for every later operation, however the path changes.
    A missing folder is created (``create=True``) or is a plain miss; at most one
    warning per folder and process says why the disk cache is off.
    """

    fd: int | None
    try:
        fd = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        fd = None  # not there (yet)
    except OSError as exc:
        fd = _reopen(path, exc)  # a look at what is there: it may have appeared meanwhile
        if fd is not None and fd < 0:
            return None
    if fd is None:
        if not create:
            return None  # nothing to read: a plain miss
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass  # another process made it first: use it, after the same checks
            fd = os.open(path, _DIR_FLAGS)
        except OSError as exc:
            _warn_once(path, "disk cache off: cannot create %s (%s)", path, exc)
            return None
    try:
        problem = _unsafe(os.fstat(fd))
    except OSError as exc:
        problem = f"cannot be inspected ({exc.strerror})"
    if problem:
        os.close(fd)
        _warn_once(path, "disk cache off: %s %s", path, problem)
        return None
    return fd


# -- the environment and its key ------------------------------------------------------


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None  # the working directory was deleted (or cannot be reached)


def _entries(path: Iterable[object]) -> tuple[list[str], str | None]:
    """Absolute ``sys.path`` entries, and the cwd when a relative one needed it.

    The cwd is ``""`` when no entry is relative, and ``None`` when one is but the working
    directory is gone: such entries are then kept relative, so the operating system
    resolves them as it does for importlib (``""`` becomes ``"."``), and nothing about
    that environment is remembered.
    """
    cwd: str | None = ""
    out = []
    for item in path:
        try:
            entry = os.fsdecode(item)  # type: ignore[arg-type] # str, bytes or PathLike
        except Exception:
            continue  # not a path at all: the import system ignores it too
        if not entry.startswith("/"):
            if cwd == "":
                cwd = _getcwd()
            # Without a cwd, the operating system resolves the entry as importlib's does.
            entry = (entry or ".") if cwd is None else os.path.normpath(os.path.join(cwd, entry))
        out.append(entry)
    return out, cwd


def _key(entries: list[str], cwd: str | None) -> str:
    return "\0".join([_TAG, "\0" if cwd is None else cwd, str(len(entries)), *entries])


def _file_name(key: str) -> str:
    data = key.encode("utf-8", "surrogatepass")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{SUFFIX}"


def _stamps_hold(stamps: list[tuple[str, Stamp]]) -> bool:
    stat = os.stat
    for path, expected in stamps:
        # ``_discovery.stamp``, inlined: this loop is most of a memo hit's cost.
        try:
            st = stat(path)
        except (OSError, ValueError):
            if expected is not None:
                return False
            continue
        if expected != (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_size):
            return False
    return True


# -- snapshots ------------------------------------------------------------------------


class _Snapshot:
    """One environment's entry points, with what must hold for them to be current."""

    __slots__ = ("_tuples", "cwd", "key", "meta_path", "path", "stamps", "volatile")

    def __init__(
        self, path: list[str], cwd: str | None, key: str, stamps: list[tuple[str, Stamp]]
    ) -> None:
        self.path = path  # a copy of sys.path as it was
        self.cwd = cwd
        self.key = key
        self.stamps = stamps
        self.meta_path = list(sys.meta_path)  # as it was, with no custom finder in it
        # Without a working directory, relative entries cannot be told apart: never reuse.
        self.volatile = cwd is None
        self._tuples: dict[str, tuple[EntryPoint, ...]] = {}

    def current(self) -> bool:
        try:
            if self.volatile or sys.path != self.path:
                return False
            if self.cwd and _getcwd() != self.cwd:
                return False
            if sys.meta_path != self.meta_path:
                if custom_finders():
                    return False
                self.meta_path = list(sys.meta_path)
        except Exception:  # an object on sys.path or sys.meta_path whose == raises
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
        """Keep the previous snapshot's tuples for groups whose content is unchanged.

        Builds every group the previous snapshot had built: for a file snapshot that can
        raise ``_Stale``, and the caller falls back to a scan.
        """
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

    def __init__(self, path: list[str], cwd: str | None, key: str, result: Scan) -> None:
        super().__init__(path, cwd, key, result.stamps)
        self.volatile = self.volatile or result.volatile
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

    __slots__ = ("_base", "_directory", "_identity", "_index", "_name", "_sections")

    def __init__(
        self,
        path: list[str],
        cwd: str,
        key: str,
        stamps: list[tuple[str, Stamp]],
        directory: str,
        name: str,
        identity: tuple[int, int, int],
        index: str,
        base: int,
    ) -> None:
        super().__init__(path, cwd, key, stamps)
        self._base = base  # section offsets count from the end of the header
        self._directory = directory
        self._name = name
        self._identity = identity
        self._index = index
        self._sections: dict[str, bytes] = {}

    @property
    def file(self) -> str:
        return os.path.join(self._directory, self._name)

    def _entry(self, namespace: str) -> tuple[int, int, int, int, int] | None:
        """Where the group's section is: ``(offset, length, #eps, #dists, crc)``."""
        if "\0" in namespace or "\n" in namespace:
            # The index's separators: no stored group has them (a scan that finds such a
            # group is never written), and searching for them would match another line.
            return None
        at = self._index.find("\n" + namespace + "\0")
        if at < 0:
            return None
        end = self._index.find("\n", at + 1)
        fields = self._index[at + 1 : end].split("\0")
        if len(fields) != 6:
            raise _Stale("damaged")
        try:
            offset, length, n_eps, n_dists, crc = map(int, fields[1:])
        except ValueError:
            raise _Stale("damaged") from None
        return self._base + offset, length, n_eps, n_dists, crc

    def _build(self, namespace: str) -> tuple[EntryPoint, ...]:
        entry = self._entry(namespace)
        if entry is None:
            return ()
        offset, length, n_eps, n_dists, crc = entry
        data = self._sections.pop(namespace, None)
        if data is None:
            data = _read_section(self._directory, self._name, self._identity, offset, length)
        if zlib.crc32(data) != crc:
            raise _Stale("damaged")
        try:
            # The distributions' block stays one string until an entry point's dist is read.
            parts = data.decode("utf-8", "surrogatepass").split("\0", 3 * n_eps)
        except UnicodeDecodeError:
            raise _Stale("damaged") from None
        if n_eps < 1 or len(parts) != 3 * n_eps + 1 or parts[-1].count("\0") != 3 * n_dists - 1:
            raise _Stale("damaged")
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
    """A cache file broke, or was replaced, under a snapshot: rebuild from a scan.

    Internal: ``EntryPointCache`` catches it wherever a file snapshot decodes a group.
    ``reason`` is ``"damaged"`` (the file we read is corrupt) or ``"changed"`` (another
    process replaced or removed it since its header was read).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _open_checked(dir_fd: int, name: str, label: str) -> tuple[int, os.stat_result] | None:
    """Open the cache file ``name`` of the folder ``dir_fd`` if it is safe to read."""
    import stat as stat_mod

    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP for a symlink, EACCES, ...
        _warn_once(label, "ignored cache file %s: %s", label, exc)
        return None
    try:
        st = os.fstat(fd)
        problem = _unsafe(st)
        if not stat_mod.S_ISREG(st.st_mode):
            problem = "is not a regular file"
        elif st.st_size > MAX_FILE_SIZE:
            problem = "is too large"
        if problem:
            _warn_once(label, "ignored cache file %s: it %s", label, problem)
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return fd, st


def _read_section(
    directory: str, name: str, identity: tuple[int, int, int], offset: int, length: int
) -> bytes:
    """One section of the very file a snapshot's header came from; else ``_Stale``."""
    dir_fd = _open_dir(directory, create=False)
    if dir_fd is None:
        raise _Stale("changed")
    try:
        opened = _open_checked(dir_fd, name, os.path.join(directory, name))
    finally:
        os.close(dir_fd)
    if opened is None:
        raise _Stale("changed")
    fd, st = opened
    try:
        if (st.st_ino, st.st_dev, st.st_mtime_ns) != identity:
            raise _Stale("changed")
        data = os.pread(fd, length, offset)
    except OSError:
        raise _Stale("changed") from None
    finally:
        os.close(fd)
    if len(data) != length:
        raise _Stale("damaged")
    return data


def _load(
    directory: str, path: list[str], cwd: str, key: str, namespace: str
) -> _FileSnapshot | None:
    """The snapshot stored for this environment, if it is there, intact and current."""
    dir_fd = _open_dir(directory, create=False)
    if dir_fd is None:
        return None
    name = _file_name(key)
    file = os.path.join(directory, name)
    try:
        opened = _open_checked(dir_fd, name, file)
    finally:
        os.close(dir_fd)
    if opened is None:
        return None
    fd, st = opened
    try:
        head = os.pread(fd, _HEAD_READ, 0)
        snapshot = _parse(head, fd, st, path, cwd, key, directory, name)
        if snapshot is None:
            return None
        # The group asked for is read while the file is open: one open per cold hit.
        entry = snapshot._entry(namespace)
        if entry is not None:
            snapshot._sections[namespace] = os.pread(fd, entry[1], entry[0])
        return snapshot
    except (OSError, ValueError, UnicodeDecodeError, IndexError, _Stale):
        _warn_once(file, "ignored corrupt cache file %s", file)
        return None
    finally:
        os.close(fd)


def _parse(
    head: bytes,
    fd: int,
    st: os.stat_result,
    path: list[str],
    cwd: str,
    key: str,
    directory: str,
    name: str,
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
    return _FileSnapshot(list(path), cwd, key, stamps, directory, name, identity, index, end)


def _serialise(key: str, result: Scan) -> bytes | None:
    """The file for a scan, or ``None`` if something in it cannot be stored safely."""
    stamp_tokens: list[str] = [str(len(result.stamps))]
    for path, st in result.stamps:
        if "\0" in path:
            return None  # every sys.path entry is stamped: one with a NUL would break the key
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
    if blob is None:
        return
    dir_fd = _open_dir(directory, create=True)
    if dir_fd is None:
        return
    try:
        final = _file_name(key)
        if not _replaceable(dir_fd, final, os.path.join(directory, final)):
            return
        temp = f".{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(
                temp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            os.replace(temp, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            _warn_once(directory, "could not write the disk cache in %s: %s", directory, exc)
            _unlink(dir_fd, temp)
            return
        _prune(dir_fd)
    finally:
        os.close(dir_fd)


def _replaceable(dir_fd: int, name: str, label: str) -> bool:
    """A file in our place that is not ours (or is a link) is left alone, not replaced."""
    import stat as stat_mod

    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return True
    problem = "is a symlink" if stat_mod.S_ISLNK(st.st_mode) else _unsafe(st)
    if problem:
        _warn_once(label, "ignored cache file %s: it %s", label, problem)
        return False
    return True


def _prune(dir_fd: int) -> None:
    """Keep at most MAX_FILES cache files; drop temp files left by dead writers."""
    import time

    try:
        names = os.listdir(dir_fd)
    except OSError:
        return
    files = []
    now = time.time()
    for name in names:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        if name.endswith(SUFFIX):
            files.append((st.st_mtime_ns, name))
        elif name.endswith(".tmp") and name.startswith(".") and now - st.st_mtime > 3600:
            _unlink(dir_fd, name)
    files.sort(reverse=True)
    for _, name in files[MAX_FILES:]:
        _unlink(dir_fd, name)


def _unlink(dir_fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
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

    def snapshot(self, namespace: str = "") -> _Snapshot:
        """The current snapshot: the memo if still current, else the disk file, else a scan.

        ``namespace`` is the group about to be asked for (read while the file is open).
        """
        snap = self._snapshot
        if snap is not None and snap.current():
            return snap
        fresh = self._snapshot = self._fresh(snap, namespace, use_disk=True)
        return fresh

    def _fresh(self, previous: _Snapshot | None, namespace: str, *, use_disk: bool) -> _Snapshot:
        """A new snapshot that keeps ``previous``'s tuples where nothing changed.

        ``use_disk=False`` skips the file, for when it just proved broken.
        """
        import time

        started = time.time_ns()
        path = list(sys.path)
        entries, cwd = _entries(path)
        key = _key(entries, cwd)
        finders = custom_finders()
        directory = cache_dir()[0] if cwd is not None and not finders else None
        if use_disk and directory is not None and cwd is not None:
            loaded = _load(directory, path, cwd, key, namespace)
            if loaded is not None:
                try:
                    loaded.adopt(previous)  # decodes the groups used so far: may find damage
                except _Stale as exc:
                    _warn_stale(loaded, exc)
                else:
                    return loaded
        result = scan(entries, finders, started)
        fresh = _ScannedSnapshot(path, cwd, key, result)
        if directory is not None and not fresh.volatile:
            _store(directory, key, result)
        fresh.adopt(previous)  # a scanned snapshot decodes nothing: cannot raise
        return fresh

    def entry_points(self, namespace: str) -> tuple[EntryPoint, ...]:
        found = self._discovered(namespace)
        return self._overlay(namespace, found) if namespace in self._overlays else found

    def _discovered(self, namespace: str) -> tuple[EntryPoint, ...]:
        snap = self.snapshot(namespace)
        try:
            return snap.group(namespace)
        except _Stale as exc:
            # The file broke, or was replaced, after its header was read: scan instead,
            # keeping the tuples already handed out for groups that did not change.
            _warn_stale(snap, exc)
            fresh = self._snapshot = self._fresh(snap, namespace, use_disk=False)
            return fresh.group(namespace)

    def invalidate(self) -> None:
        self._snapshot = None
        directory, _ = cache_dir()
        if directory is None:
            return
        dir_fd = _open_dir(directory, create=False)
        if dir_fd is None:
            return
        try:
            entries, cwd = _entries(list(sys.path))
            _unlink(dir_fd, _file_name(_key(entries, cwd)))
        finally:
            os.close(dir_fd)


def _warn_stale(snap: _Snapshot, exc: _Stale) -> None:
    file = snap.file if isinstance(snap, _FileSnapshot) else "?"
    if exc.reason == "damaged":
        _warn_once(f"damaged:{file}", "cache file %s is damaged; rescanned", file)
    else:
        _warn_once(f"changed:{file}", "cache file %s changed while in use; rescanned", file)


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
    if directory is None:
        return 0
    dir_fd = _open_dir(directory, create=False)
    if dir_fd is None:
        return 0
    try:
        names = os.listdir(dir_fd)
    except OSError:
        names = []
    try:
        return sum(_unlink(dir_fd, n) for n in names if n.endswith(SUFFIX))
    finally:
        os.close(dir_fd)
