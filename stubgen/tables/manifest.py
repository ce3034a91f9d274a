"""A generated directory's manifest.json: the one way to read it, confined to the
directory, checked against its schema, every file it names inside the directory too."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from ..errors import StubgenError
from . import cache
from .inputs import confined, load_json, read_text

MANIFEST = "manifest.json"


@contextmanager
def snapshot_lock(directory):
    """A shared flock on DIR for as long as its manifest and files are read: generate
    holds the exclusive one on the same directory while it renames (generator/output.py),
    so a reader sees the complete old set or the complete new one, never a manifest of
    one run beside stubs of the next (issue 27, class 15). A directory that cannot be
    opened is read without it; the reads then report what is wrong."""
    import fcntl

    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def read_manifest(directory) -> dict:
    """DIR/manifest.json, read confined to DIR and checked against the schema (every
    file's path must lie inside DIR too); the one way to read a manifest."""
    d = Path(directory)
    path = d / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise StubgenError(f"{d}: no manifest.json (was it written by stubgen generate?)")
    if (d / ".stubgen-journal.json").exists():
        raise StubgenError(f"{d}: an interrupted run left it half-written (.stubgen-journal.json); run "
                           "stubgen generate on it again, which repairs it")
    man = load_json(path, [d])
    check_manifest(man, path)
    for f in man["files"]:
        rel = f["path"]
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise StubgenError(f"{path}: file path {rel!r} leaves {d}; paths are relative and stay inside it")
        confined(d / rel, [d])  # a symlink out of DIR is refused before any tool sees the path
    return man


def check_manifest(man, path):
    # Imported here: writing a directory (a warm `generate`) needs the file name above,
    # not the checks, and these (dataclasses, jsonschema) cost more than the rest of it.
    import jsonschema

    from . import policies
    from .schema import MANIFEST as SCHEMA
    from .yamlio import short

    passed = _passed_key(man)
    if passed is None or cache.load("manifests", passed) is not True:
        err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(man))
        if err is not None:
            key = ".".join(str(p) for p in err.absolute_path) or "(top)"
            raise StubgenError(f"{path}: {key}: {short(err.message)}")
        if passed is not None:
            cache.store("manifests", passed, True)
    for f in man["files"]:
        for s in f.get("symbols", ()):
            if isinstance(s["number"], float):  # JSON Schema's "integer" lets 29.0 through
                raise StubgenError(f"{path}: {f['path']}: {s['name']}: number {s['number']!r} is not a whole "
                                   "number written as one")
            if s["policy"] not in policies.POLICIES:
                raise StubgenError(f"{path}: {f['path']}: {s['name']}: unknown error policy {s['policy']!r}")


def _passed_key(man) -> str | None:
    """The cache key of a manifest that passed its schema (its content, the schema's
    code): a second `verify DIR` of the same tree skips the schema, which takes a second
    on a `generate --all` tree. None when caching is off."""
    if cache.directory() is None:
        return None
    import json

    text = json.dumps(man, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return cache.key(["manifest passed", cache.code_hash(Path(__file__).with_name("schema.py")), cache.digest(text)])


def read_listed(directory, rel: str, what: str = "stub file") -> str:
    """A file a manifest names, confined to the manifest's directory."""
    d = Path(directory)
    return read_text(d / rel, [d], what=what)
