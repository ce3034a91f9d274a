"""Unicorn side: one engine per architecture, reused for every run. Each run starts
from a saved clean context; new code is followed by dropping the translation cache
(a reused engine otherwise runs the old code)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

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
CANARY = 0xA5
STEP_LIMIT = 500


@dataclass
class Trap:
    pc: int
    number: int
    args: tuple[int, ...]


@dataclass
class Run:
    returned: bool = False
    pc: int = 0
    fault: str | None = None  # unmapped access, invalid instruction...
    crash: str | None = None  # a trap the ABI counts as a deliberate crash
    traps: list[Trap] = field(default_factory=list)
    handler_args: list[int] = field(default_factory=list)
    reads: list[tuple[int, int, int]] = field(default_factory=list)  # (address, size, pc)
    writes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (address, size, value, pc)
    regs: dict = field(default_factory=dict)
    steps_exhausted: bool = False


class Machine:
    def __init__(self, arch, abi: LinuxABI, assembler):
        import unicorn

        self.uc_mod = unicorn
        e = arch.engines.unicorn
        consts = importlib.import_module(f"unicorn.{e['consts']}")
        self.arch, self.abi = arch, abi
        self.word = arch.word_bytes
        self.mask = (1 << (8 * self.word)) - 1
        self.reg_ids = {r: getattr(consts, e["prefix"] + r.upper()) for r in arch.registers}
        self.pc_id = getattr(consts, e["prefix"] + e["pc"].upper())
        self.sp = arch.stack_pointer
        uc = unicorn.Uc(getattr(unicorn, e["arch"]), getattr(unicorn, e["mode"]))
        uc.ctl_set_tcg_buffer_size(8 * 1024 * 1024)  # keep memory flat: the default reserves far more
        uc.mem_map(CODE, CODE_SIZE)
        uc.mem_map(STACK, STACK_SIZE)
        uc.mem_map(SPECIAL, 0x1000)
        ret = assembler.assemble([abi.ret], HANDLER).code
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
        uc.hook_add(unicorn.UC_HOOK_CODE, self._on_handler, None, HANDLER, HANDLER)
        self.uc = uc
        self.clean = uc.context_save()
        self.code_len = 0
        self.run: Run | None = None
        self.inject = 0

    # symbols a stub may reference, by the names the tables and the ABI statement use
    def symbols(self, errno_handler: str) -> dict[str, int]:
        syms = {errno_handler: HANDLER}
        for name in (self.abi.vdso or {}).get("symbols", []):
            syms[name] = VDSO_CELL
        return syms

    def load(self, code: bytes):
        if len(code) > CODE_SIZE:
            raise ValueError("stub larger than the code area")
        self.uc.mem_write(CODE, code + b"\0" * max(0, self.code_len - len(code)))
        self.uc.ctl_remove_cache(CODE, CODE + max(self.code_len, len(code)))
        self.code_len = len(code)

    def reg(self, name: str) -> int:
        return self.uc.reg_read(self.reg_ids[name])

    def _stop(self, **what):
        for k, v in what.items():
            setattr(self.run, k, v)
        self.uc.emu_stop()

    def _syscall(self, pc: int):
        self.run.traps.append(Trap(pc, self.reg(self.abi.number), tuple(self.reg(r) for r in self.abi.args)))
        self.uc.reg_write(self.reg_ids[self.abi.result], self.inject & self.mask)
        for r, what in self.abi.cpu_clobbers.items():
            self.uc.reg_write(self.reg_ids[r], pc if what == "next_pc" else 0x246)

    def _on_syscall(self, uc, _):
        self._syscall(uc.reg_read(self.pc_id) + 2)

    def _on_interrupt(self, uc, intno, _):
        pc = uc.reg_read(self.pc_id)
        trap = self.abi.trap
        if intno == trap.get("interrupt"):
            chk = trap.get("insn_check")
            if chk:
                insn = int.from_bytes(uc.mem_read(pc + chk["offset"], 4), self.arch.endian)
                if insn & chk["mask"] != chk["value"]:
                    return self._stop(fault=f"trap instruction {insn:#010x} at {pc + chk['offset']:#x} is not "
                                            f"the EABI syscall trap (svc #0)", pc=pc)
            return self._syscall(pc)
        if intno in self.abi.crash_interrupts:
            return self._stop(crash=f"interrupt {intno}", pc=pc)
        self._stop(fault=f"unexpected interrupt {intno}", pc=pc)

    def _on_mem(self, uc, access, address, size, value, _):
        pc = uc.reg_read(self.pc_id)
        if access == self.uc_mod.UC_MEM_WRITE:
            self.run.writes.append((address, size, value, pc))
        else:
            self.run.reads.append((address, size, pc))

    def _on_handler(self, uc, address, size, _):
        # The handler's first C argument: in a register, or on the stack above the return address.
        c = self.arch.c_abi
        if c.args:
            self.run.handler_args.append(self.reg(c.args[0]))
        else:
            sp = self.reg(self.sp)
            self.run.handler_args.append(int.from_bytes(uc.mem_read(sp + c.stack_args, self.word), self.arch.endian))

    def execute(self, regs: dict, memory: list[tuple[int, bytes]], inject: int, entry: int = CODE) -> Run:
        uc = self.uc
        uc.context_restore(self.clean)
        uc.mem_write(SP0 - WINDOW, bytes([CANARY]) * (2 * WINDOW))
        for addr, data in memory:
            uc.mem_write(addr, data)
        for name, value in regs.items():
            uc.reg_write(self.reg_ids[name], value & self.mask)
        self.run = run = Run()
        self.inject = inject
        try:
            uc.emu_start(entry, SENTINEL, count=STEP_LIMIT)
        except self.uc_mod.UcError as e:
            run.fault = run.fault or str(e)
        run.pc = uc.reg_read(self.pc_id)
        run.returned = run.pc == SENTINEL and not run.fault and not run.crash
        if not run.returned and not run.fault and not run.crash:
            run.steps_exhausted = True
        run.regs = {r: uc.reg_read(i) for r, i in self.reg_ids.items()}
        return run
