"""Read a GNU assembler file back: the instructions and local labels between a
symbol's label and its .size, without comments and directives (which Keystone
mishandles; they are GNU as's business, and the cross-check runs GNU as itself)."""
from __future__ import annotations

import re

from ..dialects.rules import code_symbol
from ..tables.comments import strip_block_comments
from .body import LOCAL_LABEL, Body, ReadError

_NUM = re.compile(r"(?<![\w.])-?0x[0-9a-fA-F]+|(?<![\w.])-?\d+(?![\w])")


def _number(tok: str) -> int:
    # GNU as reads a leading 0 as octal; Python's int(tok, 0) refuses "010" outright.
    digits = tok.lstrip("-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xX":
        if not digits.isdigit() or "8" in digits or "9" in digits:
            raise ReadError(f"{tok!r} is not a number GNU as reads")
        return int(tok, 8)
    return int(tok, 0)


_SIZE = re.compile(r"\.size\s+([\w.$]+)")


def _sizes(line: str, symbol: str) -> bool:
    """line is `.size symbol, ...` (a pattern per symbol would be compiled again for
    every stub of a large matrix: re caches 512)."""
    m = _SIZE.match(line)
    return m is not None and m.group(1) == symbol


# Directives that change the section the next lines go to.
_SECTION = re.compile(r"\.(section|pushsection|popsection|previous|text|data|bss)\b\s*([^,\s]*)")


def _sections(lines: list[str]) -> list[str]:
    """The section each line is in, as GNU as tracks it (.previous swaps back)."""
    cur, prev = ".text", ".text"
    stack: list[tuple[str, str]] = []
    out: list[str] = []
    for ln in lines:
        m = _SECTION.match(ln)
        if m:
            kind, name = m.group(1), m.group(2).strip("\"'")
            if kind == "previous":
                cur, prev = prev, cur
            elif kind == "popsection":
                if stack:
                    cur, prev = stack.pop()
            else:
                if kind == "pushsection":
                    stack.append((cur, prev))
                prev, cur = cur, (name if kind in ("section", "pushsection") else f".{kind}")
        out.append(cur)
    return out


class GnuReader:
    def __init__(self, arch, rules: dict):
        self.arch = arch
        self.rules = rules
        # ELF V1 PowerPC: the symbol labels a function descriptor ({section, directive}).
        self.descriptor = rules.get("descriptor")
        self.comment = rules.get("line_comment")
        # Relocation suffixes (call f@PLT) that Keystone mis-encodes: a call through the
        # PLT reaches f itself at run time, so the verifier reads it as a direct call.
        self.link_suffixes = tuple(rules.get("link_suffixes", ()))
        # Relocation operators the verifier's linker resolves (MIPS %call16(f) -> the GOT
        # slot); the patterns passed dialects/rules.py's checks when the rules were read.
        self.link_operands = [(re.compile(r["find"]), r["replace"]) for r in rules.get("link_operands", ())]
        # A register the source writes like a number (MIPS $2): not a number to find encoded.
        self.register = re.compile(rules["register_token"]) if rules.get("register_token") else None
        self._text: str | None = None
        self._lines: list[str] = []
        self._labels: dict[str, int] = {}
        self._sections: list[str] = []

    def _index(self, text: str) -> tuple[list[str], dict[str, int]]:
        # A file from a manifest holds every stub of an architecture and is read once per
        # symbol: clean it and find its labels once.
        if text is not self._text and text != self._text:
            lines = self._clean(text)
            labels: dict[str, int] = {}
            for i, ln in enumerate(lines):
                if ln.endswith(":"):
                    labels.setdefault(ln, i)
            self._text, self._lines, self._labels = text, lines, labels
            self._sections = _sections(lines) if self.descriptor else []
        return self._lines, self._labels

    def _check_descriptor(self, labels: dict[str, int], symbol: str, code: str) -> None:
        """symbol labels a descriptor in the rules' section whose first operand is code,
        and code is not in that section: what a caller through the symbol runs is code."""
        d = self.descriptor or {}
        section, directive = d["section"], d["directive"]
        at = labels.get(f"{symbol}:")
        if at is None:
            raise ReadError(f"no function descriptor {symbol}: in {section} (ELF V1: callers reach "
                            f"the code at {code} through it)")
        if self._sections[at] != section:
            raise ReadError(f"the function descriptor {symbol}: is in {self._sections[at]}, not {section}")
        entry = next((ln for ln in self._lines[at + 1:] if ln), "")
        if not re.match(rf"{re.escape(directive)}\s", entry):
            raise ReadError(f"the function descriptor {symbol}: holds no {directive} naming its code")
        named = entry[len(directive):].split(",")[0].strip()
        if named != code:
            raise ReadError(f"the function descriptor {symbol} names {named}, not its code {code}")
        start = labels.get(f"{code}:")
        if start is not None and self._sections[start] == section:
            raise ReadError(f"the code {code}: is in {section}, with the descriptors")

    def _clean(self, text: str) -> list[str]:
        out = []
        for ln in strip_block_comments(text).splitlines():
            if self.comment and self.comment in ln:
                ln = ln.split(self.comment)[0]
            for suffix in self.link_suffixes:
                ln = ln.replace(suffix, "")
            for pattern, replace in self.link_operands:
                ln = pattern.sub(replace, ln)
            out.append(ln.strip())
        return out

    def read(self, text: str, symbol: str, symbols: dict[str, int]) -> Body:
        lines, labels = self._index(text)
        code = code_symbol(self.rules, symbol)
        if self.descriptor:
            self._check_descriptor(labels, symbol, code)
        symbol = code
        start = labels.get(f"{symbol}:")
        if start is None:
            raise ReadError(f"no label {symbol}: in the file")
        body = Body([], [], [], start=start + 1)
        for i in range(start + 1, len(lines)):
            s = lines[i]
            if not s:
                continue
            if (s.endswith(":") and not s.startswith(".L")) or (s.startswith(".size") and _sizes(s, symbol)):
                break
            if LOCAL_LABEL.fullmatch(s):
                body.lines.append(s)
                continue
            if s.startswith("."):
                continue
            body.lines.append(s)
            body.source.append(s)
            body.where.append(i + 1)
            nums = set()
            for m in _NUM.finditer(self.register.sub(" ", s) if self.register else s):
                if s[:m.start()].endswith("="):
                    # ldr rN, =imm: the constant lives in a literal pool, not in the instruction.
                    body.pooled.append(_number(m.group(0)))
                else:
                    nums.add(_number(m.group(0)))
            body.numbers.append(nums)
        if not body.source:
            raise ReadError(f"{symbol} has no instructions")
        return body
