"""The architectures whose syscall convention breaks the simple pattern (issue 14):
MIPS o32 (mips, mipsle) and n64 (mips64le, mips64). Each quirk is a fact in the tables or in
the verifier's ABI statement; here each one is checked, and each check is fed a
stub that gets the quirk wrong."""
import shutil

import pytest
import yaml
from conftest import check_text, need_tool

import stubgen
from stubgen import resources, tables
from stubgen.generator import layout
from stubgen.pipeline.mutants import run as run_mutants
from stubgen.verifier import Spec, Verifier
from stubgen.verifier.emulator import CODE, CODE_SIZE, SPECIAL, STACK, STACK_SIZE
from stubgen.verifier.kernel import linux_abi

MIPS = ("mips", "mipsle", "mips64le", "mips64")
MATRIX = [("plan9", p) for p in ("raw", "crash", "ignore")] + [("gnu", p) for p in ("raw", "crash", "ignore", "errno")]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


def _stub(arch, dialect, policy="raw", syscall="madvise"):
    (s,) = stubgen.generate([syscall], [arch], [dialect], policy)
    return s


def _broken(verifier, s, old, new=""):
    """The report on s's text with old replaced by new (which must change it)."""
    broken = s.text.replace(old, new)
    assert broken != s.text
    return check_text(verifier, s, broken)


def test_numbers_come_from_the_mips_tables_plus_nr_linux():
    t = tables.load()
    # syscall(2) and the issue: o32 numbers are 4000 + n, n64 5000 + n.
    assert {a: t.arch(a).numbers["madvise"] for a in MIPS} == {"mips": 4218, "mipsle": 4218, "mips64le": 5027,
                                                                "mips64": 5027}
    assert {a: len(t.arch(a).numbers) for a in MIPS} == {"mips": 445, "mipsle": 445, "mips64le": 375, "mips64": 375}
    # n64's one row tagged common (set_mempolicy_home_node) is in
    assert t.arch("mips64le").numbers["set_mempolicy_home_node"] == t.arch("mips64").numbers[
        "set_mempolicy_home_node"] == 5450
    for a in MIPS:
        (src,) = t.arch(a).provenance["sources"]
        assert src["number_base"] == (5000 if a.startswith("mips64") else 4000)
        assert t.arch(a).provenance["kernel"] == "7.1.5"


def test_o32_arguments_past_a3_go_to_16_sp_like_a_c_call():
    t = tables.load()
    arch = t.arch("mips")
    mmap = layout.plan(arch, t.signature(arch, "mmap"), True)
    assert [p.kreg for a in mmap.args for p in a.parts] == ["a0", "a1", "a2", "a3", None, None]
    assert [p.kstack for a in mmap.args[4:] for p in a.parts] == [16, 20]
    # pread64's 64-bit pos skips a3 (pairs start at an even register) and lands 8-aligned.
    pread = layout.plan(arch, t.signature(arch, "pread64"), True)
    assert [p.kreg for p in pread.args[3].parts] == [None, None]
    assert [p.kstack for p in pread.args[3].parts] == [16, 20]
    # o32's fadvise64 is fadvise64_64: offset in a2:a3, length at 16(sp), advice at 24(sp).
    fadv = layout.plan(arch, t.signature(arch, "fadvise64"), True)
    assert [[p.kreg or p.kstack for p in a.parts] for a in fadv.args] == [["a0"], ["a2", "a3"], [16, 20], [24]]
    # n64 has six argument registers and no stack arguments.
    n64 = t.arch("mips64le")
    assert all(p.kreg for a in layout.plan(n64, t.signature(n64, "mmap"), True).args for p in a.parts)


def test_tables_and_the_verifier_agree_on_the_error_flag_and_the_stack():
    t = tables.load()
    for a in MIPS:
        arch, abi = t.arch(a), linux_abi(a)
        assert arch.kernel.error_flag == abi.error_flag == "a3"
        assert (arch.kernel.stack_args or None) == (abi.stack_args or {}).get("offset")
        assert abi.errno["ENOSYS"] == 89 and "ENOSYS" in abi.negated_errors


def test_emulated_code_and_stack_sit_below_2_gib():
    # Unicorn 2.1.4 truncates the PC of mips64 code above 2 GiB (unicorn PR #2111).
    assert max(CODE + CODE_SIZE, STACK + STACK_SIZE, SPECIAL + 0x1000) < 2**31


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_mips_stub_passes(verifier, dialect, policy):
    for s in stubgen.generate("all", MIPS, [dialect], policy):
        rep = check_text(verifier, s, s.text)
        assert rep.ok, rep.describe()
        assert rep.runs == 8  # seven results, and -ENOSYS already negated with a3 set


def test_every_mips_mutant_is_killed(verifier):
    stubs = []
    for dialect, policy in MATRIX:
        stubs += stubgen.generate(["madvise", "mmap", "pread64", "fadvise64", "syscall6"], MIPS, [dialect], policy)
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.arch, s.dialect, s.policy, s.syscall) for k, s, _ in survivors]
    killed = {k for (k, _, _), (n, _) in table.items() if n}
    assert {"number", "swap_args", "arg_offset", "unbalanced", "check_removed", "check_inverted",
            "wrong_trap", "result_missing", "result_offset", "narrow_load"} <= killed


@pytest.mark.parametrize("arch", MIPS)
def test_a_stub_that_returns_the_positive_errno_fails(verifier, arch):
    s = _stub(arch, "gnu")
    neg = "\tdsubu\t$v0, $zero, $v0\n" if arch.startswith("mips64") else "\tsubu\t$v0, $zero, $v0\n"
    rep = _broken(verifier, s, neg)
    assert not rep.ok
    assert any("kernel result -1:" in p and "expected 0xffffffff" in p for p in rep.problems), rep.describe()


@pytest.mark.parametrize("arch", MIPS)
def test_a_stub_that_negates_without_the_v0_gt_0_guard_fails(verifier, arch):
    # musl 5db475f0: a3 set with an already negated v0; negating it again returns +89.
    s = _stub(arch, "plan9")
    rep = _broken(verifier, s, "\tBLEZ\tR2, ok\n")
    assert not rep.ok
    assert rep.problems[0].startswith("kernel result -89 (already negated, error flag set): result slot ret")


def test_an_o32_stack_argument_in_the_wrong_slot_fails(verifier):
    s = _stub("mips", "plan9", syscall="mmap")
    rep = _broken(verifier, s, "MOVW\tR9, 20(R29)", "MOVW\tR9, 24(R29)")
    assert any("argument 6 (32-bit) in the stack slot at sp+20" in p for p in rep.problems), rep.describe()


def test_a_stub_that_leaves_its_stack_frame_fails(verifier):
    s = _stub("mipsle", "gnu", syscall="syscall6")
    rep = _broken(verifier, s, "\taddiu\t$sp, $sp, 0x18\n")
    assert any("unbalanced" in p for p in rep.problems), rep.describe()


def test_without_the_tables_noreorder_keystone_adds_its_own_nops(tmp_path):
    # The text never hands Keystone a directive: .set noreorder is the table's fact.
    # Without it Keystone fills the delay slots a second time and the stub no longer
    # decodes as written.
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / "mips.yaml"
    d = yaml.safe_load(p.read_text())
    del d["engines"]["keystone"]["preamble"]
    p.write_text(yaml.safe_dump(d))
    s = _stub("mips", "gnu")
    rep = Verifier(str(tdir)).check(s.text, Spec("mips", "gnu", s.symbol, "madvise", 4218, "raw"))
    assert not rep.ok and "Capstone decodes" in rep.problems[0], rep.describe()
    assert Verifier().check(s.text, Spec("mips", "gnu", s.symbol, "madvise", 4218, "raw")).ok


def test_a_directive_in_the_text_still_never_reaches_keystone(verifier):
    s = _stub("mips", "gnu")
    broken = s.text.replace("\tsyscall\n", "\t.set reorder\n\tsyscall\n")
    # the reader drops directives; one smuggled after a ';' is refused outright
    assert check_text(verifier, s, broken).ok
    rep = check_text(verifier, s, s.text.replace("\tsyscall\n", "\tsyscall; .set reorder\n"))
    assert not rep.ok and "directive" in rep.problems[0]


def test_the_error_flag_alone_decides_the_crash(verifier):
    s = _stub("mips64le", "gnu", "crash")
    # a crash policy that tests the sign of v0 instead of a3 misses every error (v0 > 0)
    rep = _broken(verifier, s, "beqz\t$a3,", "bgez\t$v0,")
    assert any("returned on an error result" in p for p in rep.problems), rep.describe()


def test_the_number_is_loaded_right_before_the_trap():
    # Old kernels restarted a syscall by re-running the instruction before it.
    for dialect, trap in (("plan9", "SYSCALL"), ("gnu", "syscall")):
        for s in stubgen.generate(["madvise", "mmap"], MIPS, [dialect]):
            lines = [ln.strip() for ln in s.text.splitlines()]
            i = lines.index(trap)
            assert ("R2" if dialect == "plan9" else "$v0,") in lines[i - 1] and str(s.number) in lines[i - 1] \
                or hex(s.number) in lines[i - 1], lines[i - 1]


# --- s390x ---------------------------------------------------------------------------

def test_s390x_numbers_and_engines():
    t = tables.load()
    arch = t.arch("s390x")
    assert arch.numbers["madvise"] == 219 and len(arch.numbers) == 390
    # Keystone has no svc and mis-resolves SystemZ forward branches: LLVM assembles.
    assert arch.engines.keystone is None and arch.engines.llvm["triple"] == "s390x-linux-gnu"
    # 90 is sys_old_mmap (one pointer), clone is CONFIG_CLONE_BACKWARDS2 (and left out of typed stubs)
    assert [p.name for p in t.signature(arch, "mmap").args] == ["arg"]
    assert [p.name for p in t.signature(arch, "clone").args][:2] == ["newsp", "clone_flags"]
    assert not t.available(arch, "clone")


def test_s390x_saves_r7_only_when_it_writes_it():
    # r6 and r7 are callee-saved in the C ABI; the fifth argument arrives in r6 where
    # the kernel wants it (nothing to save), the sixth on the stack and goes to r7.
    t = tables.load()
    arch = t.arch("s390x")
    assert layout.plan(arch, t.signature(arch, "mremap"), True).c_saved == ()
    assert layout.plan(arch, t.signature(arch, "futex"), True).c_saved == ("r7",)


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_s390x_stub_passes(verifier, dialect, policy):
    stubs = stubgen.generate("all", ["s390x"], [dialect], policy)
    for s in stubs:
        rep = check_text(verifier, s, s.text)
        assert rep.ok, rep.describe()
        assert rep.runs == 7


def test_every_s390x_mutant_is_killed(verifier):
    stubs = []
    for dialect, policy in MATRIX:
        stubs += stubgen.generate(["madvise", "futex", "mremap", "syscall6", "exit"], ["s390x"], [dialect], policy)
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.arch, s.dialect, s.policy, s.syscall) for k, s, _ in survivors]
    assert {"number", "swap_args", "callee_saved", "unbalanced", "check_inverted", "wrong_trap"} <= \
        {k for (k, _, _), (n, _) in table.items() if n}


def test_two_svcs_back_to_back_are_two_syscalls(verifier):
    # Unicorn stops on the svc (trap.pc: at): the fake kernel resumes after it, so a
    # second svc right behind is a second syscall, not the first one seen again.
    s = _stub("s390x", "plan9")
    rep = check_text(verifier, s, s.text.replace("\tSYSCALL\n", "\tSYSCALL\n\tSYSCALL\n"))
    assert any("2 syscalls, expected exactly one" in p for p in rep.problems), rep.describe()


def test_the_number_in_svc_s_immediate_is_read(verifier):
    (s,) = stubgen.generate(["madvise"], ["s390x"], ["gnu"], traps={"s390x": "svc_nr"})
    assert "\tsvc\t0xdb\n" in s.text and "%r1," not in s.text
    assert check_text(verifier, s, s.text).ok
    rep = check_text(verifier, s, s.text.replace("svc\t0xdb", "svc\t0xda"))
    assert any("= 0xda (mincore) at the trap, expected madvise 219" in p for p in rep.problems), rep.describe()
    # svc 0 leaves the number to r1, and a number of 256 or more always goes there
    (g,) = stubgen.generate(["syscall3"], ["s390x"], ["gnu"], traps={"s390x": "svc_nr"})
    assert "\tsvc\t0x0\n" in g.text and check_text(verifier, g, g.text).ok


# --- ppc64le -------------------------------------------------------------------------

def test_ppc64le_numbers_engines_and_error_flag():
    t = tables.load()
    arch, abi = t.arch("ppc64le"), linux_abi("ppc64le")
    # syscall.tbl rows nospu, common and 64 (not 32, not spu)
    assert arch.numbers["madvise"] == 205 and len(arch.numbers) == 424
    # 82 select is sys_old_select for 32-bit only (its 64 row is sys_ni_syscall)
    assert arch.numbers["_newselect"] == 142 and "no entry point" in t.exclusion(arch, "select")
    (src,) = arch.provenance["sources"]
    assert sorted(src["abis"]) == ["64", "common", "nospu"] and arch.provenance["kernel"] == "7.1.5"
    # Keystone and LLVM both assemble (and must agree); Unicorn runs only 32-bit-safe code
    assert arch.engines.keystone and arch.engines.llvm["triple"] == "powerpc64le-linux-gnu"
    assert {"ld", "std", "lwa", "cmpld"} <= set(arch.engines.unicorn["cannot_run"]["mnemonics"])
    # CR0.SO: bit 0x10000000 of CR, in the tables and (apart) in the verifier's statement
    assert arch.kernel.error_flag == abi.error_flag == "cr" and abi.error_flag_bits == 0x10000000
    assert t.signature(arch, "clone").args[3].name == "tls"  # CONFIG_CLONE_BACKWARDS
    # of sibling files <x>_32.c and <x>_64.c a 64-bit kernel builds the second
    assert t.signature(arch, "rt_sigreturn").source.startswith("arch/powerpc/kernel/signal_64.c:")
    assert t.signature(arch, "pciconfig_iobase").source.startswith("arch/powerpc/kernel/pci_64.c:")


def test_the_instructions_unicorn_cannot_run_really_fail_there():
    """The cannot_run fact, measured on the installed Unicorn with the table's own
    settings: 64-bit loads and stores raise interrupt 96 and a 64-bit compare looks at
    32 bits only, while what the C stubs use runs."""
    t = tables.load()
    arch = t.arch("ppc64le")
    from stubgen.verifier.emulator import Machine

    asm = Verifier().assembler(arch, None)
    m = Machine(arch, linux_abi("ppc64le"), asm)

    def run(lines, regs=None):
        m.uc.context_restore(m.clean)
        for r, val in (regs or {}).items():
            m.uc.reg_write(m.reg_ids[r], val)
        m.uc.reg_write(m.reg_ids["r1"], STACK + 0x8000)
        m.load(asm.assemble(lines, CODE, {}).code)
        m.inject, m.run = 0, None
        from stubgen.verifier.emulator import Run

        m.run = Run()
        seen = []
        h = m.uc.hook_add(__import__("unicorn").UC_HOOK_INTR, lambda uc, n, _: (seen.append(n), uc.emu_stop()))
        try:
            m.uc.emu_start(CODE, CODE + 4 * len(lines), count=len(lines))
        finally:
            m.uc.hook_del(h)
        return seen

    for insn in ("ld %r3, 0x0(%r1)", "std %r3, 0x0(%r1)", "lwa %r3, 0x0(%r1)", "stdu %r1, -0x20(%r1)"):
        assert 96 in run([insn]), insn
    for insn in ("lwz %r3, 0x0(%r1)", "stw %r3, 0x0(%r1)", "neg %r3, %r3", "li %r0, 0xcd", "mr %r0, %r9"):
        assert run([insn]) == [], insn
    run(["cmpld %r4, %r5"], {"r4": 0x8123456700000001, "r5": 1})
    assert m.reg("cr") >> 28 == 0x2  # EQ: only the low words were compared


@pytest.fixture
def no_qemu(monkeypatch):
    """qemu-user taken away: Unicorn alone, which cannot run every ppc64le stub."""
    from stubgen.verifier.qemu import machine

    monkeypatch.setattr(machine, "missing", lambda arch: f"{arch.qemu_user} is not installed (apt-get install qemu-user)")
    return Verifier()


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_ppc64le_stub_passes_and_says_whether_it_ran(no_qemu, dialect, policy):
    verifier = no_qemu
    ran = 0
    for s in stubgen.generate("all", ["ppc64le"], [dialect], policy):
        rep = check_text(verifier, s, s.text)
        assert rep.ok, rep.describe()
        if rep.emulated:
            ran += 1
            assert rep.runs == 7 and not rep.not_run
        else:
            assert rep.runs == 0 and "Unicorn cannot run" in rep.not_run[0], rep.not_run
            assert "apt-get install qemu-user" in rep.not_run[0], rep.not_run
            assert "not emulated" in rep.describe()
    # C stubs of 32-bit-safe instructions run (the errno policy saves LR with std: only
    # its noreturn stubs do); every Go stub that loads or stores a doubleword does not.
    if dialect == "gnu" and policy != "errno":
        assert ran > 350
    (madvise,) = stubgen.generate(["madvise"], ["ppc64le"], [dialect], policy)
    rep = check_text(verifier, madvise, madvise.text)
    assert rep.emulated == (dialect == "gnu" and policy != "errno"), rep.not_run


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_with_qemu_a_sample_of_every_ppc64le_stub_runs(verifier, dialect, policy):
    # What Unicorn cannot run, QEMU does (every stub in `generate --all --verify`; every 40th here).
    from conftest import need_tool

    need_tool("qemu-ppc64le", "qemu-user")
    for s in stubgen.generate("all", ["ppc64le"], [dialect], policy)[::40]:
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated and rep.runs == 7 - (s.policy == "noreturn"), rep.describe()


def test_every_emulated_ppc64le_mutant_is_killed(verifier):
    stubs = []
    for dialect, policy in MATRIX:
        stubs += stubgen.generate(["madvise", "close", "sync", "getpid", "mmap", "syscall6", "exit"], ["ppc64le"],
                                  [dialect], policy)
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.arch, s.dialect, s.policy, s.syscall) for k, s, _ in survivors]
    killed = {k for (k, _, _), (n, _) in table.items() if n}
    assert {"number", "swap_args", "arg_offset", "unbalanced", "check_removed", "check_inverted",
            "wrong_trap"} <= killed
    # Go stubs the emulator runs (no doubleword access: sync, getpid under ignore/crash) count too
    assert any(d == "plan9" and n for (_, a, d), (n, _) in table.items())


def test_a_ppc64le_stub_that_ignores_cr0_so_fails(verifier):
    s = _stub("ppc64le", "gnu")
    rep = _broken(verifier, s, "\tneg\t%r3, %r3\n")
    assert rep.emulated and not rep.ok
    assert any("kernel result -1:" in p and "expected 0xffffffffffffffff" in p for p in rep.problems), rep.describe()


def test_a_ppc64le_stub_that_clears_so_before_testing_it_fails(verifier):
    # xor. (the record form) sets CR0 from its result and copies XER.SO into CR0.SO:
    # the kernel's error flag is lost, which is why Go's SYSCALL zeroes R0 with xor.
    s = _stub("ppc64le", "gnu")
    broken = s.text.replace("\tsc\n", "\tsc\n\txor.\t%r0, %r0, %r0\n")
    rep = check_text(verifier, s, broken)
    assert any("kernel result -1:" in p for p in rep.problems), rep.describe()
    assert check_text(verifier, s, s.text.replace("\tsc\n", "\tsc\n\txor\t%r0, %r0, %r0\n")).ok


def _go_without_zeroing(s):
    n = s.number
    broken = s.text.replace(f"\tSYSCALL\t${n}\n", f"\tMOVD\t${n}, R0\n\tSYSCALL\n")
    assert broken != s.text
    return broken


def test_a_go_stub_that_leaves_the_number_in_r0_fails_without_being_run(verifier, no_qemu):
    # Go takes R0 as zero at every instruction; MOVD $205, R0; SYSCALL passes go vet
    # and go build, then crashes later. The madvise stub cannot be emulated on Unicorn
    # (ld, lwa): the check of the decoded bytes alone catches it.
    s = _stub("ppc64le", "plan9")
    rep = check_text(no_qemu, s, _go_without_zeroing(s))
    assert not rep.emulated and not rep.ok
    assert any(p.startswith("r0 is not zeroed right after the trap") for p in rep.problems), rep.describe()
    # under QEMU the run sees the dirty r0 as well
    rep = check_text(verifier, s, _go_without_zeroing(s))
    assert not rep.ok
    assert any(p.startswith("r0 is not zeroed right after the trap") for p in rep.problems), rep.describe()
    # writing it again later is refused; reading it is not (Go's own crash stores R0)
    late = s.text.replace("\tRET", "\tMOVD\t$1, R0\n\tRET")
    assert any("'li r0, 1' at 0x100024 writes r0 after it was zeroed" in p
               for p in check_text(verifier, s, late).problems), check_text(verifier, s, late).describe()
    assert check_text(verifier, s, s.text.replace("\tRET", "\tMOVD\tR0, 240(R0)\n\tRET")).ok


def test_a_go_stub_that_leaves_r0_dirty_fails_in_the_run_too(verifier, monkeypatch):
    """Where the emulator runs a Go stub (sync: no doubleword access), the run catches a
    dirty R0 on its own: the fake kernel leaves junk in r0 (volatile across sc)."""
    import stubgen.verifier.disasm as disasm

    (s,) = stubgen.generate(["sync"], ["ppc64le"], ["plan9"], "ignore")
    assert check_text(verifier, s, s.text).emulated
    broken = _go_without_zeroing(s)
    monkeypatch.setattr(disasm, "zero_after_trap", lambda *a: [])  # the run alone
    rep = check_text(verifier, s, broken)
    assert rep.emulated and any("r0 = 0x6b6b6b6b6b6b6b11 after return" in p for p in rep.problems), \
        rep.describe()


# --- ppc64 (big-endian, ELF V1) --------------------------------------------------------

def test_ppc64_is_ppc64le_s_kernel_abi_with_elf_v1_for_c():
    t = tables.load()
    be, le = t.arch("ppc64"), t.arch("ppc64le")
    # one kernel table (syscall.tbl: common, 64, nospu) for both byte orders
    assert be.numbers == le.numbers and be.numbers["madvise"] == 205
    assert (be.endian, be.goarch, be.gnu_triple, be.engines.llvm["triple"]) == \
        ("big", "ppc64", "powerpc64-linux-gnu", "powerpc64-linux-gnu")
    # ELF V1: the ninth argument past the 48-byte header and the 64-byte parameter save
    # area, in the tables and (apart) in the verifier's statement
    from stubgen.verifier.conventions import conventions

    assert be.c_abi.stack_args == conventions("ppc64").c.stack_args == 112
    assert linux_abi("ppc64").error_flag_bits == 0x10000000


PPC64_SAMPLE = ["madvise", "mmap", "pread64", "sync", "syscall6", "exit"]


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_sampled_ppc64_stub_passes_and_runs(verifier, dialect, policy):
    # A deterministic sample (every 25th call and the shapes above): `generate --all
    # --verify` runs them all. C stubs without ld/std run on Unicorn, the rest (Go's ld,
    # the errno policy's std) on qemu-ppc64: every one runs.
    need_tool("qemu-ppc64", "qemu-user")
    names = tables.load().names(tables.load().arch("ppc64"))
    for s in stubgen.generate(sorted(set(names[::25] + PPC64_SAMPLE)), ["ppc64"], [dialect], policy):
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated and not rep.not_run, rep.describe()


def test_every_ppc64_mutant_is_killed(verifier):
    need_tool("qemu-ppc64", "qemu-user")
    stubs = []
    for dialect, policy in MATRIX:
        stubs += stubgen.generate(["madvise", "sync", "syscall6", "exit"], ["ppc64"], [dialect], policy)
    unemulated: list = []
    table, survivors = run_mutants(verifier, stubs, unemulated)
    assert not survivors, [(k, s.arch, s.dialect, s.policy, s.syscall) for k, s, _ in survivors]
    assert not unemulated, unemulated
    assert {"number", "swap_args", "unbalanced", "check_removed", "check_inverted", "wrong_trap"} <= \
        {k for (k, _, _), (n, _) in table.items() if n}


@pytest.mark.parametrize("what, old, new, says", [
    ("a descriptor naming other code", "\t.quad\t.sys_madvise,", "\t.quad\t.sys_mincore,",
     "descriptor sys_madvise names .sys_mincore, not its code .sys_madvise"),
    ("a missing descriptor", "sys_madvise:\n\t.quad\t.sys_madvise, .TOC.@tocbase, 0\n", "",
     "no function descriptor sys_madvise: in .opd"),
    ("a descriptor outside .opd", '\t.section\t".opd", "aw"\n', "", "sys_madvise: is in .text, not .opd"),
    ("code under another label", ".sys_madvise:\n", ".Lsys_madvise_code:\n", "no label .sys_madvise:"),
])
def test_a_ppc64_elf_v1_stub_whose_descriptor_does_not_lead_to_its_code_fails(verifier, what, old, new, says):
    # Each text still holds the right instructions at some label: only the descriptor
    # rule (code_symbol and descriptor in templates/gnu/ppc64.lower.yaml) tells them apart.
    s = _stub("ppc64", "gnu")
    assert check_text(verifier, s, s.text).ok
    rep = _broken(verifier, s, old, new)
    assert not rep.ok and any(says in p for p in rep.problems), (what, rep.describe())
