"""Read the kernel's own syscall sources: *.tbl tables, the ABI lists of a
Makefile.syscalls, and the version in the top-level Makefile."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import StubgenError
from ..tables import inputs

FORMAT = "<number> <abi> <name> [<entry point> [<compat entry point>]] [noreturn]"
_WORD = re.compile(r"^[A-Za-z0-9_]+$")
_NUMBER = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class Entry:
    number: int
    abi: str
    name: str
    entry: str | None
    compat: str | None
    noreturn: bool
    line: int


def _read(path: Path) -> str:
    # Regular and bounded (the importer has confined the path to the tree already).
    return inputs.read_text(path, limit=inputs.MAX_KERNEL_BYTES, what="kernel file")


def _lines(path: Path):
    for lineno, raw in enumerate(_read(path).splitlines(), 1):
        yield lineno, raw.split("#", 1)[0].split()


def parse_entry(fields: list[str], where: str, lineno: int) -> Entry:
    # noreturn is a flag column after the optional entry points (since 2024),
    # so it is recognised by value, not by position.
    noreturn = len(fields) >= 4 and fields[-1] == "noreturn"
    cols = fields[:-1] if noreturn else fields
    if not 3 <= len(cols) <= 5 or not _NUMBER.match(cols[0]) or not all(_WORD.match(c) for c in cols[1:3]):
        raise StubgenError(f"{where}:{lineno}: malformed syscall table line {' '.join(fields)!r}; "
                           f"expected {FORMAT}")
    entry, compat = (cols[3:] + [None, None])[:2]
    return Entry(int(cols[0]), cols[1], cols[2], entry, compat, noreturn, lineno)


def parse(path: Path, abis=None) -> list[Entry]:
    """Every entry of a .tbl file, or only those whose ABI is in abis. Every line
    is checked, even those of other ABIs: a broken table is not half-read."""
    wanted = None if abis is None else set(abis)
    out = []
    for lineno, fields in _lines(path):
        if fields:
            e = parse_entry(fields, str(path), lineno)
            if wanted is None or e.abi in wanted:
                out.append(e)
    return out


def numbers(path: Path, abis) -> dict[str, int]:
    """name -> number for the given ABIs; a name or number used twice is an error,
    since the generated headers could not hold both."""
    by_name: dict[str, Entry] = {}
    by_number: dict[int, Entry] = {}
    for e in parse(path, abis):
        seen_as = by_name.get(e.name) or by_number.get(e.number)
        if seen_as:
            raise StubgenError(f"{path}:{e.line}: {e.name} {e.number} clashes with "
                               f"{seen_as.name} {seen_as.number} on line {seen_as.line}")
        by_name[e.name] = by_number[e.number] = e
    return {e.name: e.number for e in by_name.values()}


_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(\+=|:=|\?=|=)\s*(.*)$")


def make_variable(path: Path, variable: str) -> list[str]:
    """The words a Makefile assigns to one variable, following += as make does.
    Enough for Makefile.syscalls, which only appends plain words."""
    words: list[str] | None = None
    pending = ""
    for raw in _read(path).splitlines():
        line = pending + raw.split("#", 1)[0]
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        m = _ASSIGN.match(line)
        if not m or m.group(1) != variable:
            continue
        values = m.group(3).replace(",", " ").split()
        if m.group(2) == "+=":
            words = (words or []) + values
        elif m.group(2) != "?=" or words is None:
            words = values
    if words is None:
        raise StubgenError(f"{path}: does not set {variable}")
    return words


_VERSION_KEYS = ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION")


def kernel_version(src: Path) -> str | None:
    """The version the top-level Makefile declares, e.g. 7.1.5 or 7.2.0-rc1, or
    None when there is no Makefile (a partial copy of the tree)."""
    mk = src / "Makefile"
    if not mk.is_file():
        return None
    mk = inputs.confined(mk, [src])
    found = {}
    for raw in _read(mk).splitlines():
        m = _ASSIGN.match(raw)
        if m and m.group(1) in _VERSION_KEYS and m.group(1) not in found:
            found[m.group(1)] = m.group(3).strip()
    if not all(found.get(k, "").isdigit() for k in _VERSION_KEYS[:2]):
        raise StubgenError(f"{mk}: no VERSION and PATCHLEVEL lines; is this a Linux source tree?")
    return f"{found['VERSION']}.{found['PATCHLEVEL']}.{found.get('SUBLEVEL') or 0}{found.get('EXTRAVERSION', '')}"
