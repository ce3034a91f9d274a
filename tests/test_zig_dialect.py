"""The Zig dialect (-d zig): `pub inline fn` wrappers with `asm volatile`, generated from the
tables and verified as compiled code (callers built by zig build-obj, checked as machine
code under the fake kernel). Broken wrappers, each a hand edit of a generated file, must
fail. Cheap: a few syscalls on a sample of architectures."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import cli, one_line_error
from inline_support import broken, write
from inline_support import verify as _verify

import stubgen
from stubgen.errors import StubgenError
from stubgen.pipeline.verify_zig import zig_memory_problems
from stubgen.verifier import llvm

needs_zig = pytest.mark.skipif(not llvm.available(), reason="needs the Zig compiler (pip install 'stubgen[llvm]')")


def _write(tmp_path, arches, syscalls=("madvise", "read", "exit", "syscall6"), **kw):
    return write(tmp_path, "zig", arches, list(syscalls), **kw)


def test_not_written_by_default():
    assert {s.dialect for s in stubgen.generate(arches=["amd64"])} == {"plan9", "gnu"}


def test_wrapper_shape(tmp_path):
    d = _write(tmp_path, ["amd64", "mips"], ["madvise", "exit", "socket"])
    text = (d / "zig" / "stubs_amd64.zig").read_text()
    assert "Zig 0.15 or newer" in text  # the minimum version, in the file's header
    body = text[text.index("fn sys_madvise("):]
    body = body[:body.index("\n}")]
    # the kernel's clobbers come from the tables (kernel.clobbers), with flags and memory
    assert ": .{ .rcx = true, .r11 = true, .cc = true, .memory = true });" in body
    assert "pub inline fn sys_madvise(addr: ?*anyopaque, len: usize, advice: i32) isize {" in text
    assert "pub inline fn sys_exit(error_code: i32) noreturn {" in text and "@trap();" in text
    assert "sys_socket(family: i32, type_: i32, protocol: i32)" in text
    assert all(f"pub inline fn syscall{n}(" in text for n in range(7))
    mips = (d / "zig" / "stubs_mips.zig").read_text()
    # o32: numbered registers, the error flag a3 ($7) an output, hi/lo clobbered
    assert '[a3] "={$7}" (sg_a3)' in mips and ".hi = true, .lo = true" in mips and ".r25 = true" in mips
    umbrella = (d / "zig" / "stubs.zig").read_text()
    assert '.x86_64 => @import("stubs_amd64.zig")' in umbrella and '.mips => @import("stubs_mips.zig")' in umbrella


def test_errno_refused_in_one_line():
    # Zig has no errno: the policy is not offered, and asking for it says so
    with pytest.raises(StubgenError, match="error policy 'errno' is not offered by dialect zig"):
        stubgen.generate(syscalls=["read"], arches=["amd64"], dialects=["zig"], policy="errno")
    one_line_error(cli("generate", "-d", "zig", "-a", "amd64", "-s", "read", "--errors", "errno", "-o", "/nonexistent"),
                   2, "not offered by dialect zig")


def test_memory_reader():
    ok = "pub inline fn sys_x(a: usize) isize {\n    asm volatile (\"svc 0\"\n        : [x0] \"={x0}\" (r),\n" \
         "        : .{ .nzcv = true, .memory = true });\n    return 0;\n}\n"
    assert zig_memory_problems(ok, "sys_x") == []
    assert zig_memory_problems(ok.replace(", .memory = true", ""), "sys_x")
    assert zig_memory_problems(ok.replace(".memory = true", ".memory = false"), "sys_x")
    assert zig_memory_problems(ok, "sys_y")  # no definition


@needs_zig
def test_generated_wrappers_verify(tmp_path):
    d = _write(tmp_path, ["amd64", "mips"], ["read", "exit", "syscall6"])
    reps = _verify(d)
    assert len(reps) == 6 and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


@needs_zig
def test_umbrella_compiles(tmp_path):
    # a Zig program imports stubs.zig, which picks the target's file by builtin.cpu.arch
    from stubgen.tables import load

    arches = ["amd64", "arm", "x32", "mips64", "mipsn32"]
    d = _write(tmp_path, arches, ["write", "exit"]) / "zig"
    for arch in arches:
        # where two architectures share a CPU (amd64 and x32, mips64 and n32), the pointer size picks
        (d / "use.zig").write_text('const sys = @import("stubs.zig").sys;\n'
                                   f'comptime {{ if (sys != @import("stubs_{arch}.zig")) @compileError("not {arch}"); }}\n'
                                   'export fn hello() isize { return sys.sys_write(1, "hi\\n", 3); }\n'
                                   'export fn stop() noreturn { sys.sys_exit(0); }\n')
        target = load().arch(arch).engines.cc["target"]
        r = subprocess.run([sys.executable, "-m", "ziglang", "build-obj", "-target", target, "-O", "ReleaseSmall",
                            "use.zig", f"-femit-bin=use_{arch}.o"], cwd=d, capture_output=True, text=True,
                           timeout=120, env=llvm.env())
        assert r.returncode == 0, f"{arch}: {r.stderr[:2000]}"


def _broken(tmp_path, arch, edit, syscall="madvise"):
    d = _write(tmp_path, [arch], [syscall])
    return broken(d, d / "zig" / f"stubs_{arch}.zig", f"fn sys_{syscall}(", edit, f"sys_{syscall}")


@needs_zig
@pytest.mark.parametrize("arch", ["mipsn32", "x32"])
def test_wide_registers_with_a_narrow_usize_verify(tmp_path, arch):
    # n32 and x32: 32-bit usize and pointers in 64-bit registers; every operand a u64
    # (templates/zig/<arch>.zig.j2 A.extend), pread64's 64-bit offset in one register whole
    d = _write(tmp_path, [arch], ["pread64", "read", "syscall6"])
    reps = _verify(d)
    assert len(reps) == 3 and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


@needs_zig
def test_wide_argument_truncated_to_usize_fails(tmp_path):
    # n32's pread64 offset cut to its low 32 bits, as a usize operand would hold it
    rep = _broken(tmp_path, "mipsn32", lambda t: t.replace("(@as(u64, @bitCast(pos)))",
                                                           "(@as(u64, @as(u32, @truncate(@as(u64, @bitCast(pos))))))", 1),
                  "pread64")
    assert not rep.ok and any("(64-bit) in a3" in p for p in rep.problems), rep.problems


@needs_zig
def test_missing_kernel_clobbers_fail(tmp_path):
    rep = _broken(tmp_path, "amd64", lambda t: t.replace(".rcx = true, .r11 = true, ", "", 1))
    assert not rep.ok and any("r11" in p for p in rep.problems), rep.problems


@needs_zig
def test_r11_style_live_value_fails(tmp_path):
    # MIPS n64: the kernel may change t2 ($14); a caller keeps a value there
    rep = _broken(tmp_path, "mips64", lambda t: t.replace(".r14 = true, ", "", 1))
    assert not rep.ok and rep.problems


@needs_zig
def test_swapped_input_register_fails(tmp_path):
    def swap(t):
        return t.replace('"{rdi}"', '"{TMP}"', 1).replace('"{rsi}"', '"{rdi}"', 1).replace('"{TMP}"', '"{rsi}"', 1)

    rep = _broken(tmp_path, "amd64", swap)
    assert not rep.ok and any("argument" in p for p in rep.problems), rep.problems


@needs_zig
def test_missing_memory_clobber_fails(tmp_path):
    # the kernel writes read()'s buffer: without memory a caller may read it from a register
    rep = _broken(tmp_path, "arm64", lambda t: t.replace(", .memory = true", "", 1), "read")
    assert not rep.ok and any(".memory = true" in p for p in rep.problems), rep.problems


@needs_zig
def test_mutants_killed():
    # the mutator's breaks of a Zig wrapper: a clobber dropped, input registers swapped,
    # memory dropped (templates/zig/amd64.lower.yaml, and the swapped frame)
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=["madvise"], arches=["amd64"], dialects=["zig"])[0]
    broken = dict(mutants(stub))
    assert {"clobber_dropped", "swap_args", "memory_dropped"} <= set(broken)
    for kind in ("clobber_dropped", "swap_args", "memory_dropped"):
        rep = check_mutant(stub, broken[kind])
        assert not rep.ok and rep.problems, kind


def test_absent_zig_is_not_verified(tmp_path, monkeypatch):
    # no Zig compiler: every wrapper is said as not verified, none passed
    from stubgen.realtools import zigfront

    d = _write(tmp_path, ["amd64"], ["read"])
    monkeypatch.setattr(zigfront.llvm, "zig", lambda: None)
    (rep,) = _verify(d)
    assert not rep.ok and not rep.runs and any("not verified" in u for u in rep.unverified), rep.describe()


@needs_zig
def test_foreign_zig_file(tmp_path):
    # a Zig file stubgen did not write (here: a generated one, then broken) by --stub
    d = _write(tmp_path, ["amd64"], ["socket"]) / "zig" / "stubs_amd64.zig"
    args = ["verify", str(d), "--arch", "amd64", "--stub", "sys_socket=socket($0, $1, $2)"]
    r = cli(*args)
    assert r.returncode == 0 and "4 passed" in r.stdout, r.stdout + r.stderr
    text = d.read_text()
    start = text.index("fn sys_socket(")
    d.write_text(text[:start] + text[start:].replace(".rcx = true, .r11 = true, ", "", 1))
    r = cli(*args)
    assert r.returncode == 1 and "r11" in r.stdout, r.stdout + r.stderr


def test_a_file_that_reads_other_files_is_refused(tmp_path):
    # @embedFile, @cImport or an @import of a path would read beyond the file: refused
    # before zig runs, so it is never compiled (not verified, and why)
    d = _write(tmp_path, ["amd64"], ["getpid"])
    f = d / "zig" / "stubs_amd64.zig"
    original = f.read_text()
    for bad in ('const secret = @embedFile("/etc/passwd");\n', 'const c = @cImport(@cInclude("stdio.h"));\n',
                'const other = @import("../other.zig");\n'):
        f.write_text(bad + original)
        (rep,) = _verify(d)
        assert not rep.ok and not rep.runs and any("is refused before the compiler" in u for u in rep.unverified), \
            rep.describe()
