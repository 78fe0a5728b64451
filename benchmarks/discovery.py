"""Discovery benchmark: longshoreman against stdlib, the backport and stevedore.

Builds environments of N synthetic distributions (each one ``*.dist-info`` with one
entry point in the benchmarked group and one ``console_scripts`` entry), then measures in
one run, side by side:

* longshoreman: cache miss (scan + write), warm hit (disk cache, empty memo), memo hit,
  and a whole ``python -c "import longshoreman; list_entry_points(ns)"`` process;
* ``importlib.metadata.entry_points(group=)`` (stdlib) and ``importlib_metadata``;
* stevedore's ``_cache.Cache`` with its disk cache on (warm) and off, and its in-process
  memo (one ``Cache`` asked again, as ``stevedore._cache.get_group_all`` is).

Then the same on a messy environment shaped like a real one: dist-infos, legacy
``*.egg-info`` folders installed by ``setup.py install``, ``setup.py develop`` projects
(each its own ``sys.path`` entry, with the ``Name.egg-info`` that setuptools rewrites in
place) and a zipped egg, each distribution with one entry point in the group. There the
cache miss is also timed in a new process, against a new process using the stdlib, since
that is where reading a zip used to cost an ``importlib_metadata`` import.

Ratios are against peers measured in the same run, so a noisy machine moves both sides.
Times are the minimum over repeats (the least disturbed run).

Usage: ``python benchmarks/discovery.py [--quick] [--sizes 100,1000,5000]``. stevedore
is not a dependency of the project: if it is missing, the script makes its own venv in
``benchmarks/.venv`` (with the project, editable, and stevedore) and runs again from
there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GROUP = "bench.plugins"
GOALS = {
    "hit/stevedore": 0.1,
    "hit/stdlib": 0.02,
    "hit growth 1000->5000": 3.0,
    "miss/stdlib": 1.1,
    "process/stdlib process": 0.3,
    "import longshoreman/import anyio": 1.2,
    "messy miss/stdlib": 1.1,
    "messy process miss/stdlib process": 1.1,
    "messy memo/stevedore memo": 1.0,
}
#: The messy environment: dist-infos, installed egg-infos, develop projects, zipped eggs.
MESSY = {"dist-info": 75, "egg-info": 16, "develop": 8, "zipped egg": 1}


def ensure_venv() -> None:
    """Run with stevedore at hand, and with this checkout's longshoreman (not a copy)."""
    try:
        import stevedore  # noqa: F401

        import longshoreman
    except ImportError:
        pass
    else:
        if Path(longshoreman.__file__).resolve().is_relative_to(ROOT / "src"):
            return
    venv = HERE / ".venv"
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv.resolve():
        # A venv made before it installed the checkout editable: fix it once.
        print("benchmarks/.venv has a copy of longshoreman: installing the checkout", flush=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)]
        subprocess.run(pip, check=True)
    elif not python.exists():
        print(f"stevedore missing: creating {venv} with the project and stevedore ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-e",
                str(ROOT),
                "stevedore",
                "importlib-metadata",
            ],
            check=True,
        )
    # The cache rightly distrusts a site-packages changed seconds ago (a racy window).
    time.sleep(2.5)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def build_env(root: Path, n: int) -> Path:
    site = root / f"site-{n}"
    site.mkdir(parents=True)
    for i in range(n):
        name = f"bench_dist_{i:05d}"
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\nSummary: synthetic\n\n"
            + "A long description.\n" * 20
        )
        (info / "entry_points.txt").write_text(
            f"[{GROUP}]\nplugin_{i} = {name}.plugin:Plugin\n\n"
            f"[console_scripts]\n{name} = {name}.cli:main\n"
        )
        (info / "RECORD").write_text("")
    # Installed long ago: the cache trusts only folders older than its racy window.
    old = time.time() - 3600
    for path in [site, *site.iterdir()]:
        os.utime(path, (old, old))
    return site


def build_messy_env(root: Path) -> list[str]:
    """The ``sys.path`` entries of a messy environment (see ``MESSY``), oldest first."""
    site = root / "site-messy"
    site.mkdir(parents=True)
    entries = [site]
    py = f"py{sys.version_info.major}.{sys.version_info.minor}"
    description = "A long description.\n" * 20

    def pkg_info(name: str) -> str:
        return f"Metadata-Version: 1.2\nName: {name}\nVersion: 1.0\nSummary: synthetic\n\n"

    def entry_points(name: str) -> str:
        return (
            f"[{GROUP}]\n{name} = {name}.plugin:Plugin\n\n"
            f"[console_scripts]\n{name} = {name}.cli:main\n"
        )

    for i in range(MESSY["dist-info"]):
        name = f"wheel_dist_{i:03d}"
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(pkg_info(name).replace("1.2", "2.1") + description)
        (info / "entry_points.txt").write_text(entry_points(name))
        (info / "RECORD").write_text("")
    egg_info_files = ("dependency_links.txt", "top_level.txt", "SOURCES.txt", "requires.txt")
    for i in range(MESSY["egg-info"]):  # what `setup.py install` (pip's legacy path) leaves
        name = f"legacy_dist_{i:03d}"
        info = site / f"{name}-1.0-{py}.egg-info"
        info.mkdir()
        (info / "PKG-INFO").write_text(pkg_info(name) + description)
        (info / "entry_points.txt").write_text(entry_points(name))
        for extra in egg_info_files:
            (info / extra).write_text(f"{name}\n")
    for i in range(MESSY["develop"]):  # `setup.py develop`: the project is on sys.path
        name = f"dev_dist_{i:03d}"
        project = root / f"project-{i:03d}"
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text("")
        (project / "setup.py").write_text("from setuptools import setup\nsetup()\n")
        info = project / f"{name}.egg-info"
        info.mkdir()
        (info / "PKG-INFO").write_text(pkg_info(name) + description)
        (info / "entry_points.txt").write_text(entry_points(name))
        for extra in egg_info_files:
            (info / extra).write_text(f"{name}\n")
        entries.append(project)
    for i in range(MESSY["zipped egg"]):
        name = f"zipped_dist_{i:03d}"
        egg = root / f"{name}-1.0-{py}.egg"
        with zipfile.ZipFile(egg, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{name}/__init__.py", "")
            zf.writestr(f"{name}/plugin.py", "class Plugin:\n    pass\n")
            zf.writestr("EGG-INFO/PKG-INFO", pkg_info(name) + description)
            zf.writestr("EGG-INFO/entry_points.txt", entry_points(name))
            for extra in egg_info_files:
                zf.writestr(f"EGG-INFO/{extra}", f"{name}\n")
        entries.append(egg)
    old = time.time() - 3600
    for top in (root / "site-messy", *entries):
        for dirpath, dirnames, filenames in os.walk(top):
            for entry in [*dirnames, *filenames]:
                os.utime(os.path.join(dirpath, entry), (old, old))
        os.utime(top, (old, old))
    return [str(e) for e in entries]


def best(fn: Callable[[], object], repeat: int, setup: Callable[[], object] | None = None) -> float:
    """Minimum seconds of one call over ``repeat`` calls.

    ``setup`` runs before each call, outside the timing; the call's result is released
    after the timing, so freeing the previous result is not billed to the next call (a
    new process has nothing to free).
    """
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return min(times)


#: The working directory of timed processes: ``python -c`` puts it on ``sys.path``, so it
#: must be a settled folder (not ``/tmp``, which other programs change all the time).
WORKDIR: Path | None = None


def process_time(
    code: str, env: dict[str, str], repeat: int, setup: Callable[[], object] | None = None
) -> float:
    # Compiled modules, as any installed package has them (pip compiles on install);
    # without this an editable checkout would be timed compiling itself.
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cwd = WORKDIR or tempfile.gettempdir()

    def run() -> None:
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=cwd)

    run()  # warm the OS caches and, for longshoreman, the disk cache
    return best(run, repeat, setup=setup)


def measure(site: Path, n: int, cache_dir: Path, repeat: int) -> dict[str, float]:
    import importlib.metadata as stdlib_md

    import importlib_metadata
    from stevedore import _cache as stevedore_cache

    import longshoreman
    from longshoreman import _cache

    os.environ["LONGSHOREMAN_CACHE_DIR"] = str(cache_dir / "longshoreman")
    sys.path.insert(0, str(site))
    stdlib_md.distributions  # noqa: B018 - imported before timing, as in a real process
    try:
        out: dict[str, float] = {}
        few = max(3, repeat // 3)
        expected = n

        def stdlib() -> object:
            return stdlib_md.entry_points(group=GROUP)

        def backport() -> object:
            return importlib_metadata.entry_points(group=GROUP)

        out["stdlib"] = best(stdlib, few)
        out["backport"] = best(backport, few)

        sd_dir = cache_dir / "stevedore"
        sd_off = cache_dir / "stevedore-off"
        sd_off.mkdir()
        (sd_off / ".disable").touch()
        stevedore_cache.Cache(str(sd_dir)).get_group_all(GROUP)  # write its file

        def stevedore_hit() -> object:
            return list(stevedore_cache.Cache(str(sd_dir)).get_group_all(GROUP))

        def stevedore_off() -> object:
            return list(stevedore_cache.Cache(str(sd_off)).get_group_all(GROUP))

        sd_memo = stevedore_cache.Cache(str(sd_dir))

        def stevedore_memo() -> object:
            return sd_memo.get_group_all(GROUP)  # its in-process memo: no check at all

        out["stevedore hit"] = best(stevedore_hit, repeat)
        out["stevedore off"] = best(stevedore_off, few)
        stevedore_memo()
        out["stevedore memo"] = best(stevedore_memo, repeat * 10)

        def ours() -> object:
            return longshoreman.list_entry_points(GROUP)

        def new_process() -> None:
            _cache._default = None  # the memo is empty, as in a new process

        for peer in (stdlib, backport, stevedore_hit, stevedore_off, stevedore_memo, ours):
            assert len(peer()) == expected  # type: ignore[arg-type]
        # A miss: no memo, no file, so a scan and a write.
        out["miss"] = best(ours, few, setup=longshoreman.invalidate_caches)
        ours()
        new_process()
        ours()
        if type(_cache.default_cache()._snapshot).__name__ != "_FileSnapshot":
            raise SystemExit("the warm run did not come from the disk cache; is the site settled?")
        out["hit"] = best(ours, repeat * 3, setup=new_process)
        ours()
        out["memo"] = best(ours, repeat * 10)

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path[1:]])}
        procs = max(5, repeat // 2)
        out["process"] = process_time(
            f"import longshoreman; longshoreman.list_entry_points({GROUP!r})", env, procs
        )
        out["stdlib process"] = process_time(
            f"import importlib.metadata as m; m.entry_points(group={GROUP!r})", env, procs
        )
        return out
    finally:
        sys.path.remove(str(site))
        longshoreman.invalidate_caches()


def measure_messy(entries: list[str], cache_dir: Path, repeat: int) -> dict[str, float]:
    """The ``MESSY`` environment: what its miss, hit and memo cost, next to the peers'."""
    import importlib.metadata as stdlib_md

    from stevedore import _cache as stevedore_cache

    import longshoreman
    from longshoreman import _cache

    os.environ["LONGSHOREMAN_CACHE_DIR"] = str(cache_dir / "longshoreman")
    sys.path[:0] = entries
    try:
        out: dict[str, float] = {}
        expected = sum(MESSY.values())

        def stdlib() -> object:
            return stdlib_md.entry_points(group=GROUP)

        sd_dir = cache_dir / "stevedore"
        stevedore_cache.Cache(str(sd_dir)).get_group_all(GROUP)  # write its file
        sd_memo = stevedore_cache.Cache(str(sd_dir))

        def stevedore_hit() -> object:
            return stevedore_cache.Cache(str(sd_dir)).get_group_all(GROUP)

        def stevedore_memo() -> object:
            return sd_memo.get_group_all(GROUP)

        def ours() -> object:
            return longshoreman.list_entry_points(GROUP)

        def new_process() -> None:
            _cache._default = None

        for peer in (stdlib, stevedore_hit, stevedore_memo, ours):
            assert len(peer()) == expected  # type: ignore[arg-type]
        # The miss and its peer take milliseconds here: alternate them, so that a load
        # change on the machine cannot favour one side.
        stdlib_times, miss_times = [], []
        for _ in range(repeat):
            stdlib_times.append(best(stdlib, 1))
            miss_times.append(best(ours, 1, setup=longshoreman.invalidate_caches))
        out["stdlib"], out["miss"] = min(stdlib_times), min(miss_times)
        out["stevedore hit"] = best(stevedore_hit, repeat)
        out["stevedore memo"] = best(stevedore_memo, repeat * 10)
        ours()
        new_process()
        ours()
        snapshot = _cache.default_cache()._snapshot
        if type(snapshot).__name__ != "_FileSnapshot":
            raise SystemExit("the warm run did not come from the disk cache; is the site settled?")
        out["hit"] = best(ours, repeat * 3, setup=new_process)
        ours()
        out["memo"] = best(ours, repeat * 10)
        assert snapshot is not None
        out["stats"] = len(snapshot.stamps)  # one stat each, per memo hit

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        procs = max(5, repeat // 2)
        code = f"import longshoreman; longshoreman.list_entry_points({GROUP!r})"
        # A new process with no cache file: it scans (the zipped egg included) and writes.
        out["process miss"] = process_time(code, env, procs, setup=_cache.clear_disk_cache)
        out["process"] = process_time(code, env, procs)
        out["stdlib process"] = process_time(
            f"import importlib.metadata as m; m.entry_points(group={GROUP!r})", env, procs
        )
        return out
    finally:
        del sys.path[: len(entries)]
        longshoreman.invalidate_caches()


def import_times(repeat: int) -> dict[str, float]:
    env = dict(os.environ)
    return {
        "import longshoreman": process_time("import longshoreman", env, repeat),
        "import anyio": process_time("import anyio", env, repeat),
        "bare python": process_time("pass", env, repeat),
    }


def fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, N=100,1000")
    parser.add_argument("--sizes", default=None, help="comma-separated N values")
    args = parser.parse_args()
    ensure_venv()
    # The script's own folder (sys.path[0]) is edited while we work on the benchmark; a
    # folder changed seconds ago is one the cache rightly refuses to trust.
    if sys.path and Path(sys.path[0]).resolve() == HERE:
        del sys.path[0]
    sizes = [
        int(s) for s in (args.sizes or ("100,1000" if args.quick else "100,1000,5000")).split(",")
    ]
    repeat = 5 if args.quick else 15

    global WORKDIR
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ls-bench-") as tmp:
        WORKDIR = Path(tmp) / "workdir"
        WORKDIR.mkdir()
        old = time.time() - 3600
        os.utime(WORKDIR, (old, old))
        for n in sizes:
            site = build_env(Path(tmp), n)
            cache_dir = Path(tmp) / f"cache-{n}"
            cache_dir.mkdir()
            results[n] = measure(site, n, cache_dir, repeat)
            shutil.rmtree(site)
        messy_cache = Path(tmp) / "cache-messy"
        messy_cache.mkdir()
        messy = measure_messy(build_messy_env(Path(tmp) / "messy"), messy_cache, repeat)
        imports = import_times(repeat)

    columns = [
        "stdlib",
        "backport",
        "stevedore off",
        "stevedore hit",
        "stevedore memo",
        "miss",
        "hit",
        "memo",
        "process",
        "stdlib process",
    ]
    version = sys.version.split()[0]
    print(f"\n### Discovery: a group of N entry points among N distributions (Python {version})\n")
    print("| N | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for n, r in results.items():
        print(f"| {n} | " + " | ".join(fmt(r[c]) for c in columns) + " |")

    print("\n| ratio (goal) | " + " | ".join(f"N={n}" for n in results) + " |")
    print("|---|" + "---|" * len(results))
    rows = {
        "hit/stevedore": lambda r: r["hit"] / r["stevedore hit"],
        "hit/stdlib": lambda r: r["hit"] / r["stdlib"],
        "miss/stdlib": lambda r: r["miss"] / r["stdlib"],
        "process/stdlib process": lambda r: r["process"] / r["stdlib process"],
        "memo/stdlib": lambda r: r["memo"] / r["stdlib"],
        "memo/stevedore memo": lambda r: r["memo"] / r["stevedore memo"],
    }
    for label, f in rows.items():
        goal = GOALS.get(label)
        head = f"{label} (≤ {goal})" if goal else label
        print(f"| {head} | " + " | ".join(f"{f(r):.3f}" for r in results.values()) + " |")
    if 1000 in results and 5000 in results:
        growth = results[5000]["hit"] / results[1000]["hit"]
        print(f"| hit growth 1000→5000 (≤ {GOALS['hit growth 1000->5000']}) | {growth:.2f} |")
    total = sum(MESSY.values())
    print(
        f"\n### A messy environment: {MESSY['dist-info']} dist-info, {MESSY['egg-info']} "
        f"installed egg-info, {MESSY['develop']} `setup.py develop` projects (their own "
        f"sys.path entries), {MESSY['zipped egg']} zipped egg; a group of {total}\n"
    )
    messy_columns = [
        "stdlib",
        "stevedore hit",
        "stevedore memo",
        "miss",
        "hit",
        "memo",
        "process miss",
        "process",
        "stdlib process",
    ]
    print("| " + " | ".join(messy_columns) + " | stats per memo hit |")
    print("|" + "---|" * (len(messy_columns) + 1))
    print("| " + " | ".join(fmt(messy[c]) for c in messy_columns) + f" | {messy['stats']:.0f} |")
    print("\n| ratio (goal) | value |\n|---|---|")
    messy_rows = {
        "messy miss/stdlib": messy["miss"] / messy["stdlib"],
        "messy process miss/stdlib process": messy["process miss"] / messy["stdlib process"],
        "messy memo/stevedore memo": messy["memo"] / messy["stevedore memo"],
    }
    for label, value in messy_rows.items():
        print(f"| {label} (≤ {GOALS[label]}) | {value:.2f} |")

    ratio = imports["import longshoreman"] / imports["import anyio"]
    print(
        f"\nimport longshoreman {fmt(imports['import longshoreman'])}, import anyio "
        f"{fmt(imports['import anyio'])}, bare interpreter {fmt(imports['bare python'])}: "
        f"ratio {ratio:.2f} (goal ≤ {GOALS['import longshoreman/import anyio']})"
    )


if __name__ == "__main__":
    main()
