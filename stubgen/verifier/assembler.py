"""Assemblers behind one small interface, so that GNU binutils or LLVM can stand in
for Keystone later. The Keystone backend guards every known Keystone 0.9.2 pitfall
by construction: it only ever sees instructions and `.L` labels, with every number
written in hex, and a None result is an error, never an empty stub."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from ..errors import StubgenError


class AssemblyError(StubgenError):
    exit_code = 1


@dataclass(frozen=True)
class Assembled:
    code: bytes
    count: int  # statements Keystone encoded


class Assembler(Protocol):
    def assemble(self, lines: list[str], address: int, symbols: dict[str, int]) -> Assembled: ...


# A multi-digit decimal literal: Keystone reads it as hex once any option is set
# (and the AT&T syntax and the symbol resolver are options).
_DECIMAL = re.compile(r"(?<![\w.])-?([0-9]{2,})(?![\w])")
_NUMERIC_LABEL = re.compile(r"^\s*\d+\s*:|(?<![\w.])\d+[bf]\b")
_LOCAL_LABEL = re.compile(r"\.L\w+:")
_UNPRINTABLE = re.compile(r"[^\t\x20-\x7e]")
_LABELS = re.compile(r"^(\s*[.\w]+\s*:)*\s*")
_ASSIGNMENT = re.compile(r"[.\w$]+\s*=(?!=)")


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


def check_keystone_safe(lines: list[str]) -> None:
    """Refuse input that Keystone 0.9.2 would misread, crash or exit on."""
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
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
        if s.startswith(".") and not _LOCAL_LABEL.fullmatch(s):
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


class KeystoneAssembler:
    """One Keystone engine per (architecture, syntax), reused for every stub."""

    def __init__(self, engine: dict, syntax: str | None = None):
        import keystone

        from .consts import flags

        self._ks = keystone.Ks(flags(keystone, engine["arch"]), flags(keystone, engine["mode"]))
        self._preamble = list(engine.get("preamble", ()))
        if syntax:
            self._ks.syntax = getattr(keystone, f"KS_OPT_SYNTAX_{syntax.upper()}")
        self._keystone = keystone

    def assemble(self, lines: list[str], address: int, symbols: dict[str, int] | None = None,
                 isolated: bool = False) -> Assembled:
        """isolated: assemble in a forked child with a time limit. Keystone hangs inside
        C on some malformed text that the guards do not know yet; text stubgen rendered
        itself never does, but a file edited by hand might."""
        # Symbols become absolute addresses in the text: Keystone's symbol resolver puts
        # PC-relative targets 4 bytes off.
        for name, addr in (symbols or {}).items():
            if any(name in ln for ln in lines):
                pat = _symbol_pattern(name)
                lines = [pat.sub(f"{addr:#x}", ln) for ln in lines]
        check_keystone_safe(lines)
        if isolated:
            return _in_child(self._asm, lines, address)
        return self._asm(lines, address)

    def _asm(self, lines: list[str], address: int) -> Assembled:
        try:
            code, count = self._ks.asm("\n".join(self._preamble + lines), address, as_bytes=True)
        except self._keystone.KsError as e:
            raise AssemblyError(f"Keystone: {e}") from None
        if not code or not count:
            raise AssemblyError("Keystone returned no code")
        return Assembled(bytes(code), count)


ISOLATION_SECONDS = 10


def _in_child(fn, *args) -> Assembled:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child():
        try:
            send.send(("ok", fn(*args)))
        except AssemblyError as e:
            send.send(("error", str(e)))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    send.close()
    try:
        if not recv.poll(ISOLATION_SECONDS):
            raise AssemblyError(f"Keystone did not finish within {ISOLATION_SECONDS} s "
                                "(it hangs on some malformed input)")
        try:
            kind, value = recv.recv()
        except EOFError:
            raise AssemblyError("Keystone died on this input") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if kind == "error":
        raise AssemblyError(value)
    return value
