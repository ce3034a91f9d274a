"""Capstone: decode what the assembler produced and hold it against the source, so
that a misread number (219 taken as 0x219) fails loudly."""
from __future__ import annotations

import re
from functools import lru_cache

_NUM = re.compile(r"(?<![\w])-?(?:0x[0-9a-fA-F]+|\d+)(?![\w])")


def _engine(arch_name: str, cs_arch, cs_mode, detail: bool):
    from .consts import key

    return _cached_engine(arch_name, key(cs_arch), key(cs_mode), detail)


@lru_cache(maxsize=16)
def _cached_engine(arch_name: str, cs_arch: str, cs_mode: str, detail: bool):
    import capstone

    from .consts import flags

    cs = capstone.Cs(flags(capstone, cs_arch.split("|")), flags(capstone, cs_mode.split("|")))
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
    insns = list(_engine(arch.name, e["arch"], e["mode"], False).disasm_lite(code, address, len(body.source) + 1))
    if len(insns) != len(body.source):
        # More is as wrong as fewer: an assembler that adds instructions of its own
        # (Keystone's MIPS delay-slot nops in reorder mode) changes what runs.
        return [f"Capstone decodes {len(insns)} instructions where the source has {len(body.source)}"]
    wmask = (1 << (8 * arch.word_bytes)) - 1
    for src, want, (at, _, mnemonic, op_str) in zip(body.source, body.numbers, insns):
        if mnemonic in forbidden:
            problems.append(f"{mnemonic} at {at:#x}: not a syscall trap on this architecture "
                            f"(SIGILL on real hardware; emulators run it anyway)")
        if mnemonic in aliases:
            continue
        got = {int(m.group(0), 0) & wmask for m in _NUM.finditer(op_str)}
        missing = {w & wmask for w in want if w} - got  # a zero offset is often not printed
        if missing:
            problems.append(f"{src!r} encoded as '{mnemonic} {op_str}': "
                            f"{', '.join(hex(m) for m in sorted(missing))} missing")
    return problems
