"""Files written whole or not at all: staged in a temporary file beside the target,
with the mode a new file would get (or the replaced file's), then renamed over it."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(stage(path, text, new_mode(path)), path)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_mode(path: Path, umask: int | None = None) -> int:
    """A replaced file keeps its mode; a new one gets what the umask allows, like any
    file a program creates (mkstemp alone would make every output 0600)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~(current_umask() if umask is None else umask)


def stage(path: Path, text: str, mode: int) -> str:
    """text in a temporary file beside path, ready to be renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            os.fchmod(f.fileno(), mode)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp
