"""The Zig dialect's reading of its own source (dialect.yaml `verify: {reader:
zig_source}`): what no caller run shows. The wrappers themselves are compiled into
callers and verified as machine code by verify_header.py, as the C dialect's are."""
from __future__ import annotations

import re

# The verifier's own knowledge (as verify_header._memory_problems for C): a syscall may
# read and write memory its arguments point to, which the compiler cannot see; an asm
# statement that does not declare memory clobbered lets it keep a buffer's old contents
# in a register across the call. In Zig the clobbers are the statement's last operand, a
# struct literal: `: .{ .rcx = true, .memory = true })`.
_CLOBBERS = re.compile(r":\s*\.\{([^{}]*)\}\s*\)\s*;")
_MEMORY = re.compile(r"\.memory\s*=\s*true\b")


def zig_memory_problems(text: str, symbol: str) -> list[str]:
    m = re.search(r"\bfn\s+" + re.escape(symbol) + r"\s*\(", text)
    if m is None:
        return [f"{symbol}: no definition in the Zig file"]
    start = text.find("{", text.find(")", m.end()))
    end = text.find("\n}", start)
    body = text[start:end if end >= 0 else len(text)]
    asms = re.split(r"\basm\s+volatile\b|\basm\s*\(", body)[1:]
    lists = [c.group(1) for a in asms for c in [_CLOBBERS.search(a)] if c]
    if not asms or len(lists) < len(asms) or not all(_MEMORY.search(c) for c in lists):
        return [f"{symbol}: its asm statement does not declare memory clobbered (.memory = true): the kernel "
                "reads and writes memory the compiler does not see (a buffer read after the call may come from "
                "a stale register)"]
    return []
