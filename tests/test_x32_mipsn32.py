"""Issue 24: the two ILP32 ABIs on 64-bit registers, x32 (x86-64) and MIPS n32: numbers
from their kernel tables, stubs run on Unicorn and held to the verifier's own statement,
mutants killed, the numbers of the sibling 64-bit ABI refused, the C header telling them
from amd64 and mips64, and n32's real-kernel row under qemu-mipsn32."""
import subprocess
import sys

import pytest
from conftest import check_text

import stubgen
from stubgen import tables
from stubgen.verifier.kernel import linux_abi

SAMPLE = ["madvise", "pread64", "mmap", "exit_group", "syscall6"]
X32_BIT = 0x40000000  # __X32_SYSCALL_BIT, arch/x86/include/uapi/asm/unistd.h


@pytest.fixture(scope="module")
def verifier():
    from stubgen.verifier import Verifier

    return Verifier()


def test_numbers_registers_and_statements():
    t = tables.load()
    x32, n32, amd64, n64 = t.arch("x32"), t.arch("mipsn32"), t.arch("amd64"), t.arch("mips64")
    # x32: the common and x32 rows of syscall_64.tbl, each with the x32 bit
    (src,) = x32.provenance["sources"]
    assert src["path"] == "arch/x86/entry/syscalls/syscall_64.tbl" and src["abis"] == ["common", "x32"]
    assert x32.numbers["madvise"] == X32_BIT | amd64.numbers["madvise"] == X32_BIT | 28
    assert x32.numbers["rt_sigaction"] == X32_BIT | 512 and x32.numbers["readv"] == X32_BIT | 515
    assert all(n & X32_BIT for n in x32.numbers.values())
    assert t.signature(x32, "rt_sigaction").source.startswith("kernel/signal.c:")  # compat_sys_rt_sigaction
    # n32: its own table, 6000 + n
    (src,) = n32.provenance["sources"]
    assert src["path"] == "arch/mips/kernel/syscalls/syscall_n32.tbl" and src["number_base"] == 6000
    assert (n32.numbers["madvise"], n32.numbers["pread64"]) == (6027, 6016) and n64.numbers["madvise"] == 5027
    # 64-bit registers: a 64-bit argument is one of them on both
    for a in (x32, n32):
        assert a.word_bytes == 8 and not a.goarch and a.go_absent
        assert a.kernel.args == linux_abi(a.name).args
    assert [p.type.bytes(n32) for p in t.signature(n32, "pread64").args][-1] == 8
    assert n32.kernel.error_flag == linux_abi("mipsn32").error_flag == "a3"
    # the C header's conditions keep the ILP32 ABIs apart from their LP64 siblings
    assert x32.c_condition == "defined(__x86_64__) && defined(__ILP32__)"
    assert amd64.c_condition == "defined(__x86_64__) && !defined(__ILP32__)"
    assert n32.c_condition == "defined(__MIPSEB__) && defined(__mips64) && !defined(__LP64__)"
    assert n64.c_condition == "defined(__MIPSEB__) && defined(__mips64) && defined(__LP64__)"


@pytest.mark.parametrize("arch, policy", [("x32", "raw"), ("x32", "errno"), ("x32", "crash"),
                                          ("mipsn32", "raw"), ("mipsn32", "errno"), ("mipsn32", "crash")])
def test_every_sampled_stub_runs_and_passes(verifier, arch, policy):
    stubs = stubgen.generate(SAMPLE, [arch], ["gnu"], policy)
    assert len(stubs) == len(SAMPLE)
    for s in stubs:
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated, rep.describe()


@pytest.mark.parametrize("arch", ["x32", "mipsn32"])
def test_every_mutant_is_killed(verifier, arch):
    from stubgen.pipeline.mutants import run as run_mutants

    stubs = [s for p in ("raw", "errno") for s in stubgen.generate(["madvise", "pread64"], [arch], ["gnu"], p)]
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.policy, s.syscall) for k, s, _ in survivors]
    killed = {k for (k, _, _), (n, _) in table.items() if n}
    assert {"number", "swap_args", "unbalanced", "check_inverted", "wrong_trap"} <= killed


@pytest.mark.parametrize("arch, right, wrong", [
    # Zig once shipped x32's numbers without __X32_SYSCALL_BIT: the 64-bit ABI's call
    ("x32", "$0x4000001c", "$0x1c"),
    # n64's number for madvise on n32
    ("mipsn32", "0x178b", "0x13a3"),
])
def test_the_sibling_abis_number_fails(verifier, arch, right, wrong):
    (s,) = stubgen.generate(["madvise"], [arch], ["gnu"], "raw")
    assert right in s.text
    rep = check_text(verifier, s, s.text.replace(right, wrong))
    assert rep.emulated and not rep.ok
    assert any("number register" in p for p in rep.problems), rep.describe()


def test_an_n32_errno_stub_that_loads_a_doubleword_got_entry_fails(verifier):
    """n32's GOT entries are pointers, 4 bytes: n64's ld reads the handler's address as the
    high half of a doubleword (big-endian: 0) and jumps nowhere."""
    (s,) = stubgen.generate(["madvise"], ["mipsn32"], ["gnu"], "errno")
    assert "\tlw\t$t9, %call16(" in s.text
    rep = check_text(verifier, s, s.text.replace("\tlw\t$t9, %call16(", "\tld\t$t9, %call16("))
    assert rep.emulated and not rep.ok, rep.describe()


def test_the_c_header_picks_x32_and_n32_by_their_macros(tmp_path):
    pytest.importorskip("ziglang")
    stubgen.write(stubgen.generate(["madvise"], ["amd64", "x32", "mips64", "mipsn32"], ["gnu"]), str(tmp_path))
    src = tmp_path / "t.c"
    src.write_text('#include "gnu/stubs_sysnum.h"\nint x = STUBGEN_SYS_madvise;\n')
    for target, want in (("x86_64-linux-muslx32", "int x = 1073741852;"), ("x86_64-linux-musl", "int x = 28;"),
                         ("mips64-linux-muslabin32", "int x = 6027;"), ("mips64-linux-muslabi64", "int x = 5027;")):
        r = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", target, "-E", "-P", "-I", str(tmp_path),
                            str(src)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert want in r.stdout, (target, r.stdout[-300:])


def test_x32_real_kernel_rows_say_why_they_cannot_run():
    from stubgen.realtools import tools

    with pytest.raises(tools.ToolAbsent, match="CONFIG_X86_X32_ABI"):
        tools.qemu_tool("x32")


@pytest.mark.parametrize("syscall, widening, what", [
    ("madvise", "\tmovl\t%esi, %esi\n", "len"),     # an unsigned long: zero-extended
    ("lseek", "\tmovslq\t%esi, %rsi\n", "offset"),  # a long: sign-extended
    ("madvise", "\tmovl\t%edi, %edi\n", "addr"),    # a pointer: zero-extended
])
def test_an_x32_stub_that_passes_a_long_or_pointer_unwidened_fails(verifier, syscall, widening, what):
    """x32's C long and pointers are 4 bytes with the register's upper half undefined
    (gcc -mx32 passes (long)x of a long long with movl, (unsigned long)x unchanged), and the
    kernel reads the register whole: a stub that passes one as it came hands the kernel
    junk, or a negative offset as a large positive one."""
    (s,) = stubgen.generate([syscall], ["x32"], ["gnu"], "raw")
    assert widening in s.text
    rep = check_text(verifier, s, s.text.replace(widening, ""))
    assert rep.emulated and not rep.ok
    assert any("at the trap, expected" in p for p in rep.problems), rep.describe()
    # extending the wrong way fails too
    other = widening.replace("movl", "MOVSLQ").replace("movslq", "movl").replace("MOVSLQ", "movslq")
    if "movslq" in other:
        other = other.replace("%esi, %esi", "%esi, %rsi").replace("%edi, %edi", "%edi, %rdi")
    else:
        other = other.replace("%esi, %rsi", "%esi, %esi")
    rep = check_text(verifier, s, s.text.replace(widening, other))
    assert rep.emulated and not rep.ok, (other, rep.describe())


def test_n32_stubs_pass_longs_as_the_abi_holds_them(verifier):
    """n32 holds every 32-bit value sign-extended and the kernel takes the register as it
    is: a stub that zero-extended an unsigned long (dsll32, dsrl32) would hand it another value."""
    (s,) = stubgen.generate(["madvise"], ["mipsn32"], ["gnu"], "raw")
    assert "dsrl32" not in s.text
    broken = s.text.replace("\tsyscall\n", "\tdsll32\t$a1, $a1, 0x0\n\tdsrl32\t$a1, $a1, 0x0\n\tsyscall\n")
    rep = check_text(verifier, s, broken)
    assert rep.emulated and not rep.ok
    assert any("argument 2" in p for p in rep.problems), rep.describe()


@pytest.mark.crosscheck
@pytest.mark.parametrize("broken", [False, True])
def test_the_real_n32_kernel_takes_the_errno_stub_and_catches_a_doubleword_got_load(broken, tmp_path):
    """Under qemu-mipsn32 (a static musl program built by zig cc): an errno stub's failing
    call reaches the handler through the GOT and returns -1 with errno EINVAL; with n64's
    ld in place of lw it jumps to a wrong address and the row fails."""
    from conftest import need_real

    from stubgen.realtools import crosscheck

    stubgen.write(stubgen.generate(["madvise"], ["mipsn32"], ["gnu"], "errno"), tmp_path / "out")
    src = tmp_path / "out" / "gnu" / "stubs_linux_mipsn32.S"
    text = src.read_text()
    if broken:
        text = text.replace("\tlw\t$t9, %call16(", "\tld\t$t9, %call16(")
        assert "\tld\t$t9" in text
    asm = tmp_path / src.name
    asm.write_text(text)
    binary = need_real(crosscheck.build_c, asm, tmp_path / "out" / "gnu" / "stubs.h", "mipsn32", "sys_madvise",
                       "errno", "stubgen_errno", tmp_path / "madvise")
    proc, how = need_real(crosscheck.run_mode, binary, "mipsn32", "misaligned")
    status, detail = crosscheck.judge("misaligned", "errno", proc, how)
    assert how == "qemu-mipsn32"
    assert status == (crosscheck.FAIL if broken else crosscheck.PASS), detail
