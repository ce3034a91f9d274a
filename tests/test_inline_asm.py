"""stubgen verify HEADER.h --stub FUNCTION=SYSCALL: inline-assembly wrappers, called from
a C unit that the target's compiler builds at -O2 and -O0 (and Thumb on ARM), plainly
and with values kept live in every register the allocator may use; the objects are
verified as machine code. musl's syscall_arch.h (unmodified, from the ziglang wheel) and
Linux's nolibc (committed unmodified under fixtures/upstream) pass on every architecture an emulator runs; reconstructions of the
historical clobber bugs fail, naming the register."""
import io
import json
import shutil
from pathlib import Path

import pytest

from stubgen.errors import StubgenError
from stubgen.report.foreign import verify_files
from stubgen.verifier import llvm

pytestmark = pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
FIX = Path(__file__).parent / "fixtures" / "inline"
NOLIBC_DIR = Path(__file__).parent / "fixtures" / "upstream" / "linux" / "tools" / "include" / "nolibc"
MUSL = {"loong64": "loongarch64", "amd64": "x86_64", "386": "i386", "arm": "arm", "arm64": "aarch64", "riscv64": "riscv64", "mips": "mips",
        "mipsle": "mips", "mips64le": "mips64", "s390x": "s390x", "ppc64le": "powerpc64"}
NOLIBC = {"loong64": "loongarch", "amd64": "x86_64", "386": "i386", "arm": "arm", "arm64": "aarch64", "riscv64": "riscv", "mips": "mips",
          "mipsle": "mips", "s390x": "s390", "ppc64le": "powerpc"}
# Unicorn runs only the -O2 plain callers' 32-bit-safe code on ppc64le, and nothing on
# loong64: qemu-user runs the rest (the QEMU engine), and without it they are not emulated.
EMULATED_O2_ONLY = {"ppc64le"}
QEMU_USER = {"ppc64le": "qemu-ppc64le", "loong64": "qemu-loongarch64"}


def run(path, arch, *stubs, **kw):
    out = io.StringIO()
    code = verify_files([str(path)], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def generic(name):
    return [f"{name}{n}=syscall{n}" for n in range(7)]


def _musl():
    import ziglang

    return Path(ziglang.__file__).parent / "lib" / "libc" / "musl" / "arch"


def _check_all(code, got, arch):
    by = {}
    for v in got:
        by.setdefault(v["verdict"], []).append(f"{v['symbol']} {v['file']}")
    if arch in QEMU_USER and shutil.which(QEMU_USER[arch]) is None:
        # without qemu-user: what Unicorn runs passes, the rest is said not emulated
        assert not by.get("fail"), by
        if arch in EMULATED_O2_ONLY:
            assert len(by.get("pass", [])) == 7 and all("(-O2, plain caller)" in p for p in by["pass"]), by
        elif arch == "loong64":
            assert not by.get("pass"), by
        assert all("not emulated" in v["reasons"][0] for v in got if v["verdict"] == "unverified")
    else:
        assert code == 0 and set(by) == {"pass"}, by
        assert len(by["pass"]) == 7 * 2 * 2 * (2 if arch == "arm" else 1)


@pytest.mark.parametrize("arch", sorted(MUSL))
def test_musl_syscall_arch_h(arch):
    path = _musl() / MUSL[arch] / "syscall_arch.h"
    if not path.is_file():
        pytest.skip("the ziglang wheel ships no musl sources")
    # s390x's wrapper names SYS_mmap: musl includes <sys/syscall.h> before it
    code, got = run(path, arch, *generic("__syscall"), force_includes=["sys/syscall.h"])
    _check_all(code, got, arch)


@pytest.mark.parametrize("arch", sorted(NOLIBC))
def test_nolibc_arch_h(arch):
    """Linux 6.12's nolibc, committed unmodified (tests/fixtures/upstream/linux/SOURCES)."""
    path = NOLIBC_DIR / f"arch-{NOLIBC[arch]}.h"
    code, got = run(path, arch, *generic("my_syscall"), force_includes=[str(NOLIBC_DIR / "nolibc.h")])
    _check_all(code, got, arch)


@pytest.mark.parametrize("header, arch, stub, register", [
    ("x86_64_no_r11.h", "amd64", "sys3=read", "r11"),
    ("mips_no_t2.h", "mips", "sys1=close", "t2"),
    ("arm64_x8_untold.h", "arm64", "sys1=close", "x8"),
])
def test_historical_clobber_bugs_fail_naming_the_register(header, arch, stub, register):
    code, got = run(FIX / header, arch, stub)
    failed = [v for v in got if v["verdict"] == "fail"]
    assert code == 1 and failed, got
    assert all("kept registers caller" in v["file"] for v in failed)
    reasons = [r for v in failed for r in v["reasons"]]
    assert any(f" {register} " in r and ("kernel leaves in" in r or "held at the trap" in r) for r in reasons), reasons


@pytest.mark.parametrize("header, arch", [("riscv_a0_untied.h", "riscv64"), ("thumb_r7.h", "arm")])
def test_latent_bugs_that_this_compiler_gets_right(header, arch):
    """The riscv64 untied result and Thumb's r7: clang (zig cc) allocates them so that the
    compiled code is right; the verifier judges the machine code it is given, so they pass."""
    code, got = run(FIX / header, arch, "sys1=close")
    assert code == 0 and all(v["verdict"] == "pass" for v in got), got


def test_a_header_needs_its_wrappers_named(tmp_path):
    with pytest.raises(StubgenError, match="--stub FUNCTION=SYSCALL"):
        run(FIX / "x86_64_no_r11.h", "amd64")
    with pytest.raises(StubgenError, match="wider than one arm register"):
        run(FIX / "x86_64_no_r11.h", "arm", "sys3=pread64")
    with pytest.raises(StubgenError, match="the C compiler .* failed: .*nosuch"):
        run(FIX / "x86_64_no_r11.h", "amd64", "nosuch=read")


def test_a_wrapper_that_takes_only_the_arguments(tmp_path):
    """Chromium's LSS shape: sys_close(fd), the number inside; --stub FUNCTION=SYSCALL(ARGS)
    says which parameters the wrapper takes. errno is set through __errno_location."""
    h = tmp_path / "lss.h"
    h.write_text("""#include <errno.h>
static inline long sys_close(long fd)
{
    long ret;
    __asm__ __volatile__ ("syscall" : "=a"(ret) : "0"(3L), "D"(fd) : "rcx", "r11", "memory");
    if ((unsigned long)ret >= (unsigned long)-4095) { errno = -ret; ret = -1; }
    return ret;
}
""")
    code, got = run(h, "amd64", "sys_close=close($0):errno")
    # plain, kept and (errno calls a function on error) kept-on-success callers, at -O2 and -O0
    assert code == 0 and len(got) == 6 and all(v["verdict"] == "pass" for v in got), got
    h.write_text(h.read_text().replace("errno = -ret;", "errno = ret;"))
    code, got = run(h, "amd64", "sys_close=close($0):errno")
    assert code == 1 and all(any("errno -1 after the call, expected 1" in r for r in v["reasons"]) for v in got)
