"""The emulated caller: registers and memory laid out per calling convention (the
verifier's own statement, conventions.yaml), the argument values to look for in the
kernel's registers, the calls a stub makes into C, and the memory it may touch."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .body import mask
from .conventions import CallFrame
from .emulator import CODE, GOT, GOT_SIZE, SENTINEL, SP0, VDSO_CELL

OWN_FRAME = 0x100  # bytes below the entry stack pointer a stub may use
IMAGE_FRAME = 0x4000  # ...and a function of machine code (a compiled caller keeps a larger frame)
CALLER_SLACK = 0x40  # bytes past the arguments that are still the caller's frame (reads there: a warning)


def arg_value(i: int, size: int) -> int:
    """Distinct per argument, top bit set in every width, no byte repeated."""
    v = 0x8A7B6C5D4E3F2011 + i * 0x0102030405060708
    return (v & mask(8 * size)) | (1 << (8 * size - 1))


def poison(i: int, word: int) -> int:
    return (0xC5C4C3C2_B0B1B2B3 + i * 0x0101010111111111) & mask(8 * word)


@dataclass
class Setup:
    regs: dict
    memory: list
    args: list[tuple[int, int, int]]  # (value, size, bits the kernel reads) per argument, in order
    number: int | None  # the number the caller passed, for a stub that takes it as an argument
    result_slot: tuple[int, int] | None  # (address, size) of a Go result
    caller_frame: tuple[int, int]  # [start, end) of the caller's frame the stub may read
    sp: int  # the stack pointer at entry
    sp_after: int  # the stack pointer the caller expects back
    poisoned: dict
    save_area: tuple[int, int] = (0, 0)  # [start, end): the caller's memory the callee may write
    args_area: tuple[int, int] = (0, 0)  # [start, end): the arguments on the stack, the callee's in C
    # A foreign Go function's results: (ResultSlot, address or None for a register)
    results: list = field(default_factory=list)
    writable: list = field(default_factory=list)  # [start, end) of the caller's memory the stub may write


def entry_sp(return_address: str, word: int, call_align: int) -> int:
    """The stack pointer at entry, as a caller that keeps the C alignment leaves it:
    aligned at its call, less the return address the call pushed."""
    pushed = word if return_address == "stack" else 0
    return (SP0 // call_align) * call_align - pushed


@lru_cache(maxsize=64)
def _poisoned(registers: tuple, stack_pointer: str, word: int) -> dict:
    return {r: poison(i, word) for i, r in enumerate(registers) if r != stack_pointer}


def _sext(v: int, bits: int, word: int) -> int:
    return (v - (1 << bits) if v >> (bits - 1) & 1 else v) & mask(8 * word)


def lay_out(arch, conv, kind: str, frame: CallFrame, long_args: str = "") -> Setup:
    """kind: "go_abi0" (arguments in the Go frame), "go_internal" (Go's register ABI:
    arguments in registers, the same stack frame) or "c_abi". long_args: the kernel's
    rule for a C long or pointer narrower than its register (LinuxABI.long_args)."""
    word, endian = arch.word_bytes, arch.endian
    regs = dict(_poisoned(tuple(arch.registers), arch.stack_pointer, word))
    memory, args = [], []
    go = kind in ("go_abi0", "go_internal")
    ra = getattr(conv, "go_abi0" if go else "c").return_address
    ra_on_stack = ra == "stack"
    sp = entry_sp(ra, word, conv.c.call_align)
    if ra_on_stack:
        memory.append((sp, SENTINEL.to_bytes(word, endian)))
    else:
        regs[ra] = SENTINEL
    regs[arch.stack_pointer] = sp
    end = sp + (word if ra_on_stack else 0)
    result_slot, number = None, None
    results, writable = [], []
    if go:
        regs.update({r: 0 for r in conv.go_abi0.zero})  # Go's zero registers hold 0 at every call
        base = sp + conv.go_abi0.fp
        for a in frame.args:
            ks = a.kernel_size or a.size
            if a.value is not None or a.address_of is not None:
                # The stub supplies it: a constant, or the address of one of its frame slots.
                v = a.value if a.value is not None else base + (a.address_of or 0)
                if a.role == "number":
                    number = v
                else:
                    args.append((v & mask(8 * ks), ks, min(a.bits or 8 * ks, 8 * ks)))
                continue
            v = arg_value(a.index, a.size)
            if kind == "go_internal":  # Go's register ABI: places holds the register
                regs[a.places[0].reg] = v
            else:
                memory.append((base + a.fp, v.to_bytes(a.size, endian)))
            if a.role == "number":
                number = v
            else:
                ks = a.kernel_size or a.size
                args.append(((v >> a.shift) & mask(8 * ks), ks, min(a.bits or 8 * ks, 8 * ks)))
        if frame.result:
            result_slot = (base + frame.result[0], frame.result[1])
        for r in frame.results:
            results.append((r, None if r.fp is None else base + r.fp))
            if r.fp is not None:
                writable.append((base + r.fp, base + r.fp + r.size))
        if frame.spill:  # the callee's to spill its register arguments into
            writable.append((base, base + frame.spill))
        end = base + max(frame.argsize, frame.spill)
    else:
        slot = conv.c.stack_slot
        for a in frame.args:
            if a.long_signed is not None:
                # A C long or pointer of long_bytes in a wider register or slot: its upper
                # part is the caller's junk, or its sign where the convention extends it;
                # the kernel must see it extended by its rule.
                lb = conv.c.long_bytes
                v = arg_value(a.index, lb)
                held = _sext(v, 8 * lb, word) if conv.c.long_upper == "sign" else None
                for place in a.places:
                    if place.stack is None:
                        assert place.reg is not None
                        regs[place.reg] = held if held is not None else \
                            (regs[place.reg] & ~mask(8 * lb) | v) & mask(8 * word)
                    else:
                        junk = poison(a.index, word) & ~mask(8 * lb)
                        memory.append((sp + place.stack, (held if held is not None else junk | v)
                                       .to_bytes(slot, endian)))
                        end = max(end, sp + place.stack + slot)
                if a.role == "number":
                    number = v
                else:
                    sign = long_args == "sign" or (long_args == "by_type" and a.long_signed)
                    args.append((_sext(v, 8 * lb, word) if sign else v, a.size, a.bits or 8 * a.size))
                continue
            v = arg_value(a.index, a.size)
            raw = v.to_bytes(a.size, endian)
            for j, place in enumerate(a.places):
                pv = int.from_bytes(raw[j * place.size:(j + 1) * place.size], endian)
                if place.stack is None:
                    # The upper bits of a narrow argument are the caller's junk: keep the poison there.
                    assert place.reg is not None
                    regs[place.reg] = (regs[place.reg] & ~mask(8 * place.size) | pv) & mask(8 * word)
                else:
                    memory.append((sp + place.stack, pv.to_bytes(slot, endian)))
                    end = max(end, sp + place.stack + slot)
            if a.role == "number":
                number = v
            else:
                args.append((v, a.size, a.bits or 8 * a.size))
    save = conv.c.save_area if kind == "c_abi" else (0, 0)
    stacked = kind == "c_abi" and any(pl.stack is not None for a in frame.args for pl in a.places)
    return Setup(regs, memory, args, number, result_slot, (sp, end), sp, sp + (word if ra_on_stack else 0),
                 {r: v for r, v in regs.items()}, (sp + save[0], sp + save[1]),
                 (sp + conv.c.stack_args, end) if stacked else (0, 0), results, writable)


def _within(addr: int, size: int, ranges) -> bool:
    return any(lo <= addr and addr + size <= hi for lo, hi in ranges)


def bad_accesses(run, setup: Setup, code_len: int, may_write_result: bool, skip_pc=None, readable=(),
                 writable=(), named=None, own_frame: int = OWN_FRAME) -> tuple[list[str], list[str]]:
    """(problems, warnings): reads and writes outside what the stub may touch. A read
    just past the arguments is still in the caller's frame: a warning. skip_pc: the
    write that crashed the stub on purpose (Unicorn reports a faulting write, not a
    faulting read). readable: more ranges the stub may read (an image, its stand-ins'
    data); writable: ranges it may write (errno); named(address): what lies there, for
    messages (an image's symbol); own_frame: bytes below the entry stack pointer the
    function may use (compiled code keeps frames larger than a stub's)."""
    problems, warnings = [], []
    lo, hi = setup.caller_frame
    own = (setup.sp - own_frame, setup.sp)
    for addr, size, pc in run.reads:
        ok = (own[0] <= addr and addr + size <= hi) or (CODE <= addr and addr + size <= CODE + code_len) \
            or (VDSO_CELL <= addr < VDSO_CELL + 8) or (GOT <= addr and addr + size <= GOT + GOT_SIZE) \
            or _within(addr, size, readable) or _within(addr, size, writable) or _within(addr, size, [setup.save_area])
        if ok:
            continue
        if hi <= addr and addr + size <= hi + CALLER_SLACK:
            warnings.append(f"read of {size} bytes at {addr:#x} (pc {pc:#x}), past the arguments in the "
                            "caller's frame")
        else:
            problems.append(f"read of {size} bytes at {addr:#x} (pc {pc:#x}) outside the caller's frame and stack")
    for addr, size, value, pc in run.writes:
        if pc == skip_pc:
            continue
        if own[0] <= addr and addr + size <= own[1]:
            continue
        if may_write_result and setup.result_slot and addr == setup.result_slot[0] and size <= setup.result_slot[1]:
            continue
        if _within(addr, size, writable) or _within(addr, size, [setup.save_area]):
            continue
        if named is not None and _within(addr, size, readable):
            warnings.append(f"write of {size} bytes at {addr:#x} (pc {pc:#x}) into the input's own data "
                            f"({named(addr)})")
            continue
        if any(lo_w <= addr and addr + size <= hi_w for lo_w, hi_w in setup.writable):
            continue
        if setup.sp_after != setup.sp and addr == setup.sp and size == setup.sp_after - setup.sp \
                and value == SENTINEL:
            continue  # the return address put back where the call left it (Go's vfork: POPQ, syscall, PUSHQ)
        problems.append(f"write of {size} bytes at {addr:#x} (pc {pc:#x}), "
                        + ("into the caller's frame" if addr >= lo else "outside the stack the stub may use"))
    return problems, warnings
