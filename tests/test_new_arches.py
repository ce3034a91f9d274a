"""Issue 24: architectures Go has no port for, and the new rows (ppc, ...). An
architecture without a Go port is data (go_absent instead of goarch and go_abi0): the Go
dialect refuses it by name and is skipped for it when every dialect is asked for."""
import shutil
import subprocess
import sys
import warnings

import pytest
import yaml
from conftest import check_text

import stubgen
from stubgen import resources, tables
from stubgen.errors import StubgenError


def _without_go(tmp_path, name="arm64"):
    """A copy of the shipped tables in which name has no Go port."""
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / f"{name}.yaml"
    d = yaml.safe_load(p.read_text())
    del d["goarch"], d["go_abi0"]
    d["go_absent"] = "a test's architecture"
    p.write_text(yaml.safe_dump(d))
    return tdir


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True)


def test_an_architecture_without_a_go_port_gets_the_c_dialect_only(tmp_path):
    tdir = str(_without_go(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stubs = stubgen.generate(["madvise"], ["arm64", "riscv64"], tables=tdir)
    assert {(s.arch, s.dialect) for s in stubs} == {("arm64", "gnu"), ("riscv64", "gnu"), ("riscv64", "plan9")}
    assert any("plan9 skipped on arm64" in str(w.message) and "no linux port" in str(w.message) for w in caught)
    # every architecture (none named): Go's dialect is for Go's architectures, silently
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stubs = stubgen.generate(["madvise"], tables=tdir)
    assert ("arm64", "plan9") not in {(s.arch, s.dialect) for s in stubs}
    assert not any("skipped" in str(w.message) for w in caught), [str(w.message) for w in caught]
    with pytest.raises(StubgenError, match="dialect plan9 needs a Go port; Go has no linux port for arm64"):
        stubgen.generate(["madvise"], ["arm64"], ["plan9"], tables=tdir)


def test_the_cli_says_so_in_list_and_refuses_plan9_in_one_line(tmp_path):
    tdir = str(_without_go(tmp_path))
    lines = {ln.split()[0]: ln for ln in _cli("list", "--tables", tdir).stdout.splitlines() if ln.startswith("  ")}
    assert "; no Go port;" in lines["arm64"] and "; goarch riscv64;" in lines["riscv64"]
    r = _cli("generate", "--tables", tdir, "-a", "arm64", "-d", "plan9", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "needs a Go port" in r.stderr, r.stderr


@pytest.mark.parametrize("drop, add", [(("goarch",), {}), (("go_abi0",), {}), ((), {"go_absent": "both"})])
def test_a_go_port_is_goarch_and_go_abi0_or_the_reason_there_is_none(tmp_path, drop, add):
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / "arm64.yaml"
    d = yaml.safe_load(p.read_text())
    for k in drop:
        del d[k]
    p.write_text(yaml.safe_dump({**d, **add}))
    with pytest.raises(StubgenError, match="arm64.yaml"):
        tables.load(str(tdir))


# ppc: 32-bit PowerPC, big-endian, no Go port; Unicorn runs every stub.
PPC_SAMPLE = ["madvise", "close", "pread64", "mmap2", "fanotify_mark", "_llseek", "sync_file_range2", "exit_group",
              "syscall6"]


@pytest.fixture(scope="module")
def verifier():
    from stubgen.verifier import Verifier

    return Verifier()


def test_ppc_numbers_engines_and_error_flag():
    from stubgen.verifier.kernel import linux_abi

    t = tables.load()
    arch, abi = t.arch("ppc"), linux_abi("ppc")
    # powerpc syscall.tbl rows common, nospu and 32 (not 64, not spu)
    (src,) = arch.provenance["sources"]
    assert sorted(src["abis"]) == ["32", "common", "nospu"] and arch.provenance["kernel"] == "7.1.5"
    assert (arch.numbers["madvise"], arch.numbers["pread64"], arch.numbers["mmap2"]) == (205, 179, 192)
    assert "mmap2" not in t.arch("ppc64").numbers and arch.word_bytes == 4 and arch.endian == "big"
    # 82 select is sys_old_select on 32-bit kernels
    assert t.available(arch, "select")
    # of the sibling files <x>_32.c and <x>_64.c a 32-bit kernel builds the first, ppc64 the second
    assert t.signature(arch, "rt_sigreturn").source.startswith("arch/powerpc/kernel/signal_32.c:")
    assert t.signature(t.arch("ppc64"), "rt_sigreturn").source.startswith("arch/powerpc/kernel/signal_64.c:")
    # sys_ppc32.c's PPC32_SYSCALL_DEFINE6 is SYSCALL_DEFINE6 on ppc32: the pad word keeps pos an aligned pair
    assert [p.name for p in t.signature(arch, "pread64").args] == ["fd", "ubuf", "count", "reg6", "pos1", "pos2"]
    assert arch.kernel.error_flag == abi.error_flag == "cr" and abi.error_flag_bits == 0x10000000
    assert arch.kernel.pair_align == abi.pair_align == 2
    assert arch.engines.unicorn["mode"] == ["UC_MODE_PPC32", "UC_MODE_BIG_ENDIAN"]
    assert "cannot_run" not in arch.engines.unicorn  # the PowerPC error path runs here
    assert arch.c_condition == "defined(__powerpc__) && defined(__BIG_ENDIAN__) && !defined(__powerpc64__)"


@pytest.mark.parametrize("policy", ["raw", "crash", "ignore"])
def test_every_sampled_ppc_stub_runs_and_passes(verifier, policy):
    stubs = stubgen.generate(PPC_SAMPLE, ["ppc"], ["gnu"], policy)
    assert len(stubs) == len(PPC_SAMPLE)
    for s in stubs:
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated, rep.describe()


def test_every_ppc_mutant_is_killed(verifier):
    from stubgen.pipeline.mutants import run as run_mutants

    stubs = [s for p in ("raw", "crash") for s in stubgen.generate(PPC_SAMPLE, ["ppc"], ["gnu"], p)]
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.policy, s.syscall) for k, s, _ in survivors]
    killed = {k for (k, _, _), (n, _) in table.items() if n}
    assert {"number", "swap_args", "unbalanced", "check_removed", "check_inverted", "wrong_trap"} <= killed


def test_a_ppc_stub_that_ignores_cr0_so_fails_when_run(verifier):
    (s,) = stubgen.generate(["madvise"], ["ppc"], ["gnu"], "raw")
    broken = s.text.replace("\tneg\t%r3, %r3\n", "")
    assert broken != s.text
    rep = check_text(verifier, s, broken)
    assert rep.emulated and not rep.ok
    assert any("kernel result -1:" in p and "expected 0xffffffff" in p for p in rep.problems), rep.describe()


def test_errno_is_not_offered_on_ppc_and_says_which_are():
    with pytest.raises(StubgenError, match="'errno' is not offered by dialect gnu on ppc; valid: crash, ignore, raw"):
        stubgen.generate(["madvise"], ["ppc"], ["gnu"], "errno")


def test_the_c_header_tells_ppc_from_ppc64(tmp_path):
    """A compiler for each picks its own numbers by its predefined macros (zig cc's clang
    here; gcc defines no _ILP32 for ppc32, so the condition rules ppc64 out by
    __powerpc64__, which both compilers define for ppc64 only)."""
    pytest.importorskip("ziglang")
    stubgen.write(stubgen.generate(["madvise"], ["ppc", "ppc64"], ["gnu"]), str(tmp_path))
    src = tmp_path / "t.c"
    src.write_text('#include "gnu/stubs_sysnum.h"\nint x = STUBGEN_SYS_mmap2;\n')
    for target, want in (("powerpc-linux-musl", "int x = 192;"), ("powerpc64-linux-gnu", "int x = STUBGEN_SYS_mmap2;")):
        r = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", target, "-E", "-P", "-I", str(tmp_path),
                            str(src)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert want in r.stdout, (target, r.stdout[-300:])


def test_a_files_own_name_for_syscall_define_defines_each_it_stands_for(tmp_path):
    from stubgen.kernelsrc import kernelc

    f = tmp_path / "sys_ppc32.c"
    f.write_text("#ifdef CONFIG_PPC32\n#define PPC32_SYSCALL_DEFINE4\tSYSCALL_DEFINE4\n#else\n"
                 "#define PPC32_SYSCALL_DEFINE4\tCOMPAT_SYSCALL_DEFINE4\n#endif\n"
                 "PPC32_SYSCALL_DEFINE4(ppc_truncate64,\n\t\tconst char __user *, path, u32, reg4,\n"
                 "\t\tunsigned long, len1, unsigned long, len2)\n{\n}\nSYSCALL_DEFINE1(other, int, x)\n{\n}\n")
    got = {(d.function, d.line, tuple(p.name for p in d.params)) for d in kernelc.parse_file(f, "sys_ppc32.c")}
    assert got == {("sys_ppc_truncate64", 6, ("path", "reg4", "len1", "len2")),
                   ("compat_sys_ppc_truncate64", 6, ("path", "reg4", "len1", "len2")),
                   ("sys_other", 11, ("x",))}


# riscv32: RV32 ILP32, no Go port, LLVM assembles (Keystone has no RISC-V), Unicorn runs all.
RV32_SAMPLE = ["madvise", "close", "pread64", "mmap2", "clock_gettime64", "fanotify_mark", "exit_group", "syscall6"]


def test_riscv32_numbers_have_no_time32_calls_and_pairs_are_unaligned():
    from stubgen.generator import layout

    t = tables.load()
    arch = t.arch("riscv32")
    (src, mk) = arch.provenance["sources"]
    assert sorted(src["abis"]) == ["32", "common", "memfd_secret", "riscv"] and mk["path"].endswith("Makefile.syscalls")
    # rv32 has no time32 ABI: only the _time64 forms are numbered
    assert "clock_gettime" not in arch.numbers and arch.numbers["clock_gettime64"] == 403
    assert "futex" not in arch.numbers and "futex_time64" in arch.numbers and "mmap" not in arch.numbers
    assert arch.numbers["madvise"] == 233 and arch.no_go_port and arch.engines.keystone is None
    # pread64(fd, buf, count, pos): pos in a3:a4, low word first, as an ILP32 C call passes it
    pread = layout.plan(arch, t.signature(arch, "pread64"), True)
    assert [(p.kreg, p.c_reg) for a in pread.args for p in a.parts] == [(r, r) for r in ("a0", "a1", "a2", "a3", "a4")]
    assert arch.c_condition == "defined(__riscv) && !defined(__LP64__)"
    assert t.arch("riscv64").c_condition == "defined(__riscv) && defined(__LP64__)"


@pytest.mark.parametrize("policy", ["raw", "crash", "errno"])
def test_every_sampled_riscv32_stub_runs_and_passes(verifier, policy):
    stubs = stubgen.generate(RV32_SAMPLE, ["riscv32"], ["gnu"], policy)
    assert len(stubs) == len(RV32_SAMPLE)
    for s in stubs:
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated, rep.describe()


def test_every_riscv32_mutant_is_killed(verifier):
    from stubgen.pipeline.mutants import run as run_mutants

    stubs = [s for p in ("raw", "errno") for s in stubgen.generate(RV32_SAMPLE, ["riscv32"], ["gnu"], p)]
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.policy, s.syscall) for k, s, _ in survivors]


def test_a_riscv32_errno_stub_that_saves_ra_as_a_doubleword_fails(verifier):
    # sd does not exist on RV32: the riscv64 frame copied over is refused, not run
    (s,) = stubgen.generate(["madvise"], ["riscv32"], ["gnu"], "errno")
    broken = s.text.replace("\tsw\tra, 0xc(sp)\n", "\tsd\tra, 0x8(sp)\n")
    assert broken != s.text
    assert not check_text(verifier, s, broken).ok
