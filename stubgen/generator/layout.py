"""Where each argument and result lives: in the Go ABI0 frame, in the C calling
convention, and in the kernel's registers. Pure arithmetic on table facts.

An argument wider than a word (a 64-bit offset on a 32-bit architecture) travels
as word-sized parts in memory order (low word first on little-endian), in
consecutive registers or stack slots; the tables say where a pair may start."""
from __future__ import annotations

from dataclasses import dataclass

from ..tables.model import Arch, Param, Signature
from ..tables.placement import Registers, align, kernel_parts, words


@dataclass(frozen=True)
class Part:
    """One register's worth of an argument."""

    kreg: str | None  # kernel register; None: the kernel reads it from the stack
    fp: int  # offset in the Go ABI0 argument frame
    go_name: str  # the FP slot name go vet expects: x, or x_lo / x_hi for a pair
    size: int  # bytes
    c_reg: str | None  # register it arrives in under the C convention
    c_stack: int | None  # else: its offset from the stack pointer at entry
    kstack: int | None = None  # where kreg is None: its offset from the stack pointer at the trap
    # "zero" or "sign": a C long or pointer narrower than the register, which the stub
    # extends to the register before the trap (c_abi.long_args: widen)
    widen: str | None = None


@dataclass(frozen=True)
class ArgPlan:
    index: int
    name: str  # C name
    go_name: str
    go_type: str
    c_type: str
    size: int  # bytes
    bits: int  # of the value, what the kernel reads (16 of a 4-byte umode_t)
    fp: int  # offset in the Go ABI0 argument frame (name+fp(FP))
    parts: tuple[Part, ...]
    role: str | None = None  # "number": the syscall number, passed by the caller
    signed: bool = False  # the templates' load: sign- or zero-extending (s390x MOVW/MOVWZ, MIPS MOVW/MOVWU)
    # bytes of its C type: C's long where a word-sized type is narrower than the register
    # (c_abi.long_bytes: x32, n32), else size; a one-part argument wider than that (n32's
    # 64-bit offset) needs a C long long to hold it
    c_bytes: int = 0


@dataclass(frozen=True)
class ResultPlan:
    go_type: str
    size: int
    fp: int  # ret+fp(FP)


@dataclass(frozen=True)
class Frame:
    args: tuple[ArgPlan, ...]
    result: ResultPlan | None
    argsize: int  # the $0-N of the Go TEXT line
    c_saved: tuple[str, ...]  # callee-saved registers the stub must save

    @property
    def kernel_stack(self) -> int:
        """Bytes of the stack the kernel reads arguments from (0: all in registers),
        from the stack pointer at the trap up."""
        return max((p.kstack + p.size for a in self.args for p in a.parts if p.kstack is not None), default=0)

    @property
    def parts(self) -> tuple[Part, ...]:
        """Every part, in an order in which moving each from where the C caller put it
        into its kernel register never overwrites one still to be moved (argument order
        where nothing conflicts)."""
        return _sequence([p for a in self.args for p in a.parts])


def _sequence(parts: list[Part]) -> tuple[Part, ...]:
    pending: list[Part] = list(parts)
    out: list[Part] = []
    while pending:
        sources = {p.c_reg for p in pending if p.c_reg and p.c_reg != p.kreg}
        ready = next((p for p in pending if p.kreg not in sources or p.c_reg == p.kreg), None)
        if ready is None:
            # A cycle would need a scratch register. No table's conventions make one; a
            # deliberately broken frame (the mutator's swapped registers) may, and is
            # emitted as it stands for the verifier to reject.
            return tuple(out + pending)
        pending.remove(ready)
        out.append(ready)
    return tuple(out)


# plan() runs for every stub rendered and every stub verified, with few distinct
# (architecture, signature) pairs: frames are kept by the identity of the tables'
# objects, which are immutable, and checked to be the same objects on a hit.
_FRAMES: dict = {}


def plan(arch: Arch, sig: Signature, returns: bool) -> Frame:
    key = (id(arch), id(sig), returns)
    hit = _FRAMES.get(key)
    if hit is not None and hit[0] is arch and hit[1] is sig:
        return hit[2]
    frame = _plan(arch, sig, returns)
    if len(_FRAMES) >= 8192:
        _FRAMES.clear()
    _FRAMES[key] = (arch, sig, frame)
    return frame


def _c_spelling(p: Param) -> str:
    """The C prototype's type of p: the tables' spelling, const where the kernel only
    reads what the pointer points to (its own type is `const char *`), so that a
    caller's const data needs no cast."""
    t = p.type.c
    return f"const {t}" if t.endswith("*") and p.c_type.startswith("const ") else t


def _plan(arch: Arch, sig: Signature, returns: bool) -> Frame:
    k, c, word = arch.kernel, arch.c_abi, arch.word_bytes
    # The Go frame's offsets; an architecture without a Go port gets a word-aligned one
    # that no dialect reads (the Go dialect refuses it).
    go_align = arch.go_abi0.max_align if arch.go_abi0 else word
    halves = ("lo", "hi") if arch.endian == "little" else ("hi", "lo")
    kernel = kernel_parts(arch, sig)
    cregs = Registers(c.args, c.pair_align)
    args, off, nsaa = [], 0, 0
    for i, p in enumerate(sig.args):
        size = p.type.bytes(arch)
        n = words(arch, sig, i)
        off = align(off, min(size, go_align))
        cs = cregs.take(n)
        if cs is None:
            nsaa = align(nsaa, c.pair_stack_align if n > 1 else c.stack_slot)
            stack = [c.stack_args + nsaa + j * c.stack_slot for j in range(n)]
            nsaa += n * c.stack_slot
        part_size = min(size, word)
        ks = kernel[i]
        widen = ("sign" if p.type.signed else "zero") if c.long_args == "widen" and p.type.size == "word" else None
        parts = tuple(Part(ks[j].reg, off + j * word, p.go_name if n == 1 else f"{p.go_name}_{halves[j]}", part_size,
                           cs[j] if cs else None, None if cs else stack[j], ks[j].stack, widen) for j in range(n))
        args.append(ArgPlan(i, p.name, p.go_name, p.type.go, _c_spelling(p), size, p.type.kernel_bits(arch), off,
                            parts, p.role, p.type.signed,
                            c.long_bytes if c.long_bytes and p.type.size == "word" else size))
        off += size
    result = None
    if returns:
        off = align(off, word)
        rsize = sig.result.bytes(arch)
        result = ResultPlan(sig.result.go, rsize, off)
        off += rsize
    # Registers the stub writes: an argument already in its kernel register (s390x r6)
    # is not changed, so it needs no saving.
    used = {k.number, *(p.kreg for a in args for p in a.parts if p.c_reg != p.kreg)}
    saved = tuple(r for r in c.callee_saved if r in used)
    return Frame(tuple(args), result, off, saved)
