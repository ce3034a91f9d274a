"""Every file stubgen reads on a user's behalf goes through here: tables, templates,
reading rules, manifests and the stubs a manifest names. One rule for all of them,
the same one the output side keeps: the file must lie inside the directory it was
named under once symlinks are resolved, be a regular file (a FIFO would block, a
device never end), and be smaller than any honest input could be."""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StubgenError

# The largest shipped input (the numbers tables, a generated --all file) is well under
# 100 KiB; 4 MiB leaves room for any real table while a /dev/zero or a sparse 6 GB file
# is refused after one fstat instead of being read into memory.
MAX_BYTES = 4 << 20
# A manifest is a list of files of a list of symbols: three or four levels deep.
MAX_JSON_DEPTH = 16
# A manifest names every stub of a run: `generate --all` over every architecture and
# dialect writes about 4.3 MiB; 64 MiB leaves room for many more, and is still refused by size.
MAX_MANIFEST_BYTES = 64 << 20
# A Linux tree's largest C file or table is a few MiB; a 5 GB file is refused by its size.
MAX_KERNEL_BYTES = 32 << 20


def _inside(p: Path, roots) -> bool:
    return any(p == r or r in p.parents for r in roots)


def confined(path, roots) -> Path:
    """path resolved (symlinks too); refused unless it lies inside one of roots."""
    path = Path(path)
    try:
        real = path.resolve()
        resolved_roots = [Path(r).resolve() for r in roots]
    except (OSError, RuntimeError) as e:  # RuntimeError: a symlink loop on older Pythons
        raise StubgenError(f"{path}: cannot resolve: {getattr(e, 'strerror', None) or e}") from None
    if not _inside(real, resolved_roots):
        raise StubgenError(f"{path}: resolves to {real}, outside {', '.join(str(r) for r in roots)}; "
                           "inputs must stay inside the directory they were named under")
    return real


def read_bytes(path, roots=None, limit: int = MAX_BYTES, what: str = "file", head: int | None = None) -> bytes:
    """The bytes of a regular file of at most limit bytes, inside roots when given;
    head: only its first head bytes, whatever its size."""
    path = Path(path)
    real = confined(path, roots) if roots is not None else path
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise StubgenError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StubgenError(f"{path}: not a regular file ({_kind(st.st_mode)}); a {what} must be one")
        if head is not None:
            return os.read(fd, head)
        if st.st_size > limit:
            raise StubgenError(f"{path}: {st.st_size} bytes, more than the {limit} a {what} may have")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # the file grew while we read it
                raise StubgenError(f"{path}: more than the {limit} bytes a {what} may have")
        return b"".join(chunks)
    except OSError as e:
        raise StubgenError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_text(path, roots=None, limit: int = MAX_BYTES, what: str = "file") -> str:
    data = read_bytes(path, roots, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StubgenError(f"{path}: not UTF-8 text (byte {e.start}); a {what} must be") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character "
                       "device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def json_depth_ok(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests at most limit levels (checked without recursion,
    so that a deep value cannot break the check itself)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(v, dict):
            stack += [(x, depth + 1) for x in v.values()]
        elif isinstance(v, list):
            stack += [(x, depth + 1) for x in v]
    return True


def load_json(path, roots=None, what: str = "manifest", limit: int = MAX_MANIFEST_BYTES) -> Any:
    """A JSON file read confined, parsed without recursion errors and shallow."""
    text = read_text(path, roots, limit, what=what)
    try:
        value = json.loads(text)
    except RecursionError:
        raise StubgenError(f"{path}: nested too deeply to be a {what}") from None
    except ValueError as e:
        raise StubgenError(f"{path}: not JSON: {e}") from None
    if not json_depth_ok(value):
        raise StubgenError(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep; not a {what}")
    return value


def find_include(name: str, dirs, roots, what: str = "#include") -> Path | None:
    """The file `#include name` names, looked for in dirs in order (the including file's
    directory first for a quoted name), as the preprocessor would find it, or None when
    no dir has it. The first one found must lie inside roots (the input's directory and
    the -I ones) once resolved: an absolute name, a `..` or a symlink that leads out is
    refused by its path alone, before anything is read from it."""
    for d in dirs:
        p = Path(d) / name
        if os.path.lexists(p):
            try:
                return confined(p, roots)
            except StubgenError:
                raise StubgenError(f"{what} \"{name}\" resolves outside {', '.join(str(r) for r in roots)}; "
                                   "includes are read only from the input's directory and -I directories") from None
    return None


def walk(root, follow: bool = True) -> Iterator[Path]:
    """Every entry under root that is not a directory, in sorted order, with an explicit
    stack (a 1,100-deep tree once gave RecursionError from rglob and os.walk). Nothing
    is skipped by name (dot directories, __pycache__ and *.pyc included: a template may
    include from them). follow: a symlinked directory is entered when it resolves inside
    root, once per real directory (no loop); otherwise, and for a link that leads out,
    the link is yielded as it is, for the confined reader to refuse by its path, and is
    never entered or read here. Only links are resolved (resolving every directory of a
    deep tree costs its depth squared)."""
    root = Path(root)
    real_root = root.resolve()
    seen: set[Path] = set()
    stack = [(root, real_root)]
    while stack:
        d, real = stack.pop()
        if real in seen:
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as err:
            raise StubgenError(f"{d}: cannot list: {err.strerror or err}") from None
        subdirs = []
        for ent in entries:
            p = Path(ent.path)
            try:
                is_dir = ent.is_dir(follow_symlinks=False)
                linked_dir = not is_dir and follow and ent.is_symlink() and ent.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = linked_dir = False
            if is_dir:
                subdirs.append((p, real / ent.name))
                continue
            if linked_dir:
                target = p.resolve()
                if _inside(target, [real_root]):
                    subdirs.append((p, target))
                    continue
            yield p
        stack += reversed(subdirs)
