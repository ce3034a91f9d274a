"""The emulated caller: registers and memory laid out per calling convention, the
argument values to look for in the kernel's registers, and the memory a stub may touch."""
from __future__ import annotations

from dataclasses import dataclass

from ..layout import Frame
from .emulator import CODE, SENTINEL, SP0, VDSO_CELL

OWN_FRAME = 0x100  # bytes below the entry stack pointer a stub may use


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def arg_value(i: int, size: int) -> int:
    """Distinct per argument, top bit set in every width, no byte repeated."""
    v = 0x8A7B6C5D4E3F2011 + i * 0x0102030405060708
    return (v & _mask(8 * size)) | (1 << (8 * size - 1))


def poison(i: int, word: int) -> int:
    return (0xC5C4C3C2_B0B1B2B3 + i * 0x0101010111111111) & _mask(8 * word)


@dataclass
class Setup:
    regs: dict
    memory: list
    args: list[tuple[int, int, int]]  # (value, size, bits the kernel reads) per argument, in order
    number: int | None  # the number the caller passed, for a stub that takes it as an argument
    result_slot: tuple[int, int] | None  # (address, size) of a Go result
    caller_frame: tuple[int, int]  # [start, end) of the caller's frame the stub may read
    sp_after: int  # the stack pointer the caller expects back
    poisoned: dict


def lay_out(arch, convention: str, frame: Frame, code_len: int) -> Setup:
    word, endian = arch.word_bytes, arch.endian
    regs = {r: poison(i, word) for i, r in enumerate(arch.registers) if r != arch.stack_pointer}
    memory, args = [], []
    conv = getattr(arch, convention)
    ra_on_stack = conv.return_address == "stack"
    if ra_on_stack:
        memory.append((SP0, SENTINEL.to_bytes(word, endian)))
    else:
        regs[conv.return_address] = SENTINEL
    regs[arch.stack_pointer] = SP0
    end = SP0 + (word if ra_on_stack else 0)
    result_slot = None
    number = None
    if convention == "go_abi0":
        base = SP0 + arch.go_abi0.fp
        for a in frame.args:
            v = arg_value(a.index, a.size)
            memory.append((base + a.fp, v.to_bytes(a.size, endian)))
            if a.role == "number":
                number = v
            else:
                args.append((v, a.size, a.bits))
        if frame.result:
            result_slot = (base + frame.result.fp, frame.result.size)
        end = base + frame.argsize
    else:
        c = arch.c_abi
        for a in frame.args:
            v = arg_value(a.index, a.size)
            raw = v.to_bytes(a.size, endian)
            for j, part in enumerate(a.parts):
                pv = int.from_bytes(raw[j * part.size:(j + 1) * part.size], endian)
                if part.c_reg:
                    # The upper bits of a narrow argument are the caller's junk: keep the poison there.
                    regs[part.c_reg] = (regs[part.c_reg] & ~_mask(8 * part.size) | pv) & _mask(8 * word)
                else:
                    memory.append((SP0 + part.c_stack, pv.to_bytes(c.stack_slot, endian)))
                    end = max(end, SP0 + part.c_stack + c.stack_slot)
            if a.role == "number":
                number = v
            else:
                args.append((v, a.size, a.bits))
    return Setup(regs, memory, args, number, result_slot, (SP0, end), SP0 + (word if ra_on_stack else 0),
                 {r: v for r, v in regs.items()})


def bad_accesses(run, setup: Setup, code_len: int, may_write_result: bool, skip_pc=None) -> list[str]:
    """Reads and writes outside what the stub may touch."""
    problems = []
    lo, hi = setup.caller_frame
    own = (SP0 - OWN_FRAME, SP0)
    for addr, size, pc in run.reads:
        if pc == skip_pc:
            continue
        ok = (own[0] <= addr and addr + size <= hi) or (CODE <= addr and addr + size <= CODE + code_len) \
            or (VDSO_CELL <= addr < VDSO_CELL + 8)
        if not ok:
            problems.append(f"read of {size} bytes at {addr:#x} (pc {pc:#x}) outside the caller's frame and stack")
    for addr, size, value, pc in run.writes:
        if pc == skip_pc:
            continue
        if own[0] <= addr and addr + size <= own[1]:
            continue
        if may_write_result and setup.result_slot and addr == setup.result_slot[0] and size <= setup.result_slot[1]:
            continue
        problems.append(f"write of {size} bytes at {addr:#x} (pc {pc:#x}), "
                        + ("into the caller's frame" if addr >= lo else "outside the stack the stub may use"))
    return problems
