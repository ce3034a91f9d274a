"""Files written whole or not at all: staged in a temporary file beside the target,
with the mode a new file would get (or the replaced file's), then renamed over it."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


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


def write_all(files: list[tuple[Path, str]]) -> None:
    """Several files as one unit: every one staged first (a failure there leaves all the
    targets as they were), then renamed in turn; if a rename fails, the ones already
    renamed are put back from hard-link backups, so no target is left half-updated."""
    staged: list[tuple[Path, str]] = []
    backups: list[tuple[Path, str | None]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            staged.append((path, stage(path, text, new_mode(path))))
        for path, tmp in staged:
            backup = None
            if os.path.lexists(path):
                backup = tmp + ".old"
                os.link(path, backup, follow_symlinks=False)
            backups.append((path, backup))
            os.replace(tmp, path)
    except BaseException:
        for path, backup in reversed(backups):
            if backup is not None and _same_file(backup, path):
                os.unlink(backup)  # not replaced after all (rename of a file onto its own link does nothing)
            elif backup is not None:
                os.replace(backup, path)
            elif os.path.lexists(path):
                os.unlink(path)
        for _, tmp in staged:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        raise
    for _, backup in backups:
        if backup is not None:
            os.unlink(backup)


def _same_file(a, b) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
