"""What every assembler backend shares: its result and errors, the interface the
verifier needs (`Assembler`), and the guard that every text passes before any
backend sees it. The guard covers every known Keystone 0.9.2 pitfall by construction:
a body holds only instructions and `.L` labels, with every number written in hex;
LLVM gets the same guarded text."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from ..errors import StubgenError
from .body import LOCAL_LABEL


class AssemblyError(StubgenError):
    exit_code = 1


@dataclass(frozen=True)
class Assembled:
    code: bytes


class Assembler(Protocol):
    """What the verifier needs of an assembler: the bytes of a body's lines placed at
    address, with each name in symbols resolved to its address."""

    name: str
    batched: bool  # prefetch() is worth calling

    def assemble(self, lines: list[str], address: int, symbols: dict[str, int] | None = None) -> Assembled: ...

    def prefetch(self, jobs: list[tuple[list[str], int, dict[str, int]]]) -> None:
        """Assemble many bodies at once where that is cheaper (one process for all);
        assemble() then finds them done."""


class NoAssembler(StubgenError):
    exit_code = 1


# A multi-digit decimal literal: Keystone reads it as hex once any option is set
# (and the AT&T syntax and the symbol resolver are options).
_DECIMAL = re.compile(r"(?<![\w.])-?([0-9]{2,})(?![\w])")
_NUMERIC_LABEL = re.compile(r"^\s*\d+\s*:|(?<![\w.])\d+[bf]\b")
_UNPRINTABLE = re.compile(r"[^\t\x20-\x7e]")
_LABELS = re.compile(r"^(\s*[.\w]+\s*:)*\s*")
_ASSIGNMENT = re.compile(r"[.\w$]+\s*=(?!=)")
# Data a Go stub spells out itself (BYTE $0x48, WORD $0, the runtime's deliberate crash):
# one hex value a line, the only directives that reach an assembler (measured: Keystone
# 0.9.2 and LLVM place them as given on every architecture here).
DATA = re.compile(r"^\.(?:byte|4byte) 0x[0-9a-f]{1,8}$")


@lru_cache(maxsize=256)
def _symbol_pattern(name: str):
    return re.compile(r"(?<![\w.·])" + re.escape(name) + r"(?![\w·])")


def _balanced(text: str) -> bool:
    closing, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in closing and (not stack or stack.pop() != closing[ch]):
            return False
    return not stack


# Lines already found safe: a matrix's stubs share most of theirs, and the checks
# below cost 5 us a line.
_SAFE: set[str] = set()


def check_keystone_safe(lines: list[str]) -> None:
    """Refuse input that Keystone 0.9.2 would misread, crash or exit on."""
    for n, line in enumerate(lines, 1):
        if line in _SAFE:
            continue
        _check_line(n, line)
        if len(_SAFE) > 8192:
            _SAFE.clear()
        _SAFE.add(line)


def _check_line(n: int, line: str) -> None:
    s = line.strip()
    if DATA.match(s):
        return
    if s:
        if _UNPRINTABLE.search(s):
            # The binding encodes as ASCII (a UnicodeEncodeError otherwise), and C would
            # stop reading at a NUL and assemble only what came before it.
            raise AssemblyError(f"line {n}: {s!r} has a character that is not printable ASCII")
        for stmt in s.split(";"):
            rest = _LABELS.sub("", stmt, count=1)
            if rest.startswith("."):
                raise AssemblyError(f"line {n}: directive {rest.split()[0]!r} in a body: Keystone crashes, hangs "
                                    "or silently returns nothing on directives (.text, .section, unbalanced .cfi_*)")
            if rest and not rest[0].isalpha():
                # Keystone never returns on a statement that starts with an operator, a
                # bracket or a stray dot ("*", "+1", "(", "[", "!", "~", ".0 0"), on every
                # architecture; a directive hidden after a ";" is refused here too.
                raise AssemblyError(f"line {n}: {s!r}: a statement must start with an instruction "
                                    "(Keystone hangs on anything else)")
            if not _balanced(rest):
                # "b 0x10 {]" never returns: brackets must pair up before Keystone sees them.
                raise AssemblyError(f"line {n}: {s!r}: unbalanced brackets (Keystone hangs on some)")
            if _ASSIGNMENT.match(rest):
                # "a=b=c" never returns either; an assignment is a directive in disguise.
                raise AssemblyError(f"line {n}: {s!r}: symbol assignment in a body (Keystone hangs on some)")
        if s.startswith(".") and not LOCAL_LABEL.fullmatch(s):
            raise AssemblyError(f"line {n}: directive {s.split()[0]!r} in a body: Keystone crashes or "
                                "silently returns nothing on directives (.text, .section, unbalanced .cfi_*)")
        if "/*" in s or "//" in s:
            raise AssemblyError(f"line {n}: comment in a body: Keystone rejects /* */ and // comments")
        if _NUMERIC_LABEL.search(s):
            raise AssemblyError(f"line {n}: numeric label in {s!r}: Keystone rejects them; use .L names")
        m = _DECIMAL.search(s)
        if m:
            raise AssemblyError(f"line {n}: decimal literal {m.group(1)} in {s!r}: Keystone 0.9.2 may read "
                                f"it as hex; write {int(m.group(1)):#x}")


def engine_mode(module, mode) -> int:
    """A table's engine mode: one constant's name, or a list of names OR-ed together."""
    out = 0
    for name in [mode] if isinstance(mode, str) else mode:
        out |= getattr(module, name)
    return out


def substitute(lines: list[str], symbols: dict[str, int] | None, replace) -> list[str]:
    """lines with each symbol name replaced by replace(name, address)."""
    for name, addr in (symbols or {}).items():
        if any(name in ln for ln in lines):
            pat = _symbol_pattern(name)
            lines = [pat.sub(replace(name, addr), ln) for ln in lines]
    return lines
