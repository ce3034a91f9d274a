"""The files `stubgen generate -o DIR` writes, kept in the cache (cache.py) under a key
made of everything that shapes them: the command's options, and the content of every
file under the tables, the templates and stubgen's own code. A repeated run then
writes them without importing Jinja or loading a table; a changed byte anywhere in
those inputs is a different key, so an entry is never stale. Warnings the run gave
are kept with the files and given again."""
from __future__ import annotations

from pathlib import Path

from ..resources import code_dir
from ..tables import cache, inputs

KIND = "output"
# Options that do not change what is written: where, whether, and what happens after.
NOT_SHAPING = frozenset({"output", "force", "check", "verify", "jobs", "kernel_abi", "func", "command"})
MAX_FILES = 4096
# What of stubgen's own code shapes the output.
CODE_SUFFIXES = (".py", ".yaml")  # a directory larger than this is not hashed on every run: no caching


def _files(root: Path, only: tuple[str, ...] | None = None) -> list[Path] | None:
    """Every file under root (only: with one of these suffixes), None past MAX_FILES.
    Nothing is left out by name: a template included from `.parts/` or `__pycache__/`
    and numbers symlinked into a dot directory shape the output too (issue 27, class 9).
    stubgen's own code is hashed by suffix (only), its __pycache__ being Python's."""
    out: list[Path] = []
    for p in inputs.walk(root):
        if only is None or p.suffix in only:
            out.append(p)
            if len(out) > MAX_FILES:
                return None
    return out


def key(options: dict, roots) -> str | None:
    """The key of a run with these options reading these directories (None: not cached).
    It is of the files as they are now: a process that imported stubgen's code before it
    changed on disk (a long test run while the tree is edited) stores its output under
    the new code's key."""
    if cache.directory() is None:
        return None
    files: list[Path] = []
    for root in roots:
        only = CODE_SUFFIXES if root and Path(root).resolve() == code_dir().resolve() else None
        found = _files(Path(root).resolve(), only) if root and Path(root).is_dir() else []
        if found is None:
            return None
        files += found
    parts = [f"{k}={options[k]!r}" for k in sorted(options) if k not in NOT_SHAPING]
    # Hashed through the confined reader: a link to /etc/shadow or /dev/null is keyed by
    # where it leads, never opened (issue 27, class 17).
    return cache.key(parts + [str(r) for r in roots], files, [r for r in roots if r])


def load(k: str | None):
    """(texts, number of stubs, warnings) stored under k, or None."""
    found = cache.load(KIND, k) if k else None
    if not (isinstance(found, tuple) and len(found) == 3):
        return None
    return found


def store(k: str | None, texts: list[tuple[str, str]], stubs: int, warnings: list[str]) -> None:
    if k:
        cache.store(KIND, k, (texts, stubs, warnings))
