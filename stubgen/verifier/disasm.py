"""Capstone: decode what the assembler produced and hold it against the source, so
that a misread number (219 taken as 0x219) fails loudly."""
from __future__ import annotations

import re
from functools import lru_cache

_NUM = re.compile(r"(?<![\w])-?(?:0x[0-9a-fA-F]+|\d+)(?![\w])")


@lru_cache(maxsize=16)
def _engine(arch_name: str, cs_arch: str, cs_mode: str, detail: bool):
    import capstone

    cs = capstone.Cs(getattr(capstone, cs_arch), getattr(capstone, cs_mode))
    cs.detail = detail
    return cs


def decode(arch, code: bytes, address: int, count: int = 0, detail: bool = False):
    e = arch.engines.capstone
    return list(_engine(arch.name, e["arch"], e["mode"], detail).disasm(code, address, count))


def listing(arch, code: bytes, address: int, mark: int | None = None) -> str:
    lines = []
    for i in decode(arch, code, address):
        arrow = "=>" if i.address == mark else "  "
        lines.append(f"    {arrow} {i.address:#x}: {i.bytes.hex():<20} {i.mnemonic} {i.op_str}")
    return "\n".join(lines)


def compare(arch, body, code: bytes, address: int, forbidden, aliases=()) -> list[str]:
    problems = []
    e = arch.engines.capstone
    # disasm_lite: the same decoding as decode(), without an object per instruction.
    insns = list(_engine(arch.name, e["arch"], e["mode"], False).disasm_lite(code, address, len(body.source)))
    if len(insns) != len(body.source):
        return [f"Capstone decodes {len(insns)} instructions where the source has {len(body.source)}"]
    wmask = (1 << (8 * arch.word_bytes)) - 1
    for src, want, (at, _, mnemonic, op_str) in zip(body.source, body.numbers, insns):
        # forbidden: a mnemonic, or a mnemonic with its operands as Capstone prints them ("int 0x80")
        if mnemonic in forbidden or f"{mnemonic} {op_str}" in forbidden:
            problems.append(f"{mnemonic} {op_str}".strip() + f" at {at:#x}: not a syscall trap on this architecture "
                            f"(SIGILL on real hardware; emulators run it anyway)")
        if mnemonic in aliases:
            continue
        got = {int(m.group(0), 0) & wmask for m in _NUM.finditer(op_str)}
        missing = {w & wmask for w in want if w} - got  # a zero offset is often not printed
        if missing:
            problems.append(f"{src!r} encoded as '{mnemonic} {op_str}': "
                            f"{', '.join(hex(m) for m in sorted(missing))} missing")
    step = arch.word_bytes
    for v in body.pooled:
        word = (v & wmask).to_bytes(step, arch.endian)
        if not any(code[i:i + step] == word for i in range(0, len(code) - step + 1, step)):
            problems.append(f"{v:#x} (ldr =) is not in the literal pool")
    return problems
