"""What does not change between runs, kept on disk: the validated tables, each YAML
document as parsed, which documents passed their schema, and Jinja's compiled
templates. A small run (`generate` of one syscall) otherwise spends most of its time
importing PyYAML and jsonschema, parsing and validating YAML and compiling templates.

Never stale: every key is made of content (each table file's bytes; each template's
source, which Jinja checks itself) and of what shapes the result (stubgen's version
and the source of the modules that build it, Jinja's version and the environment's
settings), never of time stamps. The cache lives in $XDG_CACHE_HOME/stubgen (or
~/.cache/stubgen); STUBGEN_NO_CACHE=1 turns it off. An entry that cannot be read
(corrupt, truncated, from another Python) is ignored and rebuilt; a write that fails
(read-only home, full disk) is skipped: the cache never makes a run fail."""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from ..errors import StubgenError
from ..version import __version__
from .inputs import read_bytes

OFF = "STUBGEN_NO_CACHE"
# Entries kept per kind; past that the oldest half goes (an edited file leaves its old
# entries behind, and nothing else would ever remove them).
KEEP = 256


def directory() -> Path | None:
    """The cache directory, or None when caching is off."""
    if os.environ.get(OFF, "") not in ("", "0"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stubgen"


def private(d: Path, create: bool) -> Path | None:
    """d when it is a directory only this user can write (made so when create), else
    None: entries are code and pickles, which nobody else may plant (XDG_CACHE_HOME
    may point at a shared place such as /tmp)."""
    try:
        if create:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(d)
    except OSError:
        return None
    import stat

    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        return None
    return d


@lru_cache(maxsize=16)
def code_hash(*sources: Path) -> str:
    """The hash of source files' content, read as files: the code that shapes what is
    cached is a key, and hashing it must not import it."""
    h = hashlib.sha256()
    for f in sources:
        h.update(Path(f).read_bytes())
    return h.hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key(parts, files=(), roots=None) -> str:
    """A hex key for parts (strings) and the content of files (their path included);
    stubgen's version and Python's are always part of it. roots: the directories the
    files must lie in to be read (the confined reader's rule)."""
    h = hashlib.sha256(f"stubgen {__version__}\0python {sys.version}\0".encode())
    for p in parts:
        h.update(str(p).encode("utf-8", "surrogateescape") + b"\0")
    for f in files:
        h.update(str(f).encode("utf-8", "surrogateescape") + b"\0")
        h.update(_content_digest(f, roots))
    return h.hexdigest()


def _content_digest(f, roots=None) -> bytes:
    """The file's content hash; a FIFO, device, oversized file or one outside roots is
    not read (it would hang, fill memory or leak) but marked with the reason, which
    names where it leads, and the confined reader then refuses it by name."""
    try:
        return hashlib.sha256(read_bytes(f, roots)).digest()
    except StubgenError as e:
        return f"unreadable: {e}".encode("utf-8", "surrogateescape")


def load(kind: str, k: str):
    """The object stored under kind/k, or None."""
    d = directory()
    if d is None or private(d, create=False) is None:
        return None
    try:
        with open(d / kind / f"{k}.pickle", "rb") as f:
            return pickle.load(f)
    except Exception:  # missing, corrupt, written by another version of a class: rebuild
        return None


def store(kind: str, k: str, value) -> None:
    """Store value under kind/k atomically (a temporary file, then a rename)."""
    d = directory()
    if d is None or private(d, create=True) is None:
        return
    tmp = None
    try:
        (d / kind).mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d / kind, prefix=f".{k}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, d / kind / f"{k}.pickle")
        tmp = None
        prune(d / kind)
    except (OSError, pickle.PicklingError):
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def prune(d: Path, keep: int | None = None) -> None:
    """Remove the older half of d's entries once it holds more than keep."""
    keep = KEEP if keep is None else keep
    try:
        entries = [e for e in os.scandir(d) if e.is_file(follow_symlinks=False)]
        if len(entries) <= keep:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
        for e in entries[:len(entries) - keep // 2]:
            os.unlink(e.path)
    except OSError:
        pass
