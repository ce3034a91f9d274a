"""Capstone: decode what the assembler produced and hold it against the source, so
that a misread number (219 taken as 0x219) fails loudly."""
from __future__ import annotations

import re
from functools import lru_cache

from .assembly import engine_mode

_NUM = re.compile(r"(?<![\w])-?(?:0x[0-9a-fA-F]+|\d+)(?![\w])")


@lru_cache(maxsize=16)
def _engine(arch_name: str, cs_arch: str, cs_mode, detail: bool):
    import capstone

    cs = capstone.Cs(getattr(capstone, cs_arch), engine_mode(capstone, cs_mode))
    cs.detail = detail
    return cs


def _cs(arch, detail: bool, thumb: bool = False):
    e = arch.engines.capstone
    mode = e["mode"] if isinstance(e["mode"], str) else tuple(e["mode"])
    if thumb:
        # bit 0 of a function's address marks Thumb code (ELF for the Arm Architecture, 5.5.3)
        mode = e.get("thumb_mode", mode)
        mode = mode if isinstance(mode, str) else tuple(mode)
    return _engine(arch.name, e["arch"], mode, detail)


def mnemonics(arch, code: bytes) -> list[str]:
    """The mnemonics Capstone decodes from code, in order (up to the first it cannot)."""
    return [m for _, _, m, _ in _cs(arch, False).disasm_lite(code, 0)]


def decode(arch, code: bytes, address: int, count: int = 0, detail: bool = False):
    return list(_cs(arch, detail).disasm(code, address, count))


def listing(arch, code: bytes, address: int, mark: int | None = None, thumb: bool = False) -> str:
    lines, end = [], address
    for i in _cs(arch, False, thumb).disasm(code, address):
        arrow = "=>" if i.address == mark else "  "
        lines.append(f"    {arrow} {i.address:#x}: {i.bytes.hex():<20} {i.mnemonic} {i.op_str}")
        end = i.address + len(i.bytes)
    if end < address + len(code):
        # Capstone stops at the first bytes it cannot decode, without a word: say so.
        rest = code[end - address:]
        lines.append(f"       {end:#x}: {rest[:16].hex()}{'...' if len(rest) > 16 else ''}  "
                     f"({len(rest)} bytes Capstone does not decode)")
    return "\n".join(lines)


@lru_cache(maxsize=16)
def _regnums(pattern: str):
    return re.compile(pattern)


def _forms(value: int, wmask: int) -> set[int]:
    """The ways a decoder may print a number the source wrote: as a word, and a negative
    one that fits 32 bits also as the 32-bit operand it is sign-extended from (x86-64's
    `cmpl $-4095, %eax` decodes as `cmp eax, 0xfffff001`)."""
    signed = value if value < 0 or value <= wmask >> 1 else value - wmask - 1
    forms = {value & wmask}
    if -(1 << 31) <= signed < 0:
        forms.add(signed & 0xFFFFFFFF)
    return forms


def compare(arch, body, code: bytes, address: int, forbidden, aliases=(), expands=None,
            decoded_registers: str | None = None) -> list[str]:
    """Problems where the decoded code does not hold what the source says. expands:
    {mnemonic: n} for pseudo-instructions that assemble to n instructions (RISC-V call);
    only the first of those is held against the source's numbers. decoded_registers: a
    pattern whose group 1 in Capstone's text is a register's number, which the source
    may have written as a bare number (ppc64 mr 3, 4)."""
    problems = []
    regnums = _regnums(decoded_registers) if decoded_registers else None
    expands = expands or {}
    counts = [expands.get(src.split(None, 1)[0], 1) for src in body.source]
    want_n = sum(counts)
    # disasm_lite: the same decoding as decode(), without an object per instruction.
    # One more than the source asks for: an assembler that adds instructions of its own
    # (Keystone's MIPS delay-slot nops in reorder mode) changes what runs, so more is
    # as wrong as fewer; only a literal pool (a body with pooled constants) may follow the last one.
    if body.data:
        insns = _around_data(arch, body, counts, code, address)
        want_n = sum(n for i, n in enumerate(counts) if i not in body.data)
    else:
        insns = list(_cs(arch, False).disasm_lite(code, address, want_n + (0 if body.pooled else 1)))
    if len(insns) != want_n:
        got = sum(size for _, size, _, _ in insns)
        return [f"Capstone decodes {len(insns)} instructions ({got} of {len(code)} bytes) where the source has "
                f"{want_n}" + (": the decoder's mode cannot read these bytes" if got < len(code) and
                               len(insns) < want_n else "")]
    firsts, i = [], 0
    for k, n in enumerate(counts):
        if k in body.data:
            continue
        firsts.append(insns[i])
        i += n
    wmask = (1 << (8 * arch.word_bytes)) - 1
    sources = [(src, want) for k, (src, want) in enumerate(zip(body.source, body.numbers)) if k not in body.data]
    for (src, want), (at, _, mnemonic, op_str) in zip(sources, firsts):
        # forbidden: a mnemonic, or a mnemonic with its operands as Capstone prints them ("int 0x80")
        if mnemonic in forbidden or f"{mnemonic} {op_str}" in forbidden:
            problems.append(f"{mnemonic} {op_str}".strip() + f" at {at:#x}: not a syscall trap on this architecture "
                            f"(SIGILL on real hardware; emulators run it anyway)")
        if mnemonic in aliases:
            continue
        got = {int(m.group(0), 0) & wmask for m in _NUM.finditer(op_str)}
        if regnums is not None:
            got |= {int(m.group(1)) for m in regnums.finditer(op_str)}
        # a zero offset is often not printed
        missing = {w & wmask for w in want if w and not _forms(w, wmask) & got}
        if missing:
            problems.append(f"{src!r} encoded as '{mnemonic} {op_str}': "
                            f"{', '.join(hex(m) for m in sorted(missing))} missing")
    step = arch.word_bytes
    for v in body.pooled:
        word = (v & wmask).to_bytes(step, arch.endian)
        if not any(code[i:i + step] == word for i in range(0, len(code) - step + 1, step)):
            problems.append(f"{v:#x} (ldr =) is not in the literal pool")
    return problems


def forbidden(arch, code: bytes, address: int, refused, thumb: bool = False) -> list[str]:
    """Instructions of machine code that are no syscall trap here (linux_abi.yaml
    forbidden: a mnemonic, or a mnemonic with its operands as Capstone prints them)."""
    out = []
    for at, _, mnemonic, op_str in _cs(arch, False, thumb).disasm_lite(code, address):
        if mnemonic in refused or f"{mnemonic} {op_str}" in refused:
            out.append(f"{mnemonic} {op_str}".strip() + f" at {at:#x}: not a syscall trap on this architecture "
                       "(SIGILL on real hardware; emulators run it anyway)")
    return out


def _around_data(arch, body, counts, code: bytes, address: int) -> list:
    """The instructions of a body that holds data (Go's BYTE and WORD), decoded one source
    line at a time with the data's bytes stepped over: a decoder reads data as whatever
    instructions its bytes happen to be."""
    cs, out, off = _cs(arch, False), [], 0
    for k, n in enumerate(counts):
        if k in body.data:
            off += body.data[k]
            continue
        got = list(cs.disasm_lite(code[off:], address + off, n))
        out += got
        if len(got) < n:
            break
        off += sum(size for _, size, _, _ in got)
    return out


def zero_after_trap(arch, code: bytes, address: int, opcodes, zero: dict, read_first=()) -> list[str]:
    """Problems where a register the convention keeps zero (Go's ppc64 R0) is not zeroed
    by the instruction right after each trap (the kernel may leave anything in it), or is
    written after that by anything but a zeroing instruction (written: the first operand,
    unless the mnemonic starts with one of read_first). A check of the decoded bytes, so
    it holds where the emulator cannot run the stub."""
    insns = list(_cs(arch, False).disasm_lite(code, address))
    problems, last = [], None
    for k, (at, size, _, _) in enumerate(insns):
        if any(op.matches(code[at - address:at - address + size], arch.endian) for op in opcodes):
            last = k
            after = insns[k + 1] if k + 1 < len(insns) else None
            text = f"{after[2]} {after[3]}".strip() if after else "nothing"
            for r, zeroing in zero.items():
                if text not in zeroing:
                    problems.append(f"{r} is not zeroed right after the trap at {at:#x} ({text!r} follows; "
                                    f"Go takes {r} as zero: {' or '.join(map(repr, zeroing))})")
    if last is None:
        return problems
    for at, _, mnemonic, op_str in insns[last + 2:]:
        text = f"{mnemonic} {op_str}".strip()
        first = op_str.split(",")[0].strip()
        for r, zeroing in zero.items():
            if first == r and not mnemonic.startswith(tuple(read_first)) and text not in zeroing:
                problems.append(f"{text!r} at {at:#x} writes {r} after it was zeroed; Go takes {r} as zero")
    return problems
