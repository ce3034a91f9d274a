"""The tables for other runtimes' generators, typed: every architecture, its syscalls
with their numbers and signatures, and how its kernel takes a syscall. The same facts
as `stubgen list --json`, whose document `document()` makes from these objects (so the
two cannot say different things). Handed on as `stubgen.architectures`,
`stubgen.architecture` and `stubgen.tables_document` (README: Library; the README's
example of them is run by tests/test_readme.py)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from types import MappingProxyType
from typing import Literal

from ..errors import choices
from .model import Arch, Tables
from .placement import kernel_parts

# The version of the document's shape: keys may be added, never renamed.
VERSION = 1


@dataclass(frozen=True)
class Argument:
    """One argument of a syscall on one architecture, in the kernel's order."""

    name: str  # the kernel's name for it
    c_type: str  # the kernel's C type: __user and qualifiers dropped, a pointer's const kept
    go_type: str  # the type of the Go declaration stubgen writes
    bytes: int  # the width a stub takes it at
    signed: bool
    kernel_registers: tuple[str | None, ...]  # where the kernel reads each word (a pair: low first); None: the stack
    kernel_stack: tuple[int | None, ...]  # for a word the kernel reads from the stack: its offset from sp at the trap
    kernel_bits: int  # how many bits the kernel reads (16 of a umode_t passed in 32)


@dataclass(frozen=True)
class SyscallResult:
    c_type: str
    go_type: str


@dataclass(frozen=True)
class Syscall:
    """A numbered syscall of one architecture. args and result are None where the tables
    have no signature for it (a reserved number, or a call left out: see excluded)."""

    name: str  # the kernel table's name
    number: int
    args: tuple[Argument, ...] | None
    result: SyscallResult | None
    special: Literal["noreturn", "returns_twice"] | None
    typed: bool  # stubgen generate makes a typed stub for it
    excluded: str | None  # why it has no typed stub (None when it has one)
    source: str | None  # where its signature was read (file:line in the kernel tree)
    reserved: bool  # a number with no entry point: the kernel answers ENOSYS


@dataclass(frozen=True)
class SyscallABI:
    """How the kernel takes a syscall on an architecture (its registers by the tables'
    canonical names)."""

    number: str  # the register that holds the number
    args: tuple[str, ...]  # the registers of arguments 1 to 6, as far as registers go
    result: str
    error_range: tuple[int, int]  # a result in this range is -errno
    error_flag: str | None  # a register set on error, with a positive errno in result (MIPS a3)
    stack_args: int | None  # arguments past the registers: at this offset from sp at the trap
    stack_slot: int  # bytes per stack argument
    pair_align: int  # a two-register argument starts at a register index divisible by this


@dataclass(frozen=True)
class Architecture:
    name: str
    aliases: tuple[str, ...]
    goarch: str
    gnu_triple: str
    word_bytes: int
    endian: Literal["little", "big"]
    kernel: str | None  # the Linux version the numbers were imported from
    abi: SyscallABI
    syscalls: Mapping[str, Syscall]  # every numbered syscall, by name, in the kernel table's order

    def syscall(self, name: str) -> Syscall:
        """The syscall called name on this architecture (StubgenError if it has none)."""
        try:
            return self.syscalls[name]
        except KeyError:
            raise choices(f"syscall of {self.name}", name, self.syscalls,
                          f"stubgen.architecture({self.name!r}).syscalls") from None


def _syscall(t: Tables, arch: Arch, name: str) -> Syscall:
    sig = t.signature(arch, name)
    args = result = None
    if sig is not None:
        args = tuple(Argument(p.name, p.c_type, p.type.go, p.type.bytes(arch), p.type.signed,
                              tuple(k.reg for k in parts), tuple(k.stack for k in parts), p.type.kernel_bits(arch))
                     for p, parts in zip(sig.args, kernel_parts(arch, sig)))
        result = SyscallResult(sig.result.c, sig.result.go)
    return Syscall(name, arch.numbers[name], args, result, sig.special if sig else None,  # type: ignore[arg-type]
                   t.available(arch, name), t.exclusion(arch, name), (sig.source or None) if sig else None,
                   name in arch.reserved)


def _architecture(t: Tables, arch: Arch) -> Architecture:
    k = arch.kernel
    abi = SyscallABI(k.number, k.args, k.result, k.error_range, k.error_flag or None, k.stack_args, k.stack_slot,
                     k.pair_align)
    return Architecture(arch.name, arch.aliases, arch.goarch, arch.gnu_triple, arch.word_bytes, arch.endian,
                        arch.provenance.get("kernel"), abi,
                        MappingProxyType({n: _syscall(t, arch, n) for n in arch.numbers}))


# Tables are immutable and loaded once per directory (loader.load): one view of each,
# kept by identity (a Tables holds dicts: it has no hash).
_VIEWS: dict[int, tuple[Tables, Mapping[str, Architecture]]] = {}


def view(t: Tables) -> Mapping[str, Architecture]:
    """The architectures of loaded tables t, typed."""
    hit = _VIEWS.get(id(t))
    if hit is None or hit[0] is not t:
        if len(_VIEWS) >= 8:
            _VIEWS.clear()
        hit = _VIEWS[id(t)] = (t, MappingProxyType({name: _architecture(t, a) for name, a in t.arches.items()}))
    return hit[1]


def _tables(tables) -> Tables:
    from .loader import load

    return load(None if tables is None else str(tables))


def architectures(tables=None) -> Mapping[str, Architecture]:
    """Every architecture of the tables (default: the shipped ones; tables: your
    directory, overlaid file by file as with --tables), by name."""
    return view(_tables(tables))


def architecture(name: str, tables=None) -> Architecture:
    """One architecture by its name or an alias (x86_64, aarch64...)."""
    t = _tables(tables)
    return view(t)[t.arch(name).name]


def document(tables=None) -> dict:
    """The version-1 document of `stubgen list --json` (README: Machine-readable tables)."""
    return document_of(architectures(tables))


def document_of(arches: Mapping[str, Architecture]) -> dict:
    kernels = sorted({a.kernel for a in arches.values() if a.kernel})
    return {"version": VERSION, "kernel": kernels[-1] if kernels else None,
            "arches": {name: _plain(a) for name, a in arches.items()}}


def _plain(value):
    """value as JSON has it: objects for dataclasses and mappings, lists for tuples."""
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
