"""The files `stubgen generate -o DIR` writes, kept in the cache (cache.py) under a key
made of everything that shapes them: the command's options, and the content of every
file under the tables, the templates and stubgen's own code. A repeated run then
writes them without importing Jinja or loading a table; a changed byte anywhere in
those inputs is a different key, so an entry is never stale. Warnings the run gave
are kept with the files and given again."""
from __future__ import annotations

import os
from pathlib import Path

from ..tables import cache

KIND = "output"
# Options that do not change what is written: where, whether, and what happens after.
NOT_SHAPING = frozenset({"output", "force", "check", "verify", "jobs", "kernel_abi", "func", "command"})
MAX_FILES = 4096  # a directory larger than this is not hashed on every run: no caching


def _files(root: Path) -> list[Path] | None:
    out: list[Path] = []
    for base, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        out += [Path(base, n) for n in sorted(names) if not n.endswith((".pyc", ".pyo"))]
        if len(out) > MAX_FILES:
            return None
    return out


def key(options: dict, roots) -> str | None:
    """The key of a run with these options reading these directories (None: not cached)."""
    if cache.directory() is None:
        return None
    files: list[Path] = []
    for root in roots:
        found = _files(Path(root).resolve()) if root and Path(root).is_dir() else []
        if found is None:
            return None
        files += found
    parts = [f"{k}={options[k]!r}" for k in sorted(options) if k not in NOT_SHAPING]
    return cache.key(parts + [str(r) for r in roots], files)


def load(k: str | None):
    """(texts, number of stubs, warnings) stored under k, or None."""
    found = cache.load(KIND, k) if k else None
    if not (isinstance(found, tuple) and len(found) == 3):
        return None
    return found


def store(k: str | None, texts: list[tuple[str, str]], stubs: int, warnings: list[str]) -> None:
    if k:
        cache.store(KIND, k, (texts, stubs, warnings))
