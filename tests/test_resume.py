"""Run to the trap once (verifier/resume.py): every result resumed from the state at the
first trap gives exactly the verdict and reasons of runs from the entry, and each case
where that cannot be shown falls back to runs from the entry."""
from __future__ import annotations

import dataclasses
import io
import json
import warnings
from pathlib import Path

import pytest

from stubgen import tables
from stubgen.errors import StubgenError
from stubgen.generator.stubs import generate
from stubgen.pipeline import mutants
from stubgen.report.foreign import verify_files
from stubgen.tables import policies
from stubgen.verifier import emulator, resume
from stubgen.verifier.checker import Verifier
from stubgen.verifier.kernel import Opcode, linux_abi
from stubgen.verifier.spec import Spec
from stubgen.verifier.specs import stub_specs

FIX = Path(__file__).parent / "fixtures" / "go"


def _seen(rep):
    return rep.ok, rep.problems, rep.warnings, rep.unverified, rep.not_run, rep.runs, rep.line, rep.listing


def _both(items, foreign=False):
    """Reports of items with runs from the entry, then resumed; and the resumed tally."""
    out = []
    for full in (True, False):
        v = Verifier()
        v.full_runs = full
        out.append([_seen(r) for r in v.check_many(items, foreign)])
    return out[0], out[1], v.tally


def _stubs(syscalls):
    """Stubs of syscalls in every dialect and policy each offers, on every architecture."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Go builtins shadowed: not what is tested here
        for d in ("plan9", "gnu"):
            for pol in policies.CHOSEN:
                try:
                    out += generate(syscalls, dialects=[d], policy=pol)
                except StubgenError:  # a policy the dialect does not offer
                    continue
    return out


def _sample() -> list[str]:
    """A fixed sample of the syscalls `generate --all` makes: every 60th name, the
    generic stubs, and shapes that are each their own case (64-bit arguments on 32-bit
    architectures, six arguments, calls that never return, a pointer-to-arguments entry)."""
    t = tables.load()
    numbered = sorted(set().union(*(a.numbers for a in t.arches.values())))
    generic = sorted(n for n, s in t.signatures.items() if s.generic)
    shapes = ["read", "mmap", "pread64", "sync_file_range", "fadvise64", "exit_group", "pipe2", "futex", "lseek"]
    out = []
    for name in sorted(set(numbered[::60]) | set(generic) | {s for s in shapes if s in numbered}):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                generate([name], dialects=["gnu"], policy="raw")
        except StubgenError:  # reserved everywhere: no typed stub
            continue
        out.append(name)
    return out


def test_generated_stubs_get_the_same_verdicts_and_reasons():
    items = stub_specs(_stubs(_sample()))
    # The trap in a fake __kernel_vsyscall: the run stops, and resumes, outside the stub.
    items += stub_specs([s for pol in ("raw", "crash") for s in generate(
        ["read", "exit_group", "syscall6"], ["386"], ["plan9"], pol, {"386": "vdso"}, go_package="runtime")])
    assert len({(s.arch, s.dialect, s.policy) for _, s in items}) >= 30
    full, resumed, tally = _both(items)
    diff = [(s.arch, s.dialect, s.symbol, s.policy) for (_, s), a, b in zip(items, full, resumed) if a != b]
    assert not diff, diff
    assert tally.resumed > 2 * len(items)  # the shortcut is what ran (six of seven runs, but on MIPS)


def test_mutants_are_all_still_killed_for_the_same_reasons():
    stubs = _stubs(["read", "exit_group", "mmap", "pipe2"])
    broken = [(kind, s, text) for s in stubs for kind, text in mutants.mutants(s)]
    specs = {id(s): spec for s, (_, spec) in zip(stubs, stub_specs(stubs))}
    items = [(text, specs[id(s)]) for _, s, text in broken]
    full, resumed, tally = _both(items)
    assert full == resumed
    assert tally.resumed > 0
    survivors = [(kind, s.arch, s.dialect) for (kind, s, _), r in zip(broken, resumed) if r[0] and not r[4]]
    assert not survivors


# ---------------------------------------------------------------- each fallback

GETPID = """\t.globl\tsys_getpid
\t.type\tsys_getpid, @function
sys_getpid:
{body}
\t.size\tsys_getpid, .-sys_getpid
"""
LOOP = "\tmov\t$0x96, %ecx\n.Lspin:\n\tdec\t%ecx\n\tjnz\t.Lspin"  # 300 instructions: more than half the limit


def _getpid(body: str):
    return GETPID.format(body=body), Spec("amd64", "gnu", "sys_getpid", "getpid", 39, "raw", "", "stubgen_errno")


@pytest.mark.parametrize("body, why", [
    (LOOP + "\n\tmov\t$0x27, %eax\n\tsyscall\n\tret", {"no trap within half the step limit": 1}),
    ("\tmov\t$0x27, %eax\n\tsyscall\n" + LOOP + "\n\tret",
     {"a first run longer than half the step limit": 1, "a resumed run ran out of steps": 1}),
])
def test_a_run_longer_than_half_the_limit_runs_from_the_entry(body, why):
    full, resumed, tally = _both([_getpid(body)], foreign=True)
    assert full == resumed and full[0][0], full  # within the whole limit: it passes
    # (the text runs in a child, whose tally is its own: the fallback is seen in-process below)
    v = Verifier()
    v._check(*_getpid(body), foreign=True)
    assert v.tally.fallbacks == why


def test_a_stand_in_called_before_the_trap_is_called_in_every_run():
    # Go's x/sys SyscallNoError calls runtime·entersyscall before the trap: each run
    # must see its own call, else every run after the first lacks it.
    def verdicts(full):
        Verifier.full_runs = full
        try:
            out = io.StringIO()
            code = verify_files([str(FIX / "x/sys/unix/asm_linux_arm64.s")], "arm64",
                                stubs=["SyscallNoError=syscall3"], fmt="json", out=out)
        finally:
            Verifier.full_runs = False
        return code, [json.loads(line) for line in out.getvalue().splitlines()]

    full = verdicts(True)
    assert full[0] == 0 and full == verdicts(False)


def _machine(arch_name: str, abi=None):
    v = Verifier()
    arch = v.tables.arch(arch_name)
    return emulator.Machine(arch, abi or linux_abi(arch_name), v.assembler(arch)), v, arch


def _sequence(m, prep, code: bytes, full: bool, entry=emulator.CODE, before=None):
    """The runs for every injected result, from the entry or resumed."""
    m.load(code)
    if before:
        before()
    tally = resume.Tally()
    runs = resume.Runs(m, prep, entry, emulator.STEP_LIMIT, lambda: True, tally, full)
    return [runs.run(i) for i in (0, 1, -1, -22)], tally


def test_a_read_before_the_trap_of_memory_a_run_writes_runs_from_the_entry():
    # Memory outside the stack window is not rewritten before a run: a run from the
    # entry reads there what the run before it left.
    m, v, arch = _machine("amd64")
    cell = emulator.STACK + 0x100
    code = v.assembler(arch).assemble([f"mov rbx, {cell:#x}", "mov rdi, qword ptr [rbx]", "mov eax, 0x27", "syscall",
                                       "mov qword ptr [rbx], rax", "ret"], emulator.CODE).code
    prep = m.prepare({"rsp": emulator.SP0 - 8}, [(emulator.SP0 - 8, emulator.SENTINEL.to_bytes(8, "little"))])

    def zero():
        m.uc.mem_write(cell, bytes(8))

    full, _ = _sequence(m, prep, code, True, before=zero)
    resumed, tally = _sequence(m, prep, code, False, before=zero)
    assert [r.traps[0].args[0] for r in full] == [0, 0, 1, (-1) & m.mask]
    assert [r.traps[0].args[0] for r in resumed] == [r.traps[0].args[0] for r in full]
    assert tally.fallbacks == {"a read before the trap of memory a run writes": 1}


def test_a_trap_in_thumb_state_resumes_in_thumb_state():
    # arm.yaml resume_mode: Unicorn takes the state from the start address's low bit.
    # A Thumb svc is made a trap here, where linux_abi.yaml has the EABI's ARM one only.
    abi = dataclasses.replace(linux_abi("arm"), opcodes=(Opcode(2, 0xFFFF, 0xDF00),))
    m, _, _ = _machine("arm", abi)
    code = bytes.fromhex("1427" "00df" "0130" "7047")  # movs r7, #20; svc 0; adds r0, #1; bx lr
    prep = m.prepare({"lr": emulator.SENTINEL, "sp": emulator.SP0}, [])
    full, _ = _sequence(m, prep, code, True, emulator.CODE | 1)
    resumed, tally = _sequence(m, prep, code, False, emulator.CODE | 1)
    assert [r.regs["r0"] for r in full] == [1, 2, 0, (-21) & m.mask]
    assert [(r.returned, r.regs["r0"]) for r in resumed] == [(r.returned, r.regs["r0"]) for r in full]
    assert (tally.full, tally.resumed) == (1, 3)
