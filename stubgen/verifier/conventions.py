"""The verifier's own statement of the C calling conventions and Go ABI0 frames
(conventions.yaml), and where a caller puts each argument under them. Written apart
from stubgen/layout.py on purpose: the generator follows the tables, this follows
the psABIs, and the emulated caller is laid out from this."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import yaml

from ..errors import StubgenError
from .kernel import _all as kernel_statements


@dataclass(frozen=True)
class CConvention:
    args: tuple[str, ...]
    stack_args: int
    stack_slot: int
    pair_registers: int
    pair_stack: int
    sticky_stack: bool
    return_address: str
    callee_saved: tuple[str, ...]
    result: str
    call_align: int
    entry_register: str = ""  # set by the caller to the callee's address (MIPS PIC: t9)
    save_area: tuple[int, int] = (0, 0)  # [start, end) above sp at entry: the caller's, for the callee to write


@dataclass(frozen=True)
class GoABI0:
    fp: int
    int64_align: int
    result_align: int
    return_address: str
    # registers Go takes as zero (ppc64 R0) -> the instructions, as Capstone prints
    # them, that zero each one
    zero: dict = field(default_factory=dict)
    zero_read_first: tuple[str, ...] = ()  # mnemonic prefixes whose first operand is only read


@dataclass(frozen=True)
class TLS:
    """Where thread-local storage lies from the thread pointer (conventions.yaml tls)."""

    variant: int
    pointer: tuple[str, ...]  # the emulator's register(s) holding it, high word first
    tcb: int = 0
    bias: int = 0
    segment: str = ""  # or a segment register whose descriptor's base it is
    table: str = ""  # ...in the descriptor table this register points to
    flat: tuple[str, ...] = ()  # segment registers given a flat descriptor beside it

    def block(self, tp: int, size: int, align: int) -> int:
        """The address of the TLS block of size bytes aligned to align, for thread pointer tp."""
        if self.variant == 2:
            return tp - _align(size, align)
        return tp + _align(self.tcb, align) - self.bias

    def pointer_for(self, block: int, size: int, align: int) -> int:
        """The thread pointer that puts the TLS block at block."""
        return block - (self.block(0, size, align))


@dataclass(frozen=True)
class Conventions:
    c: CConvention
    go_abi0: GoABI0
    elf: dict = field(default_factory=dict)  # machine, bits: what an object for it must be
    tls: TLS | None = None


@dataclass(frozen=True)
class Place:
    """One word of an argument under the C convention: a register, or a stack offset
    from the stack pointer at entry."""

    reg: str | None
    stack: int | None
    size: int


@dataclass(frozen=True)
class Arg:
    index: int
    size: int
    role: str | None  # "number": the syscall number, passed by the caller
    fp: int  # offset in the Go ABI0 frame
    places: tuple[Place, ...]  # C placement, one entry per word
    kernel_size: int | None = None  # bytes the kernel is checked at, where fewer than size
    bits: int | None = None  # bits the kernel reads of a one-register argument (16 of a umode_t)


@dataclass(frozen=True)
class CallFrame:
    args: tuple[Arg, ...]
    result: tuple[int, int] | None  # (fp, size) of the Go result
    argsize: int  # the Go frame's argument size, results included


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


@lru_cache(maxsize=1)
def _all() -> dict:
    return yaml.safe_load((Path(__file__).parent / "conventions.yaml").read_text(encoding="utf-8"))


@cache
def conventions(arch_name: str, extra: str | None = None) -> Conventions:
    """The verifier's statement of the C and Go ABI0 conventions of an architecture;
    extra: a user's --kernel-abi file, whose entry for an architecture the shipped
    statement lacks may carry a `conventions:` mapping of the same form."""
    d = _all().get(arch_name)
    if d is None and extra is not None:
        d = kernel_statements(extra).get(arch_name, {}).get("conventions")
    if d is None:
        raise StubgenError(f"the verifier has no statement of the calling conventions for {arch_name!r} "
                           f"(stubgen/verifier/conventions.yaml knows {', '.join(sorted(_all()))}; for a new "
                           "architecture, add a conventions: mapping to its entry in your --kernel-abi FILE)")
    c, g = d["c"], d["go_abi0"]
    return Conventions(
        CConvention(tuple(c["args"]), c["stack_args"], c["stack_slot"], c["pair_registers"], c["pair_stack"],
                    c["sticky_stack"], c["return_address"], tuple(c["callee_saved"]), c["result"],
                    c["call_align"], c.get("entry_register", ""), tuple(c.get("save_area", (0, 0)))),
        GoABI0(g["fp"], g["int64_align"], g["result_align"], g["return_address"], g.get("zero", {}),
               tuple(g.get("zero_read_first", ()))),
        dict(d.get("elf", {})), _tls(d.get("tls")))


def _tls(d: dict | None) -> TLS | None:
    if not d:
        return None
    p = d.get("pointer", ())
    return TLS(d["variant"], tuple(p) if isinstance(p, list) else (str(p),) if p else (), d.get("tcb", 0),
               d.get("bias", 0), d.get("segment", ""), d.get("table", ""), tuple(d.get("flat", ())))


def known_arches() -> list[str]:
    return sorted(_all())


def call_frame(conv: Conventions, word: int, args, result_size: int | None) -> CallFrame:
    """Where a caller puts arguments of these (size, role[, bits]) tuples, in order, and
    the Go result of result_size bytes (None: no result). bits: what the kernel reads."""
    c, g = conv.c, conv.go_abi0
    out, fp, reg, stack = [], 0, 0, 0
    for i, (size, role, *bits) in enumerate(args):
        words = max(1, size // word)
        fp = _align(fp, g.int64_align if size >= 8 else size)
        part = min(size, word)
        first = _align(reg, c.pair_registers) if words > 1 else reg
        if first + words <= len(c.args):
            places = tuple(Place(c.args[first + j], None, part) for j in range(words))
            reg = first + words
        else:
            if c.sticky_stack:
                reg = len(c.args)
            stack = _align(stack, c.pair_stack if words > 1 else c.stack_slot)
            places = tuple(Place(None, c.stack_args + stack + j * c.stack_slot, part) for j in range(words))
            stack += words * c.stack_slot
        out.append(Arg(i, size, role, fp, places, bits=bits[0] if bits else None))
        fp += size
    result = None
    if result_size is not None:
        fp = _align(fp, g.result_align)
        result = (fp, result_size)
        fp += result_size
    return CallFrame(tuple(out), result, fp)


def go_frame(word: int, args, slots) -> tuple[CallFrame, list[str]] | None:
    """The Go ABI0 frame a stub's own FP references describe (a stub stubgen did
    not write: its Go declaration is not at hand). args: the signature's (size, role)
    pairs; slots: (name, offset, bytes) per FP reference (x_lo/x_hi halves are one
    slot). The first len(args) slots by offset are the arguments, one more is the
    result. None when the stub names fewer slots than arguments. The notes say where
    the Go frame is narrower than what the kernel reads."""
    merged: dict[str, list[int]] = {}
    for name, off, width in slots:
        base = name[:-3] if name.endswith(("_lo", "_hi")) else name
        lo, hi = off, off + (width or word)
        if base in merged:
            lo, hi = min(lo, merged[base][0]), max(hi, merged[base][1])
        merged[base] = [lo, hi]
    ordered = sorted(merged.items(), key=lambda kv: kv[1][0])
    if len(ordered) < len(args):
        return None
    out, notes = [], []
    for i, ((size, role, *bits), (name, (lo, hi))) in enumerate(zip(args, ordered)):
        width = hi - lo
        if width < size:
            notes.append(f"argument {i + 1} ({name}): the Go frame passes {width} bytes where the kernel reads {size}")
        out.append(Arg(i, width, role, lo, (), kernel_size=min(width, size), bits=bits[0] if bits else None))
    rest = ordered[len(args):]
    result = (rest[0][1][0], rest[0][1][1] - rest[0][1][0]) if rest else None
    end = max([hi for _, (_, hi) in ordered], default=0)
    return CallFrame(tuple(out), result, end), notes
