"""QEMU side: the stubs Unicorn cannot run, run by qemu-user itself (qemu-<arch> -g),
driven through its gdbstub. One qemu process per architecture serves every stub: it
runs the harness (harness.py), whose memory is the Unicorn machine's map, and each run
writes the code, the caller's registers and stack and single-steps from the entry.

The fake kernel is ours, as on Unicorn: the trap instruction never runs. When the PC
reaches a trap (linux_abi.yaml opcodes), the machine records what the kernel reads,
writes the injected result (and the error flag, and the cpu_clobbers junk) and moves
the PC past the trap. QemuMachine has the interface the checker uses of emulator.Machine
(prepare, run_prepared returning a Run, load, reg, set_reg, a `uc` with mem_read,
mem_write and code hooks), so every check is shared.

Linked images (machine code from ELF files: the C and Zig headers' callers) run the
same way: load_image writes the segments into the image area, which is inaccessible
(mprotect through the gate) while no image is loaded; the externs' page is too, so
that a call there stops the run (a code hook) and a read or write there faults.

What it does not see: memory reads (the gdbstub reports none, and qemu-user's has no
watchpoints); writes are found by comparing memory before and after the run (the
stack window, and for an image its own frame and every range rewritten before each
run: writable segments, TLS block, stand-ins' cells), attributed to the side of the
first trap they happened on. The checker says so in each report (blind, blind_image)."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from dataclasses import dataclass

from ..caller import IMAGE_FRAME
from ..emulator import (
    CANARY,
    CODE,
    CODE_SIZE,
    EXTERN,
    EXTERN_SIZE,
    GOT,
    HANDLER,
    IMAGE,
    IMAGE_LIMIT,
    SENTINEL,
    SP0,
    SPECIAL,
    SPECIAL_SIZE,
    STEP_LIMIT,
    VDSO,
    VDSO_CELL,
    WINDOW,
    Negated,
    Run,
    Trap,
    _clobbered,
    _spans,
)
from ..kernel import Opcode
from . import harness
from .gdbremote import Client, ProtocolError, signal_of

SIGTRAP = 5
SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
PR_SET_PDEATHSIG = 1
# What qemu-user must do no matter what the stub does (a stub may step at most
# STEP_LIMIT times, and a step is a round trip): die after this many seconds of a
# request without an answer.
TIMEOUT = 20.0
GATE = SPECIAL + 0x600  # a trap instruction the machine runs for real (mprotect), in a page written once
PROT_NONE, PROT_RWX = 0, 7


class QemuError(Exception):
    """qemu-user could not be started or stopped answering."""


def missing(arch) -> str | None:
    """Why arch's QEMU engine cannot run here (its binary not installed), else None."""
    if not arch.qemu_user:
        return f"the tables name no qemu-user binary for {arch.name}"
    if shutil.which(arch.qemu_user) is None:
        return f"{arch.qemu_user} is not installed (apt-get install qemu-user)"
    return None


def _stop_qemu(proc, tmp: str, owner: int) -> None:
    if os.getpid() != owner:
        return  # a forked child's copy: the qemu is its parent's
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def _die_with_parent() -> None:
    # An orphaned qemu stopped at a gdbstub waits forever, and one let go spins a CPU.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Prepared:
    """The caller's registers and memory for one stub, written before each run."""

    regs: dict
    writes: list[tuple[int, bytes]]


class _Memory:
    """The part of Unicorn's Uc the checker and the stand-ins use: memory, and code hooks
    (called when the PC arrives at their range, before the instruction there runs)."""

    def __init__(self, machine: QemuMachine):
        self.m = machine

    def mem_read(self, address: int, size: int) -> bytearray:
        return bytearray(self.m.client.read_memory(address, size))

    def mem_write(self, address: int, data) -> None:
        data = bytes(data)
        try:
            self.m.client.write_memory(address, data)
        except ProtocolError:
            # qemu 7.2 write-protects a page once it has translated code from it, and its
            # gdbstub then refuses to write there: unless the bytes are already there, the
            # guest itself makes the page writable again (mprotect drops the translations).
            if self.m.client.read_memory(address, len(data)) == data:
                return
            self.m.unprotect(address, len(data))
            self.m.client.write_memory(address, data)

    def hook_add(self, kind, callback, user_data=None, begin=1, end=0, *_):
        self.m.hooks.append((begin, end, callback, user_data))

    def emu_stop(self) -> None:
        self.m.stopped = True


class QemuMachine:
    engine = "qemu"
    resumes = False  # every result runs from the entry (resume.py's shortcut is Unicorn's context)
    # Checks the gdbstub cannot feed, which each report names.
    blind = "QEMU engine: memory reads are not observed; writes are found in the stack window only"
    blind_image = ("QEMU engine: memory reads are not observed (a read of thread memory or data the input "
                   "lacks, which Unicorn reports as not verified, goes unseen unless it faults); writes are found "
                   "by comparing the stack, the writable segments, the TLS block and the stand-ins' cells before "
                   "and after each run")

    def __init__(self, arch, abi, assembler, entry_register: str = ""):
        """entry_register: the register a caller sets to the callee's address
        (conventions.yaml: ppc64le's r12, from which a global entry point computes r2)."""
        why = missing(arch)
        if why is not None:
            raise QemuError(why)
        e = arch.engines.qemu
        if "mprotect" not in arch.numbers:
            # the harness's own real syscall, which lets it rewrite a page qemu ran code from
            raise QemuError(f"the tables give {arch.name} no number for mprotect, which the QEMU harness calls to "
                            "write each stub's code")
        self.arch, self.abi = arch, abi
        self.word = arch.word_bytes
        self.mask = (1 << (8 * self.word)) - 1
        self.endian = arch.endian
        self.sp = arch.stack_pointer
        self.special_lo, self.special_hi = SPECIAL, SPECIAL + SPECIAL_SIZE
        self.reg_nums: dict[str, int] = dict(e["registers"])
        self.sizes = {r: e.get("sizes", {}).get(r, self.word) for r in self.reg_nums}
        self.pc_num = e["pc"]
        self.crash_signals = tuple(e.get("crash_signals", (SIGTRAP,)))
        self.kernel_entry = [Opcode(k["size"], k["mask"], k["value"]) for k in e.get("kernel_entry", ())]
        self.entry_register = entry_register
        # The process that talks to this qemu: a forked child (isolate.py) starts its own,
        # which dies with it, rather than share a conversation it may leave half done.
        self.owner = os.getpid()
        self.hooks: list = []
        self.stopped = False
        self.run: Run | None = None
        self.inject = 0
        self.indirect_words = 0
        self.code_len = 0
        self._image: tuple[int, int] | None = None  # the loaded image's [start, end)
        self._image_bytes: list[tuple[int, bytes]] = []  # its segments, for the code reads of each step
        self.externs: dict[int, str] | None = None  # address -> name of what an image lacks
        self.run_frame = 0  # bytes below the stack pointer whose writes a run compares (an image's frame)
        # Where a run of the assembled stub starts (Machine.code_entry): the harness
        # starts at the address as it is.
        self.code_entry = CODE
        self._code = b""
        self._tmp = tempfile.mkdtemp(prefix="stubgen-qemu-")
        path = os.path.join(self._tmp, "harness")
        with open(path, "wb") as f:
            f.write(harness.elf(self.word, self.endian, e["elf"]["machine"], e["elf"].get("flags", 0)))
        os.chmod(path, 0o700)
        sock = os.path.join(self._tmp, "gdb")
        self.proc = subprocess.Popen([arch.qemu_user, "-g", sock, path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        # qemu is stopped and its files removed when the machine is collected (or at exit)
        self._finalizer = weakref.finalize(self, _stop_qemu, self.proc, self._tmp, self.owner)
        deadline = time.monotonic() + TIMEOUT
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise QemuError(f"{arch.qemu_user} did not open its gdbstub")
            time.sleep(0.005)
        self.client = Client.unix(sock, TIMEOUT)
        # qemu answers p and P only once the client has read the register description.
        self.client.xfer("features", "target.xml")
        self.uc = _Memory(self)
        self._values: dict[str, int] = {}  # what each register holds now, as far as we know
        self._offsets = self._layout()
        self._trap_out = [abi.result] + ([abi.error_flag] if abi.error_flag else []) + list(abi.cpu_clobbers)
        self._clobbers = list(abi.cpu_clobbers.items())
        self.junk = {_clobbered(what, 0, i) & self.mask: r for i, (r, what) in enumerate(self._clobbers)
                     if what != "next_pc"}
        self.next_pc = [r for r, what in self._clobbers if what == "next_pc"]
        self._ret_code = assembler.assemble([abi.ret], HANDLER).code
        self.uc.mem_write(HANDLER, self._ret_code)
        self.uc.mem_write(SENTINEL, self._ret_code)
        self.uc.mem_write(GOT, HANDLER.to_bytes(self.word, self.endian))
        gate = abi.opcodes[0]
        self.uc.mem_write(GATE, gate.value.to_bytes(gate.size, self.endian))
        if abi.vdso:
            self.uc.mem_write(VDSO, assembler.assemble(abi.vdso["entry"].split(";"), VDSO).code)
            self.uc.mem_write(VDSO_CELL, VDSO.to_bytes(self.word, self.endian))
        # Unmapped to the code but while an image is loaded; the externs' page always.
        self._protect(IMAGE, IMAGE_LIMIT, PROT_NONE)
        self._protect(EXTERN, EXTERN_SIZE, PROT_NONE)

    def close(self) -> None:
        self._finalizer()


    # ------------------------------------------------------------- registers
    def reg(self, name: str) -> int:
        if name not in self._values:
            raw = self.client.read_register(self.reg_nums[name])
            self._values[name] = int.from_bytes(raw, self.endian)
        return self._values[name]

    def _layout(self) -> dict[str, int]:
        """Where each register lies in the g packet (qemu's order, which skips some
        numbers: ppc64's floating-point registers), found by writing a distinct value to
        each and looking for it: one g then reads them all, where p costs a round trip
        each. A register not found (a hardwired zero) is read with p."""
        marks = {}
        for i, name in enumerate(self.reg_nums):
            size = self.sizes[name]
            mark = bytes([0xE1, i, 0x7C, i, 0x3D, i, 0x96, i])[:size]
            self.client.write_register(self.reg_nums[name], mark)
            marks[name] = mark
        blob = self.client.read_registers()
        found = {}
        for name, mark in marks.items():
            at = blob.find(mark)
            if at >= 0 and blob.find(mark, at + 1) < 0:
                found[name] = at
        self._values.clear()
        return found

    def _read_all(self) -> None:
        """Every register, into the cache: one g, and p for those g does not hold."""
        blob = self.client.read_registers()
        for name, at in self._offsets.items():
            self._values[name] = int.from_bytes(blob[at:at + self.sizes[name]], self.endian)
        for name in self.reg_nums:
            self.reg(name)

    def set_reg(self, name: str, value: int) -> None:
        size = self.sizes[name]
        value &= (1 << (8 * size)) - 1
        if self._values.get(name) != value:
            self.client.write_register(self.reg_nums[name], value.to_bytes(size, self.endian))
            self._values[name] = value

    def unprotect(self, address: int, size: int) -> None:
        """Have the guest call mprotect(RWX) on the pages of [address, address+size)."""
        self._protect(address, size, PROT_RWX)

    def _protect(self, address: int, size: int, prot: int) -> None:
        """Have the guest call mprotect(prot) on the pages of [address, address+size): a
        real syscall, from the gate (the trap instruction alone, in the special area)."""
        lo, hi = address & ~(harness.ALIGN - 1), -(-(address + size) // harness.ALIGN) * harness.ALIGN
        abi = self.abi
        for r, v in zip([abi.number] + list(abi.args[:3]), [self.arch.numbers["mprotect"], lo, hi - lo, prot]):
            self.set_reg(r, v)
        self._set_pc(GATE)
        # qemu 7.2 runs one instruction past a syscall before the step ends: the zero
        # word after the gate, whose SIGILL the next resume drops (no signal is passed on).
        stop = self.client.step()
        self._values.clear()
        if signal_of(stop) is None or self.reg(abi.result) != 0:
            raise QemuError(f"mprotect({lo:#x}, {hi - lo:#x}) in {self.arch.qemu_user} failed ({stop!r})")

    def _pc(self) -> int:
        return int.from_bytes(self.client.read_register(self.pc_num), self.endian)

    def _set_pc(self, pc: int) -> None:
        self.client.write_register(self.pc_num, pc.to_bytes(self.word, self.endian))

    def return_code(self) -> bytes:
        return self._ret_code

    def symbols(self, errno_handler: str) -> dict[str, int]:
        from ..emulator import stub_symbols

        return stub_symbols(self.abi, errno_handler)

    # ------------------------------------------------------------- code
    def load(self, code: bytes) -> None:
        if len(code) > CODE_SIZE:
            raise ValueError("stub larger than the code area")
        self.uc.mem_write(CODE, code + b"\0" * max(0, self.code_len - len(code)))
        self.code_len = len(code)
        self._code = bytes(code)

    # ------------------------------------------------------------- images
    @property
    def reg_ids(self) -> dict[str, str]:
        """The checker's register ids (emulator.Machine's are Unicorn's): here the names."""
        return {name: name for name in self.reg_nums}

    def load_image(self, segments, externs: dict[int, str]) -> None:
        """An image's segments, (address, bytes) each, written where they ask (within the
        image area: link.py refuses any other), the area's pages made accessible;
        externs: the addresses of what the image lacks, by name (a run that arrives
        there stops, naming it)."""
        self.unload_image()
        lo = min(a for a, _ in segments) & ~(harness.ALIGN - 1)
        hi = -(-max(a + len(d) for a, d in segments) // harness.ALIGN) * harness.ALIGN
        if lo < IMAGE or hi > IMAGE + IMAGE_LIMIT:
            raise QemuError(f"an image at {lo:#x}-{hi:#x}, outside the harness's image area")
        self._protect(lo, hi - lo, PROT_RWX)
        self._image = (lo, hi)
        self.uc.mem_write(lo, bytes(hi - lo))  # what an earlier image left
        for addr, data in segments:
            self.uc.mem_write(addr, bytes(data))
        self._image_bytes = [(a, bytes(d)) for a, d in segments]
        if self.externs is None:
            self.hooks.append((EXTERN, EXTERN + EXTERN_SIZE - 1, self._on_extern, None))
        self.externs = dict(externs)

    def unload_image(self) -> None:
        """The image area inaccessible again: a later stub must find LINKER unmapped."""
        if self._image is not None:
            self._protect(self._image[0], self._image[1] - self._image[0], PROT_NONE)
            self._image, self._image_bytes = None, []

    def _on_extern(self, uc, address, size, _):
        name = (self.externs or {}).get(address, f"{address:#x}")
        self._stop(external=name, pc=address)

    def thread_pointer(self, tls, tp: int) -> dict[str, int]:
        """Register name -> value that make tp the thread pointer (conventions.yaml tls,
        whose register names are the emulator's: Unicorn's, matched to the tables' names
        as emulator.Machine spells them)."""
        if tls.segment:
            raise QemuError("the QEMU engine sets no segment base (a TLS pointer that is a segment's)")
        names = (self.arch.engines.unicorn or {}).get("names", {})
        regs = []
        for p in tls.pointer:
            found = [r for r in self.reg_nums if str(names.get(r, r)).upper() == p.upper()]
            if not found:
                raise QemuError(f"conventions.yaml's thread pointer register {p} is none the QEMU engine names")
            regs.append(found[0])
        if len(regs) == 1:
            return {regs[0]: tp & self.mask}
        half = 32 * (len(regs) - 1)
        return {r: (tp >> (half - 32 * i)) & 0xFFFFFFFF for i, r in enumerate(regs)}

    def _code_bytes(self, at: int, size: int) -> bytes:
        if CODE <= at and at + size <= CODE + self.code_len:
            return self._code[at - CODE:at - CODE + size]
        for a, d in self._image_bytes:
            if a <= at and at + size <= a + len(d):
                return d[at - a:at - a + size]
        try:
            return self.client.read_memory(at, size)
        except ProtocolError:
            return b""

    def _trap_at(self, pc: int) -> int:
        """The size of the trap instruction at pc, 0 where none is."""
        for op in self.abi.opcodes:
            if op.matches(self._code_bytes(pc, op.size), self.endian):
                return op.size
        return 0

    def _stop(self, **what) -> None:
        for k, v in what.items():
            setattr(self.run, k, v)
        self.stopped = True

    # ------------------------------------------------------------- runs
    def prepare(self, regs: dict, memory: list[tuple[int, bytes]], extra: dict | None = None) -> Prepared:
        """extra: more registers by name (thread_pointer's)."""
        regs = {**regs, **(extra or {})}
        lo = SP0 - WINDOW
        window = bytearray([CANARY]) * (2 * WINDOW)
        writes: list[tuple[int, bytes]] = []
        for addr, data in memory:
            if not writes and lo <= addr and addr + len(data) <= lo + len(window):
                window[addr - lo:addr - lo + len(data)] = data
            else:
                writes.append((addr, bytes(data)))
        return Prepared(dict(regs), [(lo, bytes(window))] + writes)

    def run_prepared(self, prep: Prepared, inject: int, entry: int = CODE, steps: int = STEP_LIMIT) -> Run:
        regs = {**prep.regs, **({self.entry_register: entry} if self.entry_register else {})}
        # Memory first: a write to a page qemu ran code from calls mprotect through the
        # gate (unprotect), which changes registers (an image's data shares a page with its code).
        for addr, data in prep.writes:
            self.uc.mem_write(addr, data)
        for name in self.reg_nums:
            # Every register the engine names: the caller's value, else zero (Unicorn's clean context).
            self.set_reg(name, regs.get(name, 0))
        # Where writes are looked for: what was just written (the stack window, and for
        # an image its writable segments, TLS block and stand-ins' cells) and an image's
        # own frame below the window, as they are now.
        spans = [(a, len(d)) for a, d in prep.writes]
        if self._image is not None:
            spans.append((SP0 - WINDOW - IMAGE_FRAME, IMAGE_FRAME))
        spans = _spans(spans)
        start = [self.client.read_memory(a, n) for a, n in spans]
        self.run = run = Run()
        self.inject, self.stopped = inject, False
        pc, taken = entry, 0
        self._set_pc(pc)
        before_trap: list[bytes] | None = None
        while True:
            if pc == SENTINEL:
                break
            for lo, hi, callback, user in self.hooks:
                if lo <= pc <= hi:
                    callback(self.uc, pc, 4, user)
            if self.stopped:
                break
            if taken >= steps:
                run.steps_exhausted = True
                break
            taken += 1
            size = self._trap_at(pc)
            if size:
                if before_trap is None:
                    before_trap = [self.client.read_memory(a, n) for a, n in spans]
                pc += size
                self._syscall(pc)
                self._set_pc(pc)
                continue
            entry_kernel = next((op for op in self.kernel_entry
                                 if op.matches(self._code_bytes(pc, op.size), self.endian)), None)
            if entry_kernel is not None:
                # Not the trap the fake kernel takes, yet it enters the kernel: qemu-user
                # would make that syscall for real, on this machine.
                run.fault = (f"an instruction that enters the kernel but is not the {self.abi.trap.get('name', 'trap')}"
                             " (not run: qemu-user would make the syscall for real)")
                break
            stop = self.client.step()
            self._values.clear()
            sig = signal_of(stop)
            if sig is None:
                raise QemuError(f"{self.arch.qemu_user} exited ({stop!r})")
            new = self._pc()
            # A step that leaves the PC where it was with SIGTRAP: the guest took the
            # signal there (a breakpoint instruction), not the end of the step.
            if sig != SIGTRAP or new == pc:
                name = SIGNALS.get(sig, f"signal {sig}")
                if sig in self.crash_signals:
                    run.crash = name
                else:
                    run.fault = f"{name} (qemu-user)"
                pc = new
                break
            pc = new
        run.pc = pc
        self._values.clear()
        self._read_all()
        run.regs = {name: self.reg(name) for name in self.reg_nums}
        run.returned = pc == SENTINEL and not run.fault and not run.crash and not run.external
        first = run.traps[0].pc if run.traps else pc
        later = []
        mids: list[bytes | None] = list(before_trap) if before_trap is not None else [None] * len(spans)
        for (at, size), old, mid in zip(spans, start, mids):
            run.writes += _changes(at, old, mid, first - 1, self.word, self.endian)
            later += _changes(at, mid or old, self.client.read_memory(at, size), pc, self.word, self.endian)
        run.writes += later
        return run

    def _syscall(self, pc: int) -> None:
        """The fake kernel at the trap that ends at pc: what it reads, then its result."""
        abi = self.abi
        self._read_all()
        args = tuple(self.reg(r) for r in abi.args)
        result2 = self.reg(abi.result2) if abi.result2 else None
        number = self.reg(abi.number)
        if abi.stack_args:
            at = self.reg(self.sp) + abi.stack_args["offset"]
            raw = self.client.read_memory(at, 4 * abi.stack_args["slots"])
            args += tuple(int.from_bytes(raw[i:i + 4], self.endian) for i in range(0, len(raw), 4))
        memory = None
        if self.indirect_words:
            try:
                memory = self.client.read_memory(args[0], self.indirect_words * self.word)
            except ProtocolError:
                memory = None
        assert self.run is not None
        self.run.traps.append(Trap(pc, number, args, result2, memory))
        for r, v in zip(self._trap_out, self._kernel_result()
                        + [_clobbered(what, pc, i) for i, (_, what) in enumerate(self._clobbers)]):
            self.set_reg(r, v)

    def _kernel_result(self) -> list[int]:
        inject, abi = self.inject, self.abi
        if not abi.error_flag:
            return [inject]
        lo, hi = abi.error_range
        if isinstance(inject, Negated):
            result, on = int(inject), True
        else:
            on = lo <= inject <= hi
            result = -inject if on else inject
        if not abi.error_flag_bits:
            return [result, int(on)]
        bits, old = abi.error_flag_bits, self.reg(abi.error_flag)
        return [result, (old | bits) if on else (old & ~bits)]


def _changes(at: int, old: bytes, new: bytes | None, pc: int, word: int, endian) -> list[tuple[int, int, int, int]]:
    """(address, size, value, pc) writes: each run of changed bytes of the window, in
    pieces of at most a word (a 4-byte result slot written shows as 4 bytes)."""
    if new is None or new == old:
        return []
    out = []
    off = 0
    while off < len(old):
        if old[off] == new[off]:
            off += 1
            continue
        end = off
        while end < len(old) and old[end] != new[end] and end - off < word:
            end += 1
        out.append((at + off, end - off, int.from_bytes(new[off:end], endian), pc))
        off = end
    return out
