"""Where the kernel reads each argument of a syscall: which of its registers, or where
on the stack past them. Pure arithmetic on table facts, shared by the generator's frame
layout and the tables' export; the verifier keeps its own (verifier/conventions.py).

An argument wider than a word (a 64-bit offset on a 32-bit architecture) travels as
word-sized parts, in consecutive registers or stack slots; the tables say where a pair
may start."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import StubgenError
from .model import Arch, Signature


def align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


class Registers:
    """Hands out a convention's argument registers in order, pairs at aligned indexes."""

    def __init__(self, regs, pair_align: int):
        self.regs, self.pair_align, self.next = list(regs), pair_align, 0

    def take(self, n: int) -> list[str] | None:
        i = align(self.next, self.pair_align) if n > 1 else self.next
        if i + n > len(self.regs):
            self.next = len(self.regs)  # AAPCS: once an argument goes to the stack, all later ones do
            return None
        self.next = i + n
        return self.regs[i:i + n]


@dataclass(frozen=True)
class KernelPart:
    """One word of an argument as the kernel reads it."""

    reg: str | None  # its register; None: the kernel reads it from the stack
    stack: int | None = None  # where reg is None: its offset from the stack pointer at the trap


def words(arch: Arch, sig: Signature, i: int) -> int:
    """How many words argument i of sig takes on arch (1 or 2)."""
    p = sig.args[i]
    size = p.type.bytes(arch)
    n = max(1, size // arch.word_bytes)
    if n > 2:
        raise StubgenError(f"{sig.name}.{p.name}: {size}-byte arguments on {arch.name} are not supported")
    return n


def kernel_parts(arch: Arch, sig: Signature) -> tuple[tuple[KernelPart, ...], ...]:
    """For each argument of sig, where the kernel reads its words; the number (role
    number) goes in the number register."""
    k = arch.kernel
    kregs = Registers(k.args, k.pair_align)
    out: list[tuple[KernelPart, ...]] = []
    ksaa = 0
    for i, p in enumerate(sig.args):
        n = words(arch, sig, i)
        if p.role == "number":
            if n != 1:
                raise StubgenError(f"{sig.name}.{p.name}: the syscall number must fit the one number register; "
                                   f"{p.type.name} takes {n} on {arch.name}")
            out.append((KernelPart(k.number),))
            continue
        regs: Sequence[str] | None = kregs.take(n)
        if regs is not None:
            out.append(tuple(KernelPart(r) for r in regs))
        elif k.stack_args is not None:
            # Past the registers, the kernel reads the caller's stack like a C call's.
            ksaa = align(ksaa, k.pair_stack_align if n > 1 else k.stack_slot)
            out.append(tuple(KernelPart(None, k.stack_args + ksaa + j * k.stack_slot) for j in range(n)))
            ksaa += n * k.stack_slot
        else:
            raise StubgenError(f"{sig.name}: its arguments need more than the {len(k.args)} registers "
                               f"{arch.name} passes to the kernel")
    return tuple(out)
