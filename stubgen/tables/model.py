"""Plain data: what the tables say, once loaded and validated."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from ..errors import choices


@dataclass(frozen=True)
class Engines:
    """The engines the verifier may use for an architecture; None where the engine
    does not have it (absent says why, for reports)."""

    capstone: dict | None = None
    unicorn: dict | None = None
    qemu: dict | None = None  # qemu-user through its gdbstub: where Unicorn cannot run a stub, and for agreement
    keystone: dict | None = None  # None: Keystone does not have the architecture
    llvm: dict | None = None  # LLVM's target, where the verifier may assemble with it
    # LLVM's C driver (zig cc): {target, flags}; the front end of files stubgen did not write
    # (.S preprocessed and assembled, headers compiled) and of the verifier's stand-in objects
    cc: dict | None = None
    absent: dict = field(default_factory=dict)  # engine key -> why it does not serve this architecture


@dataclass(frozen=True)
class KernelABI:
    """What the kernel reads: the trap is the templates' business."""

    number: str
    args: tuple[str, ...]
    result: str
    error_range: tuple[int, int]
    pair_align: int = 1  # a two-register argument starts at a register index divisible by this
    stack_args: int | None = None  # arguments past the registers: at this offset above sp at the trap
    stack_slot: int = 4
    pair_stack_align: int = 4
    error_flag: str = ""  # a register set on error, with a positive errno in result
    clobbers: tuple[str, ...] = ()  # registers the trap or the kernel may change besides the result
    clobbers_other: tuple[str, ...] = ()  # state with no register in the tables (MIPS hi, lo)


@dataclass(frozen=True)
class CallingConvention:
    """Where a C caller puts arguments and what it expects back."""

    args: tuple[str, ...]
    stack_args: int
    stack_slot: int
    return_address: str  # "stack" or a register name
    callee_saved: tuple[str, ...]
    result: str
    stack_align: int
    pair_align: int = 1
    pair_stack_align: int = 4  # stack alignment of a two-word argument (from the first stack argument)
    scratch: tuple[str, ...] = ()  # registers a stub may use for its own work
    long_bytes: int = 0  # C's long and pointers where narrower than a register (x32, n32: 4)
    long_args: str = ""  # "widen": the stub extends each such argument by its type; "keep"


@dataclass(frozen=True)
class GoABI0:
    fp: int
    return_address: str
    max_align: int = 8  # Go aligns a value to min(its size, this)
    scratch: tuple[str, ...] = ()  # registers a stub may use for its own work


@dataclass(frozen=True)
class Arch:
    name: str
    aliases: tuple[str, ...]
    goarch: str  # "" where Go has no linux port (go_absent says why)
    gnu_triple: str
    word_bytes: int
    endian: Literal["little", "big"]
    engines: Engines
    registers: dict  # canonical name -> Plan 9 name
    stack_pointer: str
    kernel: KernelABI
    c_abi: CallingConvention
    go_abi0: GoABI0 | None  # None without a Go port
    numbers: dict  # syscall name -> number
    provenance: dict = field(default_factory=dict)
    qemu_user: str = ""  # the qemu-user binary for this architecture's Linux programs
    qemu_absent: str = ""  # why there is none (x32)
    gnu_tools: dict = field(default_factory=dict)  # {triple, as_flags}: whose binutils serve, where not gnu_triple's
    gnu_flags: tuple[str, ...] = ()  # what the GNU cross gcc needs for this architecture's C (thumb: -mthumb)
    kernel_table: dict = field(default_factory=dict)  # where `stubgen tables import` reads the numbers
    entry_points: dict = field(default_factory=dict)  # syscall -> signature key where not its own name
    untyped: dict = field(default_factory=dict)  # syscall -> why it has no signature
    # Numbers whose kernel table row names no entry point: the kernel answers ENOSYS.
    reserved: tuple[str, ...] = ()
    signatures: dict = field(default_factory=dict)  # name -> Signature where this entry point differs
    c_macro: tuple[str, ...] = ()  # macros a C compiler for this architecture (and no other here) predefines

    @property
    def reserved_reason(self) -> str:
        """Why the reserved numbers have no stub: 'no entry point in <the kernel table>; ...'."""
        sources = self.provenance.get("sources") or [{}]
        table = sources[0].get("path", "the kernel table") if isinstance(sources[0], dict) else "the kernel table"
        return f"no entry point in {table}; the kernel answers ENOSYS"

    @property
    def c_condition(self) -> str:
        """The preprocessor condition that holds when compiling for this architecture."""
        return " && ".join(f"!defined({m[1:]})" if m.startswith("!") else f"defined({m})" for m in self.c_macro)
    system_calls: str = ""  # this architecture's name in the PyPI package system-calls
    # {zig: {target, flags}, gnu_absent: why}: C built by LLVM where no GNU cross tools exist
    c_toolchain: dict = field(default_factory=dict)
    go_absent: str = ""  # why Go has no linux port for this architecture

    @property
    def no_go_port(self) -> str:
        """'' where Go has a linux port, else the reason there is none."""
        return "" if self.go_abi0 is not None else f"Go has no linux port for {self.name}: {self.go_absent}"


@dataclass(frozen=True)
class Type:
    name: str
    size: int | str  # bytes, or "word"
    signed: bool
    go: str
    c: str
    bits: int | None = None  # what the kernel reads, where less than the size

    def bytes(self, arch: Arch) -> int:
        return arch.word_bytes if self.size == "word" else cast(int, self.size)

    def kernel_bits(self, arch: Arch) -> int:
        return self.bits or 8 * self.bytes(arch)


@dataclass(frozen=True)
class Param:
    name: str
    type: Type
    go_name: str
    role: str | None = None  # "number": the caller passes the syscall number here
    c_type: str = ""  # the kernel's spelling of the type


@dataclass(frozen=True)
class Signature:
    name: str
    args: tuple[Param, ...]
    result: Type
    source: str = ""  # where it was read: file:line in the kernel tree
    special: str | None = None  # "noreturn" or "returns_twice"
    untyped: str | None = None  # why no typed stub is made for it

    @property
    def generic(self) -> bool:
        """The number is an argument: the stub exists on every architecture."""
        return any(p.role == "number" for p in self.args)


@dataclass(frozen=True)
class Tables:
    arches: dict  # name -> Arch
    aliases: dict  # alias or name -> name
    types: dict  # name -> Type
    signatures: dict  # name -> Signature
    root: str

    def signature(self, arch: Arch, name: str) -> Signature | None:
        """The signature of name's entry point on arch, or None."""
        if name in arch.signatures:
            return arch.signatures[name]
        if name in arch.untyped or name in arch.reserved:  # whatever other architectures have
            return None
        key = arch.entry_points.get(name, name)
        return self.signatures.get(key) if key else None

    def available(self, arch: Arch, name: str) -> bool:
        """A typed stub can be made: a signature that is not left out, and a number
        unless the caller passes it."""
        sig = self.signature(arch, name)
        return sig is not None and not sig.untyped and (sig.generic or name in arch.numbers)

    def exclusion(self, arch: Arch, name: str) -> str | None:
        """Why the numbered call name gets no typed stub on arch, or None."""
        if name in arch.reserved:
            return f"reserved: {arch.reserved_reason}"
        sig = self.signature(arch, name)
        if sig is None:
            return arch.untyped.get(name) or "no signature in the tables"
        return sig.untyped

    def names(self, arch: Arch) -> list[str]:
        """Every call with a typed stub on arch: numbered calls, then generic stubs."""
        numbered = [n for n in arch.numbers if self.available(arch, n)]
        generic = sorted(n for n, s in self.signatures.items() if s.generic)
        return numbered + generic

    def arch(self, name: str) -> Arch:
        try:
            return self.arches[self.aliases[name]]
        except KeyError:
            raise choices("architecture", name, self.arches) from None
