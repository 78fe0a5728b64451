"""Discovery benchmark: longshoreman against stdlib, the backport and stevedore.

Builds environments of N synthetic distributions (each one ``*.dist-info`` with one
entry point in the benchmarked group and one ``console_scripts`` entry), then measures in
one run, side by side:

* longshoreman: cache miss (scan + write), warm hit (disk cache, empty memo), memo hit,
  and a whole ``python -c "import longshoreman; list_entry_points(ns)"`` process;
* ``importlib.metadata.entry_points(group=)`` (stdlib) and ``importlib_metadata``;
* stevedore's ``_cache.Cache`` with its disk cache on (warm) and off.

Ratios are against peers measured in the same run, so a noisy machine moves both sides.
Times are the minimum over repeats (the least disturbed run).

Usage: ``python benchmarks/discovery.py [--quick] [--sizes 100,1000,5000]``. stevedore
is not a dependency of the project: if it is missing, the script makes its own venv in
``benchmarks/.venv`` (with the project and stevedore) and runs again from there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
}


def ensure_venv() -> None:
    try:
        import stevedore  # noqa: F401
    except ImportError:
        pass
    else:
        return
    venv = HERE / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"stevedore missing: creating {venv} with the project and stevedore ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                str(ROOT),
                "stevedore",
                "importlib-metadata",
            ],
            check=True,
        )
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


def process_time(code: str, env: dict[str, str], repeat: int) -> float:
    # Compiled modules, as any installed package has them (pip compiles on install);
    # without this an editable checkout would be timed compiling itself.
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run() -> None:
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tempfile.gettempdir())

    run()  # warm the OS caches and, for longshoreman, the disk cache
    return best(run, repeat)


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

        out["stevedore hit"] = best(stevedore_hit, repeat)
        out["stevedore off"] = best(stevedore_off, few)

        def ours() -> object:
            return longshoreman.list_entry_points(GROUP)

        def new_process() -> None:
            _cache._default = None  # the memo is empty, as in a new process

        for peer in (stdlib, backport, stevedore_hit, stevedore_off, ours):
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

    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ls-bench-") as tmp:
        for n in sizes:
            site = build_env(Path(tmp), n)
            cache_dir = Path(tmp) / f"cache-{n}"
            cache_dir.mkdir()
            results[n] = measure(site, n, cache_dir, repeat)
            shutil.rmtree(site)
        imports = import_times(repeat)

    columns = [
        "stdlib",
        "backport",
        "stevedore off",
        "stevedore hit",
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
    }
    for label, f in rows.items():
        goal = GOALS.get(label)
        head = f"{label} (≤ {goal})" if goal else label
        print(f"| {head} | " + " | ".join(f"{f(r):.3f}" for r in results.values()) + " |")
    if 1000 in results and 5000 in results:
        growth = results[5000]["hit"] / results[1000]["hit"]
        print(f"| hit growth 1000→5000 (≤ {GOALS['hit growth 1000->5000']}) | {growth:.2f} |")
    ratio = imports["import longshoreman"] / imports["import anyio"]
    print(
        f"\nimport longshoreman {fmt(imports['import longshoreman'])}, import anyio "
        f"{fmt(imports['import anyio'])}, bare interpreter {fmt(imports['bare python'])}: "
        f"ratio {ratio:.2f} (goal ≤ {GOALS['import longshoreman/import anyio']})"
    )


if __name__ == "__main__":
    main()
