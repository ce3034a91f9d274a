"""Where each argument and result lives: in the Go ABI0 frame, in the C calling
convention, and in the kernel's registers. Pure arithmetic on table facts."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import StubgenError
from .model import Arch, Signature


def align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


@dataclass(frozen=True)
class ArgPlan:
    index: int
    name: str  # C name
    go_name: str
    go_type: str
    c_type: str
    size: int  # bytes
    signed: bool
    fp: int  # offset in the Go ABI0 argument frame (name+fp(FP))
    kreg: str  # kernel register
    c_reg: str | None  # register it arrives in under the C convention
    c_stack: int | None  # else: its offset from the stack pointer at entry


@dataclass(frozen=True)
class ResultPlan:
    go_type: str
    size: int
    signed: bool
    fp: int  # ret+fp(FP)


@dataclass(frozen=True)
class Frame:
    args: tuple[ArgPlan, ...]
    result: ResultPlan | None
    argsize: int  # the $0-N of the Go TEXT line
    c_saved: tuple[str, ...]  # callee-saved registers the stub must save


def plan(arch: Arch, sig: Signature, returns: bool) -> Frame:
    k, c = arch.kernel, arch.c_abi
    if len(sig.args) > len(k.args):
        raise StubgenError(f"{sig.name}: {len(sig.args)} arguments, but {arch.name} passes at most {len(k.args)}")
    args, off = [], 0
    for i, p in enumerate(sig.args):
        size = p.type.bytes(arch)
        if size > arch.word_bytes:
            raise StubgenError(f"{sig.name}.{p.name}: {size}-byte arguments on {arch.name} are not supported yet")
        off = align(off, size)
        c_reg = c.args[i] if i < len(c.args) else None
        c_stack = None if c_reg else c.stack_args + c.stack_slot * (i - len(c.args))
        args.append(ArgPlan(i, p.name, p.go_name, p.type.go, p.type.c, size, p.type.signed, off, k.args[i],
                            c_reg, c_stack))
        off += size
    result = None
    if returns:
        off = align(off, arch.word_bytes)
        rsize = sig.result.bytes(arch)
        result = ResultPlan(sig.result.go, rsize, sig.result.signed, off)
        off += rsize
    used = {k.number, *(a.kreg for a in args)}
    saved = tuple(r for r in c.callee_saved if r in used)
    return Frame(tuple(args), result, off, saved)
