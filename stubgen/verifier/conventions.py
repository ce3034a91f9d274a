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
from .godecl import GoDecl, GoValue
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
    toc: str = ""  # the register that holds the module's TOC at a call within it (ppc64 ELFv2: r2)
    long_bytes: int = 0  # C's long and pointers, where narrower than a register (x32, n32: 4)
    long_upper: str = ""  # what the caller leaves above such a value: "undefined" or "sign" (extended)
    toc_symbol: str = ""  # the symbol a linked image's TOC is (ppc64: .TOC.)
    # (mask, value, register): an object whose e_flags & mask == value follows another ELF
    # ABI, whose callee takes its own address in register (ppc64's ELF V2 objects: r12)
    flags_entry: tuple[tuple[int, int, str], ...] = ()

    def entry_register_for(self, flags: int) -> str:
        """The register a caller sets to the callee's address in an object of e_flags flags."""
        return next((r for mask, value, r in self.flags_entry if flags & mask == value), self.entry_register)


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
    call_align: int = 0  # the stack pointer is a multiple of this at a call (0: the word size)


@dataclass(frozen=True)
class GoInternal:
    """Go's register-based ABIInternal: integer arguments, then results, from int_registers."""

    int_registers: tuple[str, ...]
    fixed: tuple[str, ...] = ()  # must hold the same value at the return (the current goroutine)


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
    go_abi0: GoABI0 | None  # None where Go has no port (only C callers are emulated)
    elf: dict = field(default_factory=dict)  # machine, bits: what an object for it must be
    tls: TLS | None = None
    go_internal: GoInternal | None = None  # None: no register ABI (<ABIInternal> is laid out as ABI0)


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
    # An argument the stub supplies itself rather than passes on (a stub stubgen did not
    # write, as --stub says): a constant, or the address of the Go frame slot at this offset.
    value: int | None = None
    address_of: int | None = None
    shift: int = 0  # the kernel sees the parameter shifted right by this (mmap2's page offset)
    # A C long or pointer narrower than its register (c.long_bytes): whether it is signed
    # (the kernel's rule says how it must reach the register); None for any other argument.
    long_signed: bool | None = None


@dataclass(frozen=True)
class ResultSlot:
    """One result of a Go function stubgen did not write, and what it must hold after a
    call that succeeded and after one that failed: "policy" (what the error policy
    returns), "result" (the kernel's result), "result2" (the second result register
    after the trap), "errno" (positive), a number, or None (anything)."""

    name: str
    size: int
    fp: int | None  # ABI0: offset in the frame
    reg: str | None  # ABIInternal: the register
    success: object = "policy"
    error: object = "policy"


@dataclass(frozen=True)
class CallFrame:
    args: tuple[Arg, ...]
    result: tuple[int, int] | None  # (fp, size) of the Go result
    argsize: int  # the Go frame's argument size, results included
    results: tuple[ResultSlot, ...] = ()  # a foreign Go function's results (then result is None)
    spill: int = 0  # ABIInternal: bytes of spill space for register arguments at FP, the stub's to write
    no_errors: bool = False  # its results' convention is for calls that cannot fail (Go's *NoError)


def _align(n: int, a: int) -> int:
    return -(-n // a) * a


GO_RESULTS, GO_HOOKS = "go_results", "go_hooks"  # conventions.yaml's keys that are not architectures


@lru_cache(maxsize=1)
def _all() -> dict:
    return yaml.safe_load((Path(__file__).parent / "conventions.yaml").read_text(encoding="utf-8"))


def _arches() -> dict:
    return {k: v for k, v in _all().items() if k not in (GO_RESULTS, GO_HOOKS)}


@cache
def conventions(arch_name: str, extra: str | None = None) -> Conventions:
    """The verifier's statement of the C and Go ABI0 conventions of an architecture;
    extra: a user's --kernel-abi file, whose entry for an architecture the shipped
    statement lacks may carry a `conventions:` mapping of the same form."""
    d = _arches().get(arch_name)
    if d is None and extra is not None:
        d = kernel_statements(extra).get(arch_name, {}).get("conventions")
    if d is None:
        raise StubgenError(f"the verifier has no statement of the calling conventions for {arch_name!r} "
                           f"(stubgen/verifier/conventions.yaml knows {', '.join(sorted(_arches()))}; for a new "
                           "architecture, add a conventions: mapping to its entry in your --kernel-abi FILE)")
    c, g, i = d["c"], d.get("go_abi0"), d.get("go_internal")
    return Conventions(
        CConvention(tuple(c["args"]), c["stack_args"], c["stack_slot"], c["pair_registers"], c["pair_stack"],
                    c["sticky_stack"], c["return_address"], tuple(c["callee_saved"]), c["result"],
                    c["call_align"], c.get("entry_register", ""), tuple(c.get("save_area", (0, 0))),
                    c.get("toc", ""), c.get("long_bytes", 0), c.get("long_upper", ""), c.get("toc_symbol", ""),
                    tuple((f["mask"], f["value"], f["entry_register"]) for f in c.get("flags_entry", ()))),
        GoABI0(g["fp"], g["int64_align"], g["result_align"], g["return_address"], g.get("zero", {}),
               tuple(g.get("zero_read_first", ())), g.get("call_align", 0)) if g else None,
        dict(d.get("elf", {})), _tls(d.get("tls")),
        GoInternal(tuple(i["int_registers"]), tuple(i.get("fixed", ()))) if i else None)


def _tls(d: dict | None) -> TLS | None:
    if not d:
        return None
    p = d.get("pointer", ())
    return TLS(d["variant"], tuple(p) if isinstance(p, list) else (str(p),) if p else (), d.get("tcb", 0),
               d.get("bias", 0), d.get("segment", ""), d.get("table", ""), tuple(d.get("flat", ())))


def c_long_bytes(arch) -> int:
    """C's long on arch (a tables Arch), by these conventions: a register where they say nothing."""
    return (conventions(arch.name).c.long_bytes if arch.name in known_arches() else 0) or arch.word_bytes


def known_arches() -> list[str]:
    return sorted(_arches())


def go_hooks() -> dict[str, str]:
    """The Go runtime's functions a syscall wrapper calls around the trap: name ->
    "before" or "after"."""
    return dict(_all().get(GO_HOOKS, {}))


def go_result_roles(names) -> tuple[list, list, bool] | None:
    """(on success, on error, for calls that cannot fail) for Go results of these names,
    by conventions.yaml's go_results; None when no convention has them."""
    for conv in _all().get(GO_RESULTS, ()):
        if list(conv["names"]) == list(names):
            return list(conv["success"]), list(conv["error"]), bool(conv.get("no_errors"))
    return None


def call_frame(conv: Conventions, word: int, args, result_size: int | None) -> CallFrame:
    """Where a caller puts arguments of these (size, role[, bits]) tuples, in order, and
    the Go result of result_size bytes (None: no result). bits: what the kernel reads."""
    c, g = conv.c, conv.go_abi0
    # Without a Go port the Go offsets are word-aligned ones no caller reads.
    int64_align, result_align = (g.int64_align, g.result_align) if g else (word, word)
    out, fp, reg, stack = [], 0, 0, 0
    for i, (size, role, *bits) in enumerate(args):
        words = max(1, size // word)
        fp = _align(fp, int64_align if size >= 8 else size)
        part = min(size, word)
        # (size, role, bits, signed): a word-sized type of the tables, a C long or pointer
        long_signed = bits[1] if len(bits) > 1 and c.long_bytes and c.long_bytes < size else None
        if long_signed is not None:
            part = c.long_bytes
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
        out.append(Arg(i, size, role, fp, places, bits=bits[0] if bits else None, long_signed=long_signed))
        fp += size
    result = None
    if result_size is not None:
        fp = _align(fp, result_align)
        result = (fp, result_size)
        fp += result_size
    return CallFrame(tuple(out), result, fp)


def _merged_slots(word: int, slots) -> list[tuple[str, tuple[int, int]]]:
    """(name, (start, end)) of each Go frame slot an FP reference names, by offset (x_lo and
    x_hi halves are one slot)."""
    merged: dict[str, list[int]] = {}
    for name, off, width in slots:
        base = name[:-3] if name.endswith(("_lo", "_hi")) else name
        lo, hi = off, off + (width or word)
        if base in merged:
            lo, hi = min(lo, merged[base][0]), max(hi, merged[base][1])
        merged[base] = [lo, hi]
    return [(n, (lo, hi)) for n, (lo, hi) in sorted(merged.items(), key=lambda kv: kv[1][0])]


def slots_decl(word: int, name: str, slots, nparams: int) -> GoDecl:
    """A Go declaration read from a stub's FP references, where Go's own is not at hand:
    the first nparams slots by offset are its parameters, the rest its results."""
    ordered = _merged_slots(word, slots)
    values = [GoValue(n, "", "unsigned", lo, hi - lo) for n, (lo, hi) in ordered]
    end = max([hi for _, (_, hi) in ordered], default=0)
    return GoDecl(name, "its FP references", tuple(values[:nparams]), tuple(values[nparams:]), end)


def go_frame(word: int, args, slots) -> tuple[CallFrame, list[str]] | str | None:
    """The Go ABI0 frame a stub's own FP references describe (a stub stubgen did
    not write, whose Go declaration is not at hand). args: the signature's (size, role)
    pairs; slots: (name, offset, bytes) per FP reference (x_lo/x_hi halves are one
    slot). The first len(args) slots by offset are the arguments, the rest the results
    (several: by go_results, as their names match; a string says none does). None when
    the stub names fewer slots than arguments. The notes say where the Go frame is
    narrower than what the kernel reads."""
    ordered = _merged_slots(word, slots)
    if len(ordered) < len(args):
        return None
    out, notes = [], []
    for i, ((size, role, *bits), (name, (lo, hi))) in enumerate(zip(args, ordered)):
        width = hi - lo
        if width < size:
            notes.append(f"argument {i + 1} ({name}): the Go frame passes {width} bytes where the kernel reads {size}")
        out.append(Arg(i, width, role, lo, (), kernel_size=min(width, size), bits=bits[0] if bits else None))
    rest = ordered[len(args):]
    end = max([hi for _, (_, hi) in ordered], default=0)
    if len(rest) > 1:
        roles = go_result_roles([n for n, _ in rest])
        if roles is None:
            return (f"the Go function returns {len(rest)} results ({', '.join(n for n, _ in rest)}), which match "
                    "no convention of Go's (conventions.yaml go_results)")
        ok_roles, bad_roles, no_errors = roles
        results = tuple(ResultSlot(n, hi - lo, lo, None, ok, bad)
                        for (n, (lo, hi)), ok, bad in zip(rest, ok_roles, bad_roles))
        return CallFrame(tuple(out), None, end, results, no_errors=no_errors), notes
    result = (rest[0][1][0], rest[0][1][1] - rest[0][1][0]) if rest else None
    return CallFrame(tuple(out), result, end), notes


def decl_frame(conv: Conventions, word: int, decl, args, returns: bool, internal: bool,
               sources=None) -> tuple[CallFrame, list[str]] | str:
    """The frame a Go declaration (godecl.GoDecl) describes, for a stub stubgen did not
    write. args: the (size, role[, bits]) of the syscall's arguments; sources: where
    each comes from (objects with kind "param" and value N, "const" and value, or "slot"
    and name; None: the parameters, in order, one for one). Its results are checked by
    the error policy (one result; returns: whether the policy delivers it) or by the
    go_results convention their names match. internal: Go's register ABI
    (conv.go_internal). The notes say where Go passes fewer bytes than the kernel reads;
    a string says why the declaration cannot be checked."""
    if sources is None:
        if len(decl.params) != len(args):
            return (f"Go declares {len(decl.params)} parameters ({', '.join(p.name for p in decl.params)}) where "
                    f"the syscall takes {len(args)}: say where each argument comes from with "
                    "--stub SYMBOL=SYSCALL($0, ...)")
        sources = [_Param(i) for i in range(len(args))]
    elif len(sources) != len(args):
        return f"--stub gives {len(sources)} arguments where the syscall takes {len(args)}"
    for p in decl.params:
        if p.kind in ("float", "other", "unknown"):
            return f"parameter {p.name} is a {p.type}, not a value a register holds"
    regs = list(conv.go_internal.int_registers) if internal and conv.go_internal else []
    placed: dict[str, str] = {}
    if internal:
        for p in decl.params:
            if p.size > word or not regs:
                return f"parameter {p.name} ({p.type}) is not in a register of Go's register ABI"
            placed[p.name] = regs.pop(0)
    slots = {v.name: v for v in (*decl.params, *decl.results)}
    out, notes = [], []
    for i, ((size, role, *rest), src) in enumerate(zip(args, sources)):
        bits = rest[0] if rest else None
        if src.kind == "const":
            out.append(Arg(i, size, role, 0, (), kernel_size=size, bits=bits, value=src.value))
            continue
        if src.kind == "slot":
            v = slots.get(src.name)
            if v is None or (internal and v.name not in placed):
                return f"no Go frame slot {src.name} in the declaration of {decl.name} ({decl.where})"
            out.append(Arg(i, size, role, 0, (), kernel_size=size, bits=bits, address_of=v.offset))
            continue
        if src.value >= len(decl.params):
            return f"${src.value}: {decl.name} has {len(decl.params)} parameters ({decl.where})"
        p = decl.params[src.value]
        if p.size < size and role != "number":
            notes.append(f"argument {i + 1} ({p.name}): the Go frame passes {p.size} bytes where the kernel "
                         f"reads {size}")
        places = (Place(placed[p.name], None, p.size),) if internal else ()
        # index: the parameter's, so that two arguments taken from one parameter (a 64-bit
        # value's halves) see the one value the caller put there
        out.append(Arg(src.value, p.size, role, p.offset, places, kernel_size=min(p.size, size), bits=bits,
                       shift=getattr(src, "shift", 0)))
    results: list[ResultSlot] = []
    no_errors = False
    if decl.results and returns:
        if len(decl.results) == 1:
            roles: tuple[list, list, bool] | None = (["policy"], ["policy"], False)
        else:
            roles = go_result_roles([r.name for r in decl.results])
        if roles is None:
            return (f"results ({', '.join(r.name for r in decl.results)}) match no convention of Go's "
                    "(conventions.yaml go_results)")
        regs = list(conv.go_internal.int_registers) if internal and conv.go_internal else []
        ok_roles, bad_roles, no_errors = roles
        for r, ok, bad in zip(decl.results, ok_roles, bad_roles):
            if r.kind in ("float", "other", "unknown"):
                return f"result {r.name} is a {r.type}, not a value a register holds"
            if internal and (r.size > word or not regs):
                return f"result {r.name} ({r.type}) is not in a register of Go's register ABI"
            results.append(ResultSlot(r.name, r.size, None if internal else r.offset,
                                      regs.pop(0) if internal else None, ok, bad))
    spill = _align(max((p.offset + p.size for p in decl.params), default=0), word) if internal else 0
    return CallFrame(tuple(out), None, decl.argsize, tuple(results), spill, no_errors), notes


@dataclass(frozen=True)
class _Param:
    value: int
    kind: str = "param"
