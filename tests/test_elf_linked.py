"""stubgen verify FILE: files that are already linked. An executable is loaded at its
own addresses, a shared object at the emulator's image base with its dynamic
relocations applied from the verifier's statement of each psABI (conventions.yaml
elf.dynamic), and what it needs from other libraries bound to stand-ins. Each part of
the loader has an input that fails without it."""
import io
import json
import subprocess
from pathlib import Path

import pytest

from stubgen.report.foreign import verify_files
from stubgen.verifier import llvm

pytestmark = pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")


def run(files, arch, *stubs, **kw):
    out = io.StringIO()
    code = verify_files([str(f) for f in files], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, {d["symbol"]: d for d in map(json.loads, out.getvalue().splitlines())}


def linked(tmp_path: Path, name: str, text: str, *flags: str, target: str = "x86_64-linux-musl") -> Path:
    """text assembled and linked by LLVM (zig cc) with flags (-shared, -static ...)."""
    src, out = tmp_path / f"{name}.s", tmp_path / name
    src.write_text(text)
    subprocess.run([str(llvm.zig()), "cc", "-target", target, "-nostdlib", *flags, "-o", str(out), str(src)],
                   check=True, env=llvm.env(), capture_output=True)
    return out


# errno is the library's own thread-local variable, reached through a GOT slot that the
# dynamic loader fills with its offset from the thread pointer (R_X86_64_TPOFF64).
TLS_SO = """.globl madvise
.type madvise,@function
madvise:
    mov $28, %eax
    syscall
    cmp $-4095, %rax
    jae 1f
    ret
1:  mov errno@gottpoff(%rip), %rcx
    neg %eax
    mov %eax, %fs:(%rcx)
    or $-1, %rax
    ret
.size madvise, .-madvise
.section .tbss,"awT",@nobits
.globl errno
.type errno, @object
.size errno, 4
errno: .zero 4
"""


def test_thread_local_errno_of_a_shared_object(tmp_path):
    so = linked(tmp_path, "libok.so", TLS_SO, "-shared")
    code, got = run([so], "amd64", policy="errno")
    assert code == 0 and got["madvise"]["verdict"] == "pass", got
    broken = linked(tmp_path, "libbroken.so", TLS_SO.replace("    neg %eax\n", ""), "-shared")
    code, got = run([broken], "amd64", policy="errno")
    assert code == 1 and any("errno -1 after the call, expected 1" in r for r in got["madvise"]["reasons"]), got


# A call through the PLT to a function of another library (R_X86_64_JUMP_SLOT), and a
# function pointer in data that the loader relocates (R_X86_64_RELATIVE).
PLT_SO = """.globl madvise
.type madvise,@function
madvise:
    mov $28, %eax
    syscall
    cmp $-4095, %rax
    jae 1f
    ret
1:  push %rax
    call __errno_location@PLT
    pop %rcx
    neg %ecx
    mov %ecx, (%rax)
    or $-1, %rax
    ret
.size madvise, .-madvise
.globl close
.type close,@function
close:
    mov handler(%rip), %rax
    jmp *%rax
.size close, .-close
close_body:
    mov $3, %eax
    syscall
    ret
.data
handler: .quad close_body
"""


def test_plt_calls_and_relative_relocations(tmp_path):
    so = linked(tmp_path, "libplt.so", PLT_SO, "-shared")
    code, got = run([so], "amd64", "close=close", policy="errno")
    assert got["madvise"]["verdict"] == "pass", got["madvise"]
    # close takes its body from a pointer the loader relocated: raw, it returns what the kernel did
    code, got = run([so], "amd64", "close=close:raw")
    assert got["close"]["verdict"] == "pass", got["close"]
    # What another library must provide and the catalog has no stand-in for is named
    lacking = linked(tmp_path, "liblack.so", PLT_SO.replace("__errno_location", "__not_a_libc_function"), "-shared")
    code, got = run([lacking], "amd64", policy="errno")
    v = got["madvise"]
    assert v["verdict"] == "unverified" and any("__not_a_libc_function" in r for r in v["reasons"]), v


def test_a_static_executable_runs_at_its_own_addresses(tmp_path):
    text = TLS_SO.replace(".section .tbss", ".globl _start\n_start:\n    ret\n.section .tbss")
    exe = linked(tmp_path, "static", text, "-static", "-Wl,--image-base=0x1000000")
    code, got = run([exe], "amd64", policy="errno")
    assert code == 0 and got["madvise"]["verdict"] == "pass", got
    # Linked over the emulator's own memory: one clear line
    over = linked(tmp_path, "over", text, "-static", "-Wl,--image-base=0x200000")
    from stubgen.errors import StubgenError
    from stubgen.pipeline.verify_files import check_files

    with pytest.raises(StubgenError, match="over the emulator's own memory"):
        check_files([str(over)], "amd64")


@pytest.mark.parametrize("arch, path", [
    ("amd64", "/lib/x86_64-linux-gnu/libc.so.6"),
    # ARMv5 glibc reads the thread pointer through the kernel's __kuser_get_tls helper
    ("arm", "/usr/arm-linux-gnueabi/lib/libc.so.6"),
    ("arm64", "/usr/aarch64-linux-gnu/lib/libc.so.6"),
    # MIPS: the GOT that the loader fills without relocations (DT_MIPS_LOCAL_GOTNO, DT_MIPS_GOTSYM),
    # through which PIC code finds errno's offset and its callees
    ("mips", "/usr/mips-linux-gnu/lib/libc.so.6"),
    ("mips64le", "/usr/mips64el-linux-gnuabi64/lib/libc.so.6"),
])
def test_glibc_shared_library_from_the_distribution(arch, path):
    """Debian's libc.so.6, unmodified: kill (a plain wrapper), and read (a cancellation
    point, which tests glibc's __libc_single_threaded as the started library holds it)."""
    if not Path(path).is_file():
        from conftest import tool_missing

        tool_missing(f"no {path} (Debian package libc6 for the architecture)")
    from stubgen.pipeline.verify_files import check_files

    verdicts, _ = check_files([path], arch, stubs=["kill=kill:errno", "read=read:errno"])
    by = {n: v for v in verdicts for n in [v.symbol, *v.aliases]}
    # read on MIPS asks glibc's thread descriptor, below tp - 0x7000, whether other threads
    # run: thread memory the verifier does not model (unverified, and said so)
    for name in ("kill",) if arch.startswith("mips") else ("kill", "read"):
        v = by[name]
        if arch == "arm" and name == "kill":
            # the true finding of glibc's ARM libc.a too: `cmn r0, #4096; bxlo lr` takes -4096 for an
            # error (read's `cmn r0, #4096; bhi` does not)
            assert v.verdict == "fail" and any("kernel result -4096" in r for r in v.reasons), (name, v.reasons)
        else:
            assert v.verdict == "pass", (name, v.reasons)
