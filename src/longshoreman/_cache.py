"""TEMPORARY placeholder while the real discovery cache is being written (same API)."""

from __future__ import annotations

from ._entrypoints import Distribution, EntryPoint


def list_entry_points(namespace: str) -> tuple[EntryPoint, ...]:
    import importlib.metadata as md

    out = []
    for ep in md.entry_points(group=namespace):
        d = ep.dist
        dist = Distribution(d.metadata["Name"], d.version) if d is not None else None
        out.append(EntryPoint(ep.name, ep.value, ep.group, dist))
    return tuple(out)


def invalidate_caches() -> None:
    import importlib

    importlib.invalidate_caches()
