"""Read a GNU assembler file back: the instructions and local labels between a
symbol's label and its .size, without comments and directives (which Keystone
mishandles; they are GNU as's business, and the cross-check runs GNU as itself)."""
from __future__ import annotations

import re

from .body import Body, ReadError, strip_block_comments

_NUM = re.compile(r"(?<![\w.])-?0x[0-9a-fA-F]+|(?<![\w.])-?\d+(?![\w])")


class GnuReader:
    def __init__(self, arch, rules: dict):
        self.arch = arch
        self.comment = rules.get("line_comment")

    def _clean(self, text: str) -> list[str]:
        out = []
        for ln in strip_block_comments(text).splitlines():
            if self.comment and self.comment in ln:
                ln = ln.split(self.comment)[0]
            out.append(ln.strip())
        return out

    def symbols(self, text: str) -> list[str]:
        return re.findall(r"^\s*\.globl\s+(\w+)", strip_block_comments(text), flags=re.M)

    def read(self, text: str, symbol: str, symbols: dict[str, int]) -> Body:
        lines = self._clean(text)
        try:
            start = lines.index(f"{symbol}:")
        except ValueError:
            raise ReadError(f"no label {symbol}: in the file") from None
        body = Body(symbol, [], [], [])
        for s in lines[start + 1:]:
            if not s:
                continue
            if re.match(r"\.size\s+" + re.escape(symbol) + r"\b", s) or (s.endswith(":") and not s.startswith(".L")):
                break
            if re.fullmatch(r"\.L\w+:", s):
                body.lines.append(s)
                continue
            if s.startswith("."):
                continue
            body.lines.append(s)
            body.source.append(s)
            nums = set()
            for m in _NUM.finditer(s):
                nums.add(int(m.group(0), 0))
            body.numbers.append(nums)
        if not body.source:
            raise ReadError(f"{symbol} has no instructions")
        return body
