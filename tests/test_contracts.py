"""The --stub grammar: contracts other runtimes' functions keep beyond "this syscall,
its own arguments": constants (Go's open is openat(AT_FDCWD, ...), sbrk0 is brk(0)),
permuted and dropped arguments, the number in a register (klibc's common tail) or in
an argument, an extra leading argument that points to 0 (musl's __syscall_cp_asm), two
syscalls in order (musl's __unmapself), -1 without errno, and an errno handler that
takes the raw result in the result register (uClibc-ng). Each has a broken input."""
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stubgen.errors import StubgenError
from stubgen.report.foreign import verify_files
from stubgen.verifier import llvm

pytestmark = pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
ARCHES = {"amd64": "x86_64", "386": "i386", "arm": "arm", "arm64": "aarch64", "riscv64": "riscv64", "mips": "mips",
          "mipsle": "mips", "mips64le": "mips64", "s390x": "s390x", "ppc64le": "powerpc64"}


def run(files, arch, *stubs, **kw):
    out = io.StringIO()
    code = verify_files([str(f) for f in files], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, {d["symbol"]: d for d in map(json.loads, out.getvalue().splitlines())}


def musl(path):
    import ziglang

    f = Path(ziglang.__file__).parent / "lib" / "libc" / "musl" / "src" / path
    if not f.is_file():
        pytest.skip("the ziglang wheel ships no musl sources")
    return f


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_musl_unmapself_is_munmap_then_exit(arch):
    """musl's __unmapself (unmodified): munmap($0, $1), then exit whatever munmap gave
    (arm64 and others exit with munmap's result: `_`)."""
    code, got = run([musl(f"thread/{ARCHES[arch]}/__unmapself.s")], arch, "__unmapself=munmap($0, $1); exit(_)")
    v = got["__unmapself"]
    assert code == 0 and v["verdict"] == "pass" and v["policy"] == "noreturn", v


def test_two_calls_out_of_order_or_one_missing_fail(tmp_path):
    f = musl("thread/x86_64/__unmapself.s")
    code, got = run([f], "amd64", "__unmapself=exit(0); munmap($0, $1)")
    assert code == 1 and any("exit: number register rax = 0xb (munmap)" in r for r in got["__unmapself"]["reasons"])
    code, got = run([f], "amd64", "__unmapself=munmap($1, $0); exit(0)")
    assert code == 1 and any("munmap: argument 1" in r for r in got["__unmapself"]["reasons"])
    code, got = run([musl("thread/aarch64/__unmapself.s")], "arm64", "__unmapself=munmap($0, $1); exit(0)")
    assert code == 1 and any("exit: argument 1" in r for r in got["__unmapself"]["reasons"]), got


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_musl_syscall_cp_asm_with_its_cancel_flag(arch):
    """musl's __syscall_cp_asm(&cancel, nr, u, v, w, x, y, z): the number in parameter 1,
    the arguments after it; with *cancel == 0 it makes the syscall."""
    f = musl(f"thread/{ARCHES[arch]}/syscall_cp.s")
    code, got = run([f], arch, "__syscall_cp_asm(&0)=syscall6@$1($2, $3, $4, $5, $6, $7)")
    assert code == 0 and got["__syscall_cp_asm"]["verdict"] == "pass", got["__syscall_cp_asm"]


def test_a_set_cancel_flag_leaves_for_cancel():
    f = musl("thread/x86_64/syscall_cp.s")
    code, got = run([f], "amd64", "__syscall_cp_asm(&1)=syscall6@$1($2, $3, $4, $5, $6, $7)")
    v = got["__syscall_cp_asm"]
    assert code == 1 and v["verdict"] == "unverified" and "calls __cancel" in v["reasons"][0]


GO_OPEN = """.globl open
open:
    mov %edx, %r10d
    mov %esi, %edx
    mov %rdi, %rsi
    mov $-100, %edi
    mov $257, %eax
    syscall
    cmp $-4095, %rax
    jb 1f
    mov $-1, %rax
1:  ret
.globl sbrk0
sbrk0:
    xor %edi, %edi
    mov $12, %eax
    syscall
    ret
"""


def test_constants_and_minus_one_without_errno(tmp_path):
    f = tmp_path / "go.s"
    f.write_text(GO_OPEN)
    code, got = run([f], "amd64", "open=openat(-100, $0, $1, $2):minus1", "sbrk0=brk(0)")
    assert code == 0, got
    # the same under raw: -1 is not the kernel's result
    code, got = run([f], "amd64", "open=openat(-100, $0, $1, $2)")
    assert code == 1 and any("result register rax = 0xffffffffffffffff" in r for r in got["open"]["reasons"])
    # a wrong constant, and permuted arguments, fail
    code, got = run([f], "amd64", "open=openat(-101, $0, $1, $2):minus1")
    assert code == 1 and any("argument 1 (32 bits the kernel reads of a 64-bit value) in rdi = 0xffffff9c" in r for r in got["open"]["reasons"])
    code, got = run([f], "amd64", "open=openat(-100, $1, $0, $2):minus1")
    assert code == 1 and got["open"]["verdict"] == "fail"
    code, got = run([f], "amd64", "sbrk0=brk(1)")
    assert code == 1 and got["sbrk0"]["verdict"] == "fail"


# klibc's shape: per-call entries load the number and jump to one tail that takes it in rax.
KLIBC = """.globl __syscall_common
__syscall_common:
    mov %rcx, %r10
    syscall
    cmp $-4095, %rax
    jae 1f
    ret
1:  neg %eax
    mov %eax, errno(%rip)
    or $-1, %rax
    ret
.globl read
read:
    mov $0, %eax
    jmp __syscall_common
"""


def test_the_number_in_a_register(tmp_path):
    f = tmp_path / "k.s"
    f.write_text(KLIBC)
    code, got = run([f], "amd64", "__syscall_common=read@rax:errno", "read=read:errno")
    assert code == 0, got
    code, got = run([f], "amd64", "__syscall_common=write@rax:errno", "read=read:errno")
    assert code == 0, got  # whatever number the caller loads is the one it makes
    f.write_text(KLIBC.replace("    mov %rcx, %r10\n    syscall\n", "    mov %rcx, %r10\n    mov $1, %eax\n    syscall\n"))
    code, got = run([f], "amd64", "__syscall_common=read@rax:errno")
    assert code == 1 and any("number register rax = 0x1 (write)" in r for r in got["__syscall_common"]["reasons"])


UCLIBC = """.globl madvise
madvise:
    mov $28, %eax
    syscall
    cmp $-4095, %rax
    jae __syscall_error
    ret
"""


def test_a_handler_that_takes_the_raw_result(tmp_path):
    f = tmp_path / "u.s"
    f.write_text(UCLIBC)
    code, got = run([f], "amd64", "madvise=madvise:errno(__syscall_error takes raw_result)")
    assert code == 0, got
    code, got = run([f], "amd64", "madvise=madvise:errno(__syscall_error takes errno)")
    assert code == 1 and any("errno" in r for r in got["madvise"]["reasons"]), got


@pytest.mark.parametrize("stub, words", [
    ("open=openat(-100, $0, $1)", "openat takes 4 arguments"),
    ("open=openat(-100, $0, $1, $2); nosuch(1)", "'nosuch' has no number and signature"),
    ("read=read@r99", "'r99' is not a amd64 register"),
    ("read=read($0, x, $2)", "'x' is neither $N"),
    ("read=read:errno(h takes nothing)", "a handler takes errno, raw, raw_result, errno_result"),
    ("read(*)=read", "parameter '*': write _ (a value) or &V"),
])
def test_grammar_errors_are_one_line(tmp_path, stub, words):
    f = tmp_path / "k.s"
    f.write_text(KLIBC)
    import re

    with pytest.raises(StubgenError, match=re.escape(words)):
        run([f], "amd64", stub)
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(f), "--arch", "amd64", "--stub", stub],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# A 64-bit argument on a 32-bit architecture: ARM EABI's C caller passes pread64's offset
# on the stack (r3 skipped: a pair starts at an even register), the kernel reads r4:r5.
ARM_PREAD = """.globl mypread
mypread:
    push {r4, r5, r7, lr}
    ldr r4, [sp, #16]
    ldr r5, [sp, #20]
    mov r7, #180
    svc #0
    pop {r4, r5, r7, pc}
"""


def test_a_contract_parameter_passed_as_a_64_bit_argument(tmp_path):
    # the parameter is as wide as the argument it is passed as: a long long in the C ABI
    f = tmp_path / "p.s"
    f.write_text(ARM_PREAD)
    code, got = run([f], "arm", "mypread=pread64($0, $1, $2, $3)")
    assert code == 0 and got["mypread"]["verdict"] == "pass", got
    f.write_text(ARM_PREAD.replace("#16]", "#TMP]").replace("#20]", "#16]").replace("#TMP]", "#20]"))
    code, got = run([f], "arm", "mypread=pread64($0, $1, $2, $3)")
    assert code == 1 and any("32-bit part of a 64-bit value" in r for r in got["mypread"]["reasons"]), got
