"""Unicorn side: one engine per architecture, reused for every run. Each run starts
from a saved clean context; new code is followed by dropping the translation cache
(a reused engine otherwise runs the old code)."""
from __future__ import annotations

import importlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from .assembly import engine_mode
from .kernel import LinuxABI

CODE, CODE_SIZE = 0x100000, 0x10000
STACK, STACK_SIZE = 0x200000, 0x10000
SP0 = STACK + 0x8000  # the stack pointer the caller hands over
WINDOW = 0x400  # bytes around SP0 refilled with the canary before each run
SPECIAL = 0x300000
SENTINEL = SPECIAL  # the return address: reaching it ends the run
HANDLER = SPECIAL + 0x100  # the errno handler
VDSO = SPECIAL + 0x200  # a fake __kernel_vsyscall
VDSO_CELL = SPECIAL + 0x400  # a pointer to it, like runtime·_vdso
# Stand-ins (standins.py): function stand-ins (the ABI's return instruction, hooked),
# their data cells, the names of what the input lacks (running or reading there stops
# the run, naming it), and the TLS block with, on i386, the descriptor table.
STANDIN_CODE = SPECIAL + 0x10000
STANDIN_DATA = SPECIAL + 0x18000
STANDIN_SLOT = 0x10
EXTERN = SPECIAL + 0x20000
EXTERN_SIZE = 0x10000
TLS_AREA = SPECIAL + 0x30000
TLS_SIZE = 0xF000
DESCRIPTORS = TLS_AREA + TLS_SIZE  # a descriptor table, for a TLS pointer that is a segment's base
SPECIAL_SIZE = 0x40000
ERRNO_POISON = 0x7E7E7E7E  # errno before a run: no errno the kernel has, so a write shows
# Go's stand-ins for functions a Go stub calls or jumps to that are not in its input
# (gostandins.py): a page of their own, near the code so that every architecture's
# direct call reaches it (RISC-V's jal: +-1 MiB).
STANDINS, STANDINS_SIZE = CODE + CODE_SIZE + 0x10000, 0x1000
# Where symbols the static linker defines (_GLOBAL_OFFSET_TABLE_) point: unmapped, so a
# stub may compute with such an address (PIC code adds it to the PC) but never read through it.
LINKER = 0x500000
# Machine code given as an ELF file, linked here: right after the stand-ins, so that the
# shortest branch an object may use to reach one (RISC-V's jal, +-1 MiB) does.
IMAGE = SPECIAL + SPECIAL_SIZE
IMAGE_LIMIT = 0x3000000  # bytes an image may span
# A fake GOT: its first slot holds the errno handler's address, the rest zero (a jump
# through them faults). PIC code that finds its GOT from its own address (MIPS: gp = PC
# + _gp_disp) gets gp = GOT from the verifier's linker (checker.py) and reads the
# handler from slot 0. Read-only to a stub (caller.bad_accesses). Past every image.
GOT, GOT_SIZE = 0x3800000, 0x1000
CANARY = 0xA5
STEP_LIMIT = 500
IMAGE_STEP_LIMIT = 20000  # compiled code (a caller that keeps thirty values at -O0) runs longer than a stub


# What the fake kernel leaves in a register the syscall instruction or the kernel changes
# (linux_abi.yaml cpu_clobbers): amd64's rcx (next_pc) and r11 (flags); volatile: anything
# (ppc64's r0, MIPS's temporaries), a value no stub could mistake for one it set, and one
# of its own per register (its low byte), so a wrong value later names where it came from.
_CLOBBER = {"flags": 0x246, "volatile": 0x6B6B6B6B6B6B6B00}


def _clobbered(what: str, pc: int, index: int = 0) -> int:
    if what == "next_pc":
        return pc
    return _CLOBBER[what] + (0x11 + index if what == "volatile" else 0)


class Negated(int):
    """An injected error the kernel returns already negated with its error flag set
    (some MIPS kernel paths, musl 5db475f0): the caller must still see -errno."""


def stub_symbols(abi: LinuxABI, errno_handler: str) -> dict[str, int]:
    """Symbols a stub may reference, by the names the tables and the ABI statement use."""
    syms = {errno_handler: HANDLER}
    for name in (abi.vdso or {}).get("symbols", []):
        syms[name] = VDSO_CELL
    return syms


@dataclass
class Trap:
    pc: int
    number: int
    args: tuple[int, ...]
    result2: int | None = None  # the second result register, which the kernel leaves as it is
    memory: bytes | None = None  # what an entry point that reads its arguments through a pointer read


@dataclass
class Run:
    returned: bool = False
    pc: int = 0
    fault: str | None = None  # unmapped access, invalid instruction...
    external: str | None = None  # a function the input lacks, which the run reached
    unmapped: int | None = None  # the address of an access to unmapped memory
    crash: str | None = None  # a trap the ABI counts as a deliberate crash
    traps: list[Trap] = field(default_factory=list)
    reads: list[tuple[int, int, int]] = field(default_factory=list)  # (address, size, pc)
    writes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (address, size, value, pc)
    regs: dict = field(default_factory=dict)
    steps_exhausted: bool = False
    tail: str | None = None  # the stand-in a tail jump reached, which ended the run there
    interrupt: int | None = None  # an interrupt the fake kernel does not handle, which ended the run


@dataclass
class Paused:
    """A run's state at its first trap, before the kernel's result: what every run of the
    same stub shares up to there (the trap is the same whatever the result will be)."""

    context: object  # the CPU at the trap
    trap: Trap
    resume_at: int  # where the CPU goes on (with the mode bit, where the ABI keeps one in the PC)
    reads: list  # the accesses before the trap
    writes: list
    memory: list[tuple[int, bytes]]  # what the stub wrote before the trap, as it was at the trap
    steps: int  # instructions a resumed run may take: within the whole run's limit, whatever came before
    clobbers: list = field(default_factory=list)  # what the fake kernel leaves in the registers it changes


class _Registers:
    """A fixed list of registers, read or written with one call into Unicorn. Through
    the binding's reg_read/reg_write each register costs about 2 µs, and a run needs a
    few dozen; the batch call with buffers made once costs about 1 µs for all of them."""

    def __init__(self, uc, ids, mask: int, reads: bool = True):
        import ctypes

        self.uc, self.ids, self.mask, self.n, self.reads = uc, list(ids), mask, len(ids), reads
        self._read: Callable[..., int] | None
        try:
            from unicorn.unicorn_py3.unicorn import uclib

            self._read, self._write, self._h = uclib.uc_reg_read_batch, uclib.uc_reg_write_batch, uc._uch
        except (ImportError, AttributeError):  # another binding layout: the public calls still work
            self._read = None
            return
        # Unicorn reads and writes each general register through a uint64 (narrower ones
        # through its low bytes), as the binding itself does.
        self._vals = (ctypes.c_uint64 * self.n)()
        self._cids = (ctypes.c_int * self.n)(*self.ids)
        base, size = ctypes.addressof(self._vals), ctypes.sizeof(ctypes.c_uint64)
        self._ptrs = (ctypes.c_void_p * self.n)(*(base + size * i for i in range(self.n)))

    def first(self):
        """A reader of the first register alone, for hooks that run on every access."""
        if self._read is None:
            return lambda: self.uc.reg_read(self.ids[0]) & self.mask
        fn, h, cids, ptrs, vals = self._read, self._h, self._cids, self._ptrs, self._vals

        def read_first() -> int:
            status = fn(h, cids, ptrs, 1)
            if status:
                raise self._error(status)
            return vals[0]
        return read_first

    def read(self) -> list[int]:
        if self._read is None:
            return [self.uc.reg_read(i) & self.mask for i in self.ids]
        status = self._read(self._h, self._cids, self._ptrs, self.n)
        if status:
            raise self._error(status)
        # Narrower registers fill only the low bytes; the rest stay zero because a
        # bank is either read or written, never both.
        return self._vals[:]

    def write(self, values) -> None:
        if self._read is None:
            for i, v in zip(self.ids, values):
                self.uc.reg_write(i, v & self.mask)
            return
        if self.reads:
            raise ValueError("a register bank that is read is never written")
        m, vals = self.mask, self._vals
        for k, v in enumerate(values):
            vals[k] = v & m
        status = self._write(self._h, self._cids, self._ptrs, self.n)
        if status:
            raise self._error(status)

    @staticmethod
    def _error(status):
        from unicorn import UcError

        return UcError(status)


@dataclass
class Prepared:
    """The caller's state for one stub, made once and restored before each of its runs."""

    context: object
    writes: list[tuple[int, bytes]]


def got_entry_bytes(arch) -> int:
    """A GOT entry holds a pointer: C's (conventions.yaml c.long_bytes, n32's 4) where the
    verifier's statement makes it narrower than a register, else a word."""
    from .conventions import conventions, known_arches

    if arch.name in known_arches():
        return conventions(arch.name).c.long_bytes or arch.word_bytes
    return arch.word_bytes


class Machine:
    def __init__(self, arch, abi: LinuxABI, assembler):
        import unicorn

        self.uc_mod = unicorn
        e = arch.engines.unicorn
        consts = importlib.import_module(f"unicorn.{e['consts']}")
        self.arch, self.abi = arch, abi
        self.word = arch.word_bytes
        self.mask = (1 << (8 * self.word)) - 1
        names = e.get("names", {})
        self.reg_ids = {r: getattr(consts, e["prefix"] + names.get(r, r).upper()) for r in arch.registers}
        self.pc_id = getattr(consts, e["prefix"] + e["pc"].upper())
        self.sp = arch.stack_pointer
        uc = unicorn.Uc(getattr(unicorn, e["arch"]), engine_mode(unicorn, e["mode"]))
        if e.get("cpu_model"):
            # before the first mapping, which brings the CPU up
            uc.ctl_set_cpu_model(getattr(consts, e["cpu_model"]))  # type: ignore[attr-defined]
        # keep memory flat: the default reserves far more
        # (mypy resolves unicorn.Uc to the binding's Python 2 class, which lacks this call)
        uc.ctl_set_tcg_buffer_size(8 * 1024 * 1024)  # type: ignore[attr-defined]
        uc.mem_map(CODE, CODE_SIZE)
        uc.mem_map(STACK, STACK_SIZE)
        uc.mem_map(SPECIAL, SPECIAL_SIZE)
        self.special_lo, self.special_hi = SPECIAL, SPECIAL + SPECIAL_SIZE
        uc.mem_map(GOT, GOT_SIZE)
        uc.mem_write(GOT, HANDLER.to_bytes(got_entry_bytes(arch), arch.endian))
        uc.mem_map(STANDINS, STANDINS_SIZE)
        ret = assembler.assemble([abi.ret], HANDLER).code
        self._ret_code = ret
        uc.mem_write(HANDLER, ret)
        uc.mem_write(SENTINEL, ret)
        if abi.vdso:
            uc.mem_write(VDSO, assembler.assemble(abi.vdso["entry"].split(";"), VDSO).code)
            uc.mem_write(VDSO_CELL, VDSO.to_bytes(self.word, arch.endian))
        uc.hook_add(unicorn.UC_HOOK_INTR, self._on_interrupt)
        if abi.trap.get("syscall_insn"):
            from unicorn import x86_const

            uc.hook_add(unicorn.UC_HOOK_INSN, self._on_syscall, None, 1, 0, x86_const.UC_X86_INS_SYSCALL)
        uc.hook_add(unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE, self._on_mem)
        uc.hook_add(unicorn.UC_HOOK_MEM_UNMAPPED, self._on_unmapped)
        for name, value in e.get("init", {}).items():
            uc.reg_write(getattr(consts, e["prefix"] + name.upper()), value)
        self.uc = uc
        self.clean = uc.context_save()
        names = list(self.reg_ids)
        self._names = names
        self._all = _Registers(uc, [self.pc_id] + [self.reg_ids[r] for r in names], self.mask)
        self._read_pc = _Registers(uc, [self.pc_id], self.mask).first()
        # At the trap: the PC, the number, the argument registers, the second result
        # register and, where the kernel copies arguments from the caller's stack, the
        # stack pointer, in one call.
        self._result2 = [self.reg_ids[abi.result2]] if abi.result2 else []
        self._at_trap = _Registers(uc, [self.pc_id, self.reg_ids[abi.number]] + [self.reg_ids[r] for r in abi.args]
                                   + self._result2 + ([self.reg_ids[self.sp]] if abi.stack_args else []), self.mask)
        self._nargs = len(abi.args)
        self._number_field = abi.trap.get("number_field")
        self._stack_offset = abi.stack_args["offset"] if abi.stack_args else 0
        self._stack_slots = struct.Struct(("<" if arch.endian == "little" else ">") + "I" * abi.stack_args["slots"]) \
            if abi.stack_args else None
        self._clobbers = [(r, what) for r, what in abi.cpu_clobbers.items()]
        # A clobbered register the tables do not name (MIPS hi and lo): the emulator's own name.
        for r, _ in self._clobbers:
            if r not in self.reg_ids:
                self.reg_ids[r] = getattr(consts, e["prefix"] + e.get("names", {}).get(r, r).upper())
        self.junk = {_clobbered(what, 0, i) & self.mask: r for i, (r, what) in enumerate(self._clobbers)
                     if what != "next_pc"}
        self.next_pc = [r for r, what in self._clobbers if what == "next_pc"]  # its value: the trap's return
        flag = [self.reg_ids[abi.error_flag]] if abi.error_flag else []
        # Flag bits inside a register the stub may also use (ppc64 CR): the rest keep their value.
        self._flag_bits = abi.error_flag_bits
        self._read_flag = _Registers(uc, flag, self.mask).first() if flag and abi.error_flag_bits else None
        self._trap_out = _Registers(uc, [self.reg_ids[abi.result]] + flag
                                    + [self.reg_ids[r] for r, _ in self._clobbers], self.mask, reads=False)
        self._write_access = unicorn.UC_MEM_WRITE
        # A mode the PC's low bit selects when a run starts (ARM's Thumb state) and a
        # register bit holds while it runs (engines.unicorn.resume_mode): a resumed run
        # starts at an address with that bit.
        rm = e.get("resume_mode")
        self._resume_bit = (getattr(consts, e["prefix"] + rm["register"].upper()), rm["bit"]) if rm else None
        # Where a run of the assembled stub starts: its address, with the low bit that
        # selects the state it was assembled for (engines.unicorn.entry_low_bit; Thumb).
        self.code_entry = CODE | e.get("entry_low_bit", 0)
        self._pause: Callable[[], bool] | None = None
        self._paused: Paused | None = None
        # False where the engine keeps state across the trap that its saved context does
        # not restore (engines.unicorn.resumes: false): every result runs from the entry.
        self.resumes = e.get("resumes", True)
        self._write_pc = bool(e.get("write_pc_at_trap"))  # an engine bug's workaround (arch tables)
        # Interrupts by which the engine reports a bad address (MIPS's address errors and TLB
        # misses) without saying which: such a run is run again to find it (_locate).
        self._address_faults = frozenset(e.get("address_fault_interrupts", ()))
        self._contexts: dict = {}
        self.code_len = 0
        self._code = b""
        self.run: Run | None = None
        self.inject = 0
        self.indirect_words = 0  # set per stub: its entry point reads this many words through arg 1
        self._image: tuple[int, int] | None = None  # the mapped image's [start, end)
        self.externs: dict[int, str] | None = None  # address -> name of what an image lacks

    def return_code(self) -> bytes:
        """The ABI's return instruction (linux_abi.yaml return), as the fake handlers hold it."""
        return self._ret_code

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self.reg_ids[name], value & self.mask)

    def load_image(self, segments, externs: dict[int, str]) -> None:
        """An image's segments, (address, bytes) each, mapped and written where they ask
        (within IMAGE..IMAGE_LIMIT or below CODE, away from the emulator's own memory);
        externs: the addresses of what the image lacks, by name."""
        uc = self.uc
        if self._image is not None:
            uc.mem_unmap(self._image[0], self._image[1] - self._image[0])
            self._image = None
        lo = min(a for a, _ in segments) & ~0xFFF
        hi = (max(a + len(d) for a, d in segments) + 0xFFF) & ~0xFFF
        uc.mem_map(lo, hi - lo)
        self._image = (lo, hi)
        for addr, data in segments:
            uc.mem_write(addr, bytes(data))
        uc.ctl_remove_cache(lo, hi)
        if self.externs is None:
            import unicorn

            uc.hook_add(unicorn.UC_HOOK_CODE, self._on_extern, None, EXTERN, EXTERN + EXTERN_SIZE - 1)
        self.externs = dict(externs)

    def unload_image(self) -> None:
        """Unmap the image: a later stub must find LINKER and its neighbours unmapped."""
        if self._image is not None:
            self.uc.mem_unmap(self._image[0], self._image[1] - self._image[0])
            self._image = None

    def _on_extern(self, uc, address, size, _):
        name = (self.externs or {}).get(address, f"{address:#x}")
        self._stop(external=name, pc=address)

    def thread_pointer(self, tls, tp: int) -> dict:
        """Registers (Unicorn ids) -> values that make tp the thread pointer (conventions.yaml
        tls); a segment's base goes into a descriptor in the table at DESCRIPTORS."""
        consts = importlib.import_module(f"unicorn.{self.arch.engines.unicorn['consts']}")
        prefix = self.arch.engines.unicorn["prefix"]
        if tls.segment:
            # Descriptor 1: flat data; 2: the TLS segment (base tp). Present, writable data,
            # 4 GiB limit in pages, 32-bit.
            def descriptor(base: int) -> bytes:
                return struct.pack("<Q", 0xFFFF | (base & 0xFFFFFF) << 16 | 0x93 << 40 | 0xF << 48 | 0xC << 52
                                   | ((base >> 24) & 0xFF) << 56)

            self.uc.mem_write(DESCRIPTORS + 8, descriptor(0) + descriptor(tp))
            out: dict = {getattr(consts, prefix + tls.table): (0, DESCRIPTORS, 8 * 3 - 1, 0)}
            out.update({getattr(consts, prefix + r): 1 << 3 for r in tls.flat})
            out[getattr(consts, prefix + tls.segment)] = 2 << 3
            return out
        if len(tls.pointer) == 1:
            return {getattr(consts, prefix + tls.pointer[0]): tp & self.mask}
        half = 32 * (len(tls.pointer) - 1)
        return {getattr(consts, prefix + r): (tp >> (half - 32 * i)) & 0xFFFFFFFF for i, r in enumerate(tls.pointer)}

    def symbols(self, errno_handler: str) -> dict[str, int]:
        return stub_symbols(self.abi, errno_handler)

    def load(self, code: bytes):
        if len(code) > CODE_SIZE:
            raise ValueError("stub larger than the code area")
        self.uc.mem_write(CODE, code + b"\0" * max(0, self.code_len - len(code)))
        self.uc.ctl_remove_cache(CODE, CODE + max(self.code_len, len(code)))
        self.code_len = len(code)
        self._code = bytes(code)

    def _code_bytes(self, at: int, size: int) -> bytes:
        """size bytes at address at: from the loaded code where they lie in it (no call
        into Unicorn), else from the emulator's memory."""
        if CODE <= at and at + size <= CODE + self.code_len:
            return self._code[at - CODE:at - CODE + size]
        return bytes(self.uc.mem_read(at, size))

    def reg(self, name: str) -> int:
        return self.uc.reg_read(self.reg_ids[name])

    def _stop(self, **what):
        for k, v in what.items():
            setattr(self.run, k, v)
        self.uc.emu_stop()

    def _syscall(self, pc: int, seen: list[int], site=None):
        args = tuple(seen[2:2 + self._nargs])
        result2 = seen[2 + self._nargs] if self._result2 else None
        number = seen[1]
        field = self._number_field
        if field and site:
            # s390x svc NR: a nonzero immediate is the number; 0 leaves it to the register.
            imm = int.from_bytes(self._code_bytes(site[0] + field["offset"], field["size"]), self.arch.endian)
            number = imm or number
        if self._stack_slots is not None:
            # The kernel copies these from the caller's stack at the trap.
            at = seen[-1] + self._stack_offset
            args += self._stack_slots.unpack(self.uc.mem_read(at, self._stack_slots.size))
        memory = None
        if self.indirect_words:
            # The entry point copies its arguments from the memory the first one points at.
            try:
                memory = bytes(self.uc.mem_read(args[0], self.indirect_words * self.word))
            except self.uc_mod.UcError:
                memory = None
        assert self.run is not None
        first = not self.run.traps
        self.run.traps.append(Trap(pc, number, args, result2, memory))
        if first and self._pause is not None and self._pause():
            # The state here, the result not written yet: each result resumes from it.
            self._paused = self._save(self.run)
        self._trap_out.write(self._kernel_result() + [_clobbered(what, pc, i) for i, (_, what) in enumerate(self._clobbers)])

    def _kernel_result(self) -> list[int]:
        """The result register (and the error flag, where the ABI has one) for the
        injected result: -errno, or a positive errno with the flag set."""
        inject = self.inject
        if not self.abi.error_flag:
            return [inject]
        lo, hi = self.abi.error_range
        result: int
        if isinstance(inject, Negated):
            result, on = inject, True
        else:
            on = lo <= inject <= hi
            result = -inject if on else inject
        if self._read_flag is None:
            return [result, int(on)]
        bits, old = self._flag_bits, self._read_flag()
        return [result, (old | bits) if on else (old & ~bits)]

    def _on_syscall(self, uc, _):
        seen = self._at_trap.read()
        self._syscall(seen[0] + 2, seen)

    def _trap_site(self, pc: int):
        """(address, size) of the trap instruction that ends at pc (preferred) or starts
        there, from its bytes; None when neither holds one. Two traps back to back
        read as "ends at pc", so a release that reports the PC at the trap would run the
        second one again: two syscalls, which the checks refuse, never a silent pass."""
        at_first = self.abi.trap.get("pc") == "at"  # the ABI says Unicorn stops on the trap (s390x)
        for op in self.abi.opcodes:
            for at in ((pc, pc - op.size) if at_first else (pc - op.size, pc)):
                try:
                    found = op.matches(self._code_bytes(at, op.size), self.arch.endian)
                except self.uc_mod.UcError:
                    continue
                if found:
                    return at, op.size
        return None

    def _on_interrupt(self, uc, intno, _):
        seen = self._at_trap.read()
        pc = seen[0]
        if pc == SENTINEL:
            # The return reached the end of the run; Unicorn's s390x raises an interrupt
            # (3) there instead of stopping on emu_start's `until`.
            return uc.emu_stop()
        trap = self.abi.trap
        if intno == trap.get("interrupt"):
            site = self._trap_site(pc)
            if site is None:
                word = int.from_bytes(uc.mem_read(pc - 4, 4), self.arch.endian) if pc - 4 >= CODE else 0
                return self._stop(fault=f"interrupt {intno} at pc {pc:#x} (instruction before it {word:#010x}): "
                                        f"not the {trap.get('name', 'syscall trap')}", pc=pc)
            after = site[0] + site[1]
            if after != pc or trap.get("pc") == "at" or self._write_pc:
                # s390x: Unicorn resumes at the svc whatever PC it reports, unless told.
                uc.reg_write(self.pc_id, after)
            return self._syscall(after, seen, site)
        if intno in self.abi.crash_interrupts:
            return self._stop(crash=f"interrupt {intno}", pc=pc)
        self._stop(fault=f"unexpected interrupt {intno}", pc=pc, interrupt=intno)

    def _on_unmapped(self, uc, access, address, size, value, _):
        assert self.run is not None
        self.run.unmapped = address
        return False  # the access faults, as it would

    def _on_mem(self, uc, access, address, size, value, _):
        pc = self._read_pc()
        if access == self._write_access:
            self.run.writes.append((address, size, value, pc))
        else:
            self.run.reads.append((address, size, pc))

    def prepare(self, regs: dict, memory: list[tuple[int, bytes]], extra: dict | None = None) -> Prepared:
        """The caller's registers as a saved context (shared by every stub that hands over
        the same values), and the stack window with the caller's memory laid into it.
        extra: more registers by Unicorn id (the thread pointer)."""
        key = tuple(regs.items()) + tuple(sorted((extra or {}).items()))
        ctx = self._contexts.get(key)
        if ctx is None:
            uc = self.uc
            uc.context_restore(self.clean)
            _Registers(uc, [self.reg_ids[n] for n in regs], self.mask, reads=False).write(list(regs.values()))
            for rid, value in (extra or {}).items():
                uc.reg_write(rid, value)
            ctx = uc.context_save()
            if len(self._contexts) >= 256:
                self._contexts.clear()
            self._contexts[key] = ctx
        lo = SP0 - WINDOW
        window = bytearray([CANARY]) * (2 * WINDOW)
        writes: list[tuple[int, bytes | bytearray]] = [(lo, window)]
        for addr, data in memory:
            # Laid into the window while every write so far fits it; the rest keep their order.
            if len(writes) == 1 and lo <= addr and addr + len(data) <= lo + len(window):
                window[addr - lo:addr - lo + len(data)] = data
            else:
                writes.append((addr, data))
        return Prepared(ctx, [(a, bytes(d)) for a, d in writes])

    def run_prepared(self, prep: Prepared, inject: int, entry: int = CODE, steps: int = STEP_LIMIT) -> Run:
        run = self._run_prepared(prep, inject, entry, steps)
        if self.unlocated(run):
            run = self._locate(prep, inject, entry, steps)
        return run

    def unlocated(self, run: Run) -> bool:
        """Whether run ended on an address fault the engine did not place (run_prepared
        runs such a run again to place it)."""
        return run.interrupt is not None and run.interrupt in self._address_faults

    def _locate(self, prep: Prepared, inject: int, entry: int, steps: int) -> Run:
        """The run again, following the PC, so that an address fault names the instruction
        and the address it used (its memory operand, from the registers it stopped with)
        as an unmapped access does."""
        from .disasm import decode

        last: list[int] = []
        hook = self.uc.hook_add(self.uc_mod.UC_HOOK_CODE, lambda uc, address, size, _: last.append(address))
        try:
            run = self._run_prepared(prep, inject, entry, steps)
        finally:
            self.uc.hook_del(hook)
        if not last or run.interrupt is None:
            return run
        pc = last[-1]
        insn = decode(self.arch, bytes(self.uc.mem_read(pc, 4)), pc, 1, detail=True)
        for op in insn[0].operands if insn else ():
            mem = getattr(op, "mem", None)
            base = insn[0].reg_name(mem.base) if mem is not None and op.type == 3 else None  # 3: a memory operand
            if mem is not None and base in self.reg_ids:
                run.unmapped = (self.uc.reg_read(self.reg_ids[base]) + mem.disp) & self.mask
                run.fault = (f"address error (interrupt {run.interrupt}) at {run.unmapped:#x}: {insn[0].mnemonic} "
                             f"{insn[0].op_str}")
        run.pc = pc
        return run

    def _run_prepared(self, prep: Prepared, inject: int, entry: int, steps: int) -> Run:
        uc = self.uc
        uc.context_restore(prep.context)
        for addr, data in prep.writes:
            uc.mem_write(addr, data)
        self.run = run = Run()
        self.inject = inject
        return self._go(run, entry, steps)

    def _go(self, run: Run, begin: int, steps: int) -> Run:
        uc = self.uc
        try:
            uc.emu_start(begin, SENTINEL, count=steps)
        except self.uc_mod.UcError as e:
            run.fault = run.fault or str(e)
        seen = self._all.read()
        run.pc = seen[0]
        run.returned = run.pc == SENTINEL and not run.fault and not run.crash and not run.external
        if not run.returned and not run.fault and not run.crash and not run.external and run.tail is None:
            run.steps_exhausted = True
        run.regs = dict(zip(self._names, seen[1:]))
        return run

    def first_run(self, prep: Prepared, inject: int, entry: int, steps: int,
                  pausable: Callable[[], bool]) -> tuple[Run, Paused | None]:
        """A run for inject within half the step limit that keeps the state at its first
        trap where pausable() says so then (nothing the result could change has happened
        yet). (run, Paused or None); run.steps_exhausted: it needed more than half the
        limit, and is not the whole run."""
        self._pause, self._paused = pausable, None
        try:
            run = self.run_prepared(prep, inject, entry, steps // 2)
        finally:
            self._pause = None
        paused, self._paused = self._paused, None
        if paused is not None:
            # A resumed run may take what is left of the whole limit after at most half
            # of it, less one instruction either side for where the engine counts the trap.
            paused.steps = steps - steps // 2 - 2
        return run, paused

    def _save(self, run: Run) -> Paused:
        """The CPU and what the run wrote so far, from inside the trap's hook."""
        uc, trap = self.uc, run.traps[0]
        begin = trap.pc
        if self._resume_bit is not None:
            reg, bit = self._resume_bit
            begin |= (uc.reg_read(reg) >> bit) & 1
        memory = [(a, bytes(uc.mem_read(a, n))) for a, n in _spans((w[0], w[1]) for w in run.writes)]
        return Paused(uc.context_save(), trap, begin, list(run.reads), list(run.writes), memory, 0,
                      [_clobbered(what, trap.pc, i) for i, (_, what) in enumerate(self._clobbers)])

    def resume(self, prep: Prepared, paused: Paused, inject: int) -> Run:
        """The rest of a run for inject from its first trap: the CPU and memory as they
        were there, the kernel's result written, on from the instruction after it."""
        uc = self.uc
        uc.context_restore(paused.context)
        for addr, data in prep.writes:
            uc.mem_write(addr, data)
        for addr, data in paused.memory:
            uc.mem_write(addr, data)
        self.run = run = Run(traps=[paused.trap], reads=list(paused.reads), writes=list(paused.writes))
        self.inject = inject
        self._trap_out.write(self._kernel_result() + paused.clobbers)
        return self._go(run, paused.resume_at, paused.steps)


def _spans(accesses) -> list[tuple[int, int]]:
    """(address, size) accesses as the fewest (address, size) spans that cover them."""
    out: list[list[int]] = []
    for a, n in sorted(accesses):
        if out and a <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], a + n - out[-1][0])
        else:
            out.append([a, n])
    return [(a, n) for a, n in out]
