"""Real upstream files, committed unmodified under tests/fixtures/upstream/ (each
project's SOURCES says where from; SHA256SUMS proves they are as shipped): the
verdicts judged by hand against the code and the ABI. Linux's nolibc is run by
tests/test_inline_asm.py::test_nolibc_arch_h."""
import hashlib
import io
import json
from pathlib import Path

import pytest

from stubgen.report.foreign import verify_files
from stubgen.verifier import llvm

UP = Path(__file__).parent / "fixtures" / "upstream"
UCLIBC = UP / "uclibc-ng"
# uClibc-ng's build generates bits/uClibc_config.h; ours, in our own words, names no option
UCLIBC_CONFIG = Path(__file__).parent / "fixtures" / "foreign" / "uclibc-ng"
# syscall(nr, ...): the number in the first parameter, six arguments after it
SYSCALL = "syscall=syscall6@$0($1, $2, $3, $4, $5, $6)"


def run(path, arch, *stubs, **kw):
    out = io.StringIO()
    code = verify_files([str(path)], arch, stubs=stubs, fmt="json", out=out, **kw)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("project", sorted(p.name for p in UP.iterdir() if p.is_dir()))
def test_the_files_are_as_shipped(project):
    sums = (UP / project / "SHA256SUMS").read_text().splitlines()
    assert sums and (UP / project / "SOURCES").is_file()
    for line in sums:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((UP / project / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
@pytest.mark.parametrize("sysdeps, arch, takes", [
    # x86-64 and i386: `cmp $-4095; jae __syscall_error`, the raw result in rax/eax, as
    # uClibc-ng's x86_64/__syscall_error.c and i386/__syscall_error.c read it
    ("x86_64", "amd64", "raw_result"),
    ("i386", "386", "raw_result"),
    # o32: a3 set -> `move a0, v0; j __syscall_error`, the positive errno in a0, which
    # mips/syscall_error.S (threaded build) stores through __errno_location
    ("mips", "mips", "errno"),
    ("mips", "mipsle", "errno"),
    # `cmn x0, #4095; b.cs` then `b __syscall_error` with the raw result in x0
    ("aarch64", "arm64", "raw_result"),
])
def test_uclibc_ng_syscall_passes(sysdeps, arch, takes):
    code, got = _uclibc(sysdeps, "syscall.S", arch, takes, symbols=sysdeps == "aarch64")
    assert code == 0 and [v["verdict"] for v in got] == ["pass"], got


def _uclibc(sysdeps, name, arch, takes, defines=(), symbols=False):
    linux = UCLIBC / "libc" / "sysdeps" / "linux"
    # as uClibc-ng's build: the arch's and common sysdeps, include/, and (symbols: only the
    # files whose macros need it, since we ship that header's arch features for arm and
    # aarch64 alone) -include libc-symbols.h
    return run(linux / sysdeps / name, arch, f"{SYSCALL}:errno(__syscall_error takes {takes})",
               includes=[str(UCLIBC_CONFIG), str(linux / sysdeps), str(linux / "common"), str(linux),
                         str(UCLIBC / "include")],
               force_includes=[str(UCLIBC / "include" / "libc-symbols.h")] if symbols else [], defines=defines)


@pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
def test_uclibc_ng_arm_takes_minus_4096_for_an_error():
    """A true finding: `cmn r0, #4096; bxcc lr` sends -4096 to __syscall_error, while
    Linux's errors are -4095..-1 (include/linux/err.h MAX_ERRNO), as glibc's ARM code."""
    code, got = _uclibc("arm", "syscall-eabi.S", "arm", "raw_result", defines=["__CONFIG_ARM_EABI__"],
                        symbols=True)
    assert code == 1 and [v["verdict"] for v in got] == ["fail"], got
    assert any("kernel result -4096" in r for r in got[0]["reasons"]), got


@pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
def test_uclibc_ng_mips_handler_contract_matters():
    """The same MIPS file with the x86 contract (the handler reads a raw -errno in the
    result register): v0 holds a positive errno there, so errno is never set."""
    code, got = _uclibc("mips", "syscall.S", "mips", "raw_result")
    assert code == 1 and got[0]["verdict"] == "fail", got
    assert any("errno untouched" in r for r in got[0]["reasons"]), got
