"""The Rust dialect (-d rust): core::arch::asm! wrappers generated from the tables and
verified as compiled code (rustc compiles a #![no_core] crate of callers for each target,
checked as machine code under the fake kernel). Broken wrappers, each a hand edit of a
generated module, must fail. Cheap: a few syscalls on a few architectures."""
from __future__ import annotations

import pytest
from conftest import need_tool
from inline_support import broken, write
from inline_support import verify as _verify

import stubgen
from stubgen.errors import StubgenError

SAMPLE = ["madvise", "read", "exit", "syscall6"]


@pytest.fixture
def rustc():
    return need_tool("rustc", "rustc (https://rustup.rs)")


def _write(tmp_path, arches, syscalls=SAMPLE, **kw):
    return write(tmp_path, "rust", arches, syscalls, **kw)


def test_not_written_by_default():
    assert "rust" not in {s.dialect for s in stubgen.generate(arches=["amd64"])}


def test_no_errno_policy():
    # a no_std crate has no errno: the policy is refused in one line, not approximated
    with pytest.raises(StubgenError, match="not offered by dialect rust"):
        stubgen.generate(syscalls=["read"], arches=["amd64"], dialects=["rust"], policy="errno")


def test_wrapper_shape(tmp_path):
    text = (_write(tmp_path, ["amd64", "mips"]) / "rust" / "stubs_amd64.rs").read_text()
    body = text[text.index("fn sys_read("):]
    body = body[:body.index("\n}")]
    assert "pub unsafe fn sys_read(fd: i32, buf: *mut core::ffi::c_void, count: usize) -> isize" in text
    # the kernel's clobbers come from the tables (kernel.clobbers); no nomem: memory is the kernel's
    assert 'lateout("rcx") _,' in body and 'lateout("r11") _,' in body
    assert "options(nostack, preserves_flags)" in body and "nomem" not in body
    assert "pub unsafe fn sys_exit(error_code: i32) -> !" in text
    assert all(f"pub unsafe fn syscall{n}(" in text for n in range(7))
    mips = (tmp_path / "rust" / "stubs_mips.rs").read_text()
    # said in the header: unstable on MIPS, and hi/lo cannot be named
    assert "asm_experimental_arch" in mips and "hi and lo" in mips


def test_generated_wrappers_verify(rustc, tmp_path):
    # 386: esi and ebp through memory; mips64: at saved inside the asm, a3 the error flag
    d = _write(tmp_path, ["amd64", "386", "mips64"], ["madvise", "exit", "syscall6"])
    reps = _verify(d)
    assert len(reps) == 9 and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


def test_x32_wide_registers_with_a_narrow_isize_verify(rustc, tmp_path):
    # x32: 32-bit isize and pointers in 64-bit registers; i64 operands, each 32-bit value
    # extended by its type, pread64's 64-bit offset whole in r10
    d = _write(tmp_path, ["x32"], ["pread64", "read", "syscall6"])
    reps = _verify(d)
    assert len(reps) == 3 and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


def test_x32_wide_argument_truncated_fails(rustc, tmp_path):
    rep = _broken(tmp_path, "x32", lambda t: t.replace("pos as i64", "pos as u32 as i64", 1), "pread64")
    assert not rep.ok and any("(64-bit) in r10" in p for p in rep.problems), rep.problems


def test_mipsn32_not_written_without_a_rustc_target(tmp_path, capsys):
    # rustc has no MIPS n32 target: named, refused in one line (exit 2); every
    # architecture: left out, and stubgen list says why
    from stubgen.cli import main

    assert main(["generate", "-d", "rust", "-a", "mipsn32", "-o", str(tmp_path / "n")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dialect rust cannot be written for mipsn32: rustc has no target" in err, err
    assert not (tmp_path / "n").exists()
    stubs = stubgen.generate(["read"], dialects=["rust"])
    assert {s.arch for s in stubs} and "mipsn32" not in {s.arch for s in stubs} and "x32" in {s.arch for s in stubs}
    assert main(["list"]) == 0
    assert "mipsn32: not written: rustc has no target for MIPS n32" in capsys.readouterr().out


def test_crash_and_ignore_policies_verify(rustc, tmp_path):
    d = _write(tmp_path / "c", ["arm64"], ["read"], policy="crash")
    e = _write(tmp_path / "i", ["arm64"], ["read"], policy="ignore")
    reps = _verify(d) + _verify(e)
    assert len(reps) == 2 and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


def test_without_rustc_not_verified(tmp_path, monkeypatch):
    d = _write(tmp_path, ["amd64"], ["madvise"])
    monkeypatch.setenv("STUBGEN_RUSTC", str(tmp_path / "no-such-rustc"))
    (rep,) = _verify(d)
    assert not rep.ok and not rep.runs and any("rustc not found" in u for u in rep.unverified), rep.describe()


def _broken(tmp_path, arch, edit, syscall="read"):
    d = _write(tmp_path, [arch], [syscall])
    return broken(d, d / "rust" / f"stubs_{arch}.rs", f"fn sys_{syscall}(", edit, f"sys_{syscall}")


def test_missing_kernel_clobbers_fail(rustc, tmp_path):
    rep = _broken(tmp_path, "amd64", lambda t: t.replace('lateout("rcx") _,', "", 1).replace('lateout("r11") _,', "", 1))
    assert not rep.ok and rep.problems


def test_r11_style_live_value_fails(rustc, tmp_path):
    # MIPS n64: the kernel may change t2 ($14); the kept-registers caller keeps a value there
    rep = _broken(tmp_path, "mips64", lambda t: t.replace('lateout("$14") _,', "", 1))
    assert not rep.ok and any("kept registers" in p for p in rep.problems), rep.problems


def test_mips_at_not_saved_fails(rustc, tmp_path):
    # rustc cannot name at ($1), yet LLVM keeps values in it: without the save inside the
    # asm, the kernel's change of at reaches a value the caller keeps
    def unsave(t):
        return (t.replace('".set noat\\n\\tmove {save_at}, $1",', "", 1)
                 .replace('"move $1, {save_at}\\n\\t.set at",', "", 1).replace("save_at = out(reg) _,", "", 1))

    rep = _broken(tmp_path, "mipsle", unsave)
    assert not rep.ok and rep.problems


def test_swapped_input_register_fails(rustc, tmp_path):
    def swap(t):
        return t.replace('in("rdi")', 'in("TMP")', 1).replace('in("rsi")', 'in("rdi")', 1).replace('in("TMP")', 'in("rsi")', 1)

    rep = _broken(tmp_path, "amd64", swap)
    assert not rep.ok and rep.problems


def test_nomem_fails(rustc, tmp_path):
    # read() writes its buffer: an asm! that says nomem lets the caller read it from a register
    rep = _broken(tmp_path, "arm64", lambda t: t.replace("options(nostack", "options(nomem, nostack", 1))
    assert not rep.ok and any("nomem" in p for p in rep.problems), rep.problems


def test_mutants_killed(rustc):
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=["madvise"], arches=["amd64"], dialects=["rust"])[0]
    broken = dict(mutants(stub))
    assert {"clobber_dropped", "swap_args", "memory_dropped"} <= set(broken)
    for kind in ("clobber_dropped", "swap_args", "memory_dropped", "number"):
        rep = check_mutant(stub, broken[kind])
        assert not rep.ok and rep.problems, kind


def test_noreturn_wrapper_without_its_stop_fails(rustc):
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=["exit_group"], arches=["riscv64"], dialects=["rust"])[0]
    broken = dict(mutants(stub))
    rep = check_mutant(stub, broken["check_removed"])
    assert not rep.ok and rep.problems, rep.describe()


def test_readme_example(rustc, tmp_path):
    # README, "Inline assembly in Rust": the no_std crate and its build command, run
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Inline assembly in Rust (-d rust)"):]
    crate = re.search(r"```rust\n(.*?)\n```", section, re.S).group(1)
    build = re.search(r"\n    (stubgen generate -d rust .*)\n", section).group(1)
    (tmp_path / "hello.rs").write_text(crate + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stubgen").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m stubgen "$@"\n')
    (bin_dir / "stubgen").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
    r = subprocess.run(["bash", "-c", build], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    if os.uname().machine == "x86_64":  # the block generates for amd64: run it where it runs
        run = subprocess.run([str(tmp_path / "hello")], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and run.stdout == "hello from core::arch::asm!\n"


# The real kernel (natively or under qemu-user): a no_std program of the generated
# wrappers, compiled by rustc in the #![no_core] crate and linked by zig cc. It writes,
# takes close(-1)'s error path, makes a six-argument call (mmap2 or mmap), and ends with
# exit_group, whose wrapper never returns. Exit code 0 and "ok" on stdout.
PROGRAM = '''
#[path = "{module}"]
pub mod stubs;

#[no_mangle]
pub extern "C" fn _start() -> ! {{
    let msg: [u8; 3] = [b'o', b'k', b'\\n'];
    let mut code: i32 = 0;
    unsafe {{
        if stubs::sys_write(1, &msg as *const [u8; 3] as *const core::ffi::c_void, 3) != 3 {{ code = 1; }}
        if stubs::sys_close(-1) != -9 {{ code = 2; }}
        {six}
        stubs::sys_exit_group(code)
    }}
}}
'''


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ["amd64", "arm64", "mipsle", "ppc64le"])
def test_real_kernel(rustc, arch, tmp_path):
    import os
    import platform
    import subprocess
    import sys

    from stubgen import tables
    from stubgen.pipeline.verify_rust import target
    from stubgen.realtools.frontend import PROGRAMS

    t = tables.load()
    a = t.arch(arch)
    native = platform.machine() == "x86_64" and arch == "amd64"
    qemu = None if native else need_tool(a.qemu_user, "qemu-user")
    six = next(m for m in ("mmap2", "mmap") if t.available(a, m))
    stubgen.write(stubgen.generate(syscalls=["write", "close", "exit_group", six], arches=[arch], dialects=["rust"]),
                  tmp_path)
    # MAP_PRIVATE | MAP_ANONYMOUS (MIPS's MAP_ANONYMOUS is 0x800)
    flags = 0x802 if arch.startswith("mips") else 0x22
    call = f"let p = stubs::sys_{six}(0, 4096, 3, {flags}, -1, 0); if p >= -4095 && p <= -1 {{ code = 3; }}"
    src = tmp_path / "prog.rs"
    src.write_text((PROGRAMS / "minicore.rs").read_text()
                   + PROGRAM.format(module=tmp_path / "rust" / f"stubs_{arch}.rs", six=call))
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    r = subprocess.run([rustc, "--edition", "2021", "--crate-type", "lib", "--emit=obj", "--target",
                        target("rust", arch), "-C", "opt-level=2", "-C", "panic=abort", "-C", "relocation-model=static",
                        "-o", str(tmp_path / "prog.o"), str(src)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[:2000]
    r = subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", a.engines.cc["target"], "-nostdlib", "-static",
                        "-Wl,--entry=_start", "-o", str(tmp_path / "prog"), str(tmp_path / "prog.o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[:2000]
    run = subprocess.run(([qemu] if qemu else []) + [str(tmp_path / "prog")], capture_output=True, text=True,
                         timeout=60)
    assert (run.returncode, run.stdout) == (0, "ok\n"), (run.returncode, run.stdout, run.stderr[:500])


def test_clobber_dropped_under_register_pressure_fails(rustc):
    # ppc without its r9-r12 clobbers: with thirty values kept, rustc spills the ones in
    # r9-r12 around the asm anyway; the caller that keeps eight values (checked on
    # success) holds some there, and loses them
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=["getpid"], arches=["ppc"], dialects=["rust"])[0]
    rep = check_mutant(stub, dict(mutants(stub))["clobber_dropped"])
    assert not rep.ok and any("checked on success" in p and "r9" in p for p in rep.problems), rep.problems


@pytest.mark.parametrize("line", ['#[path = "/etc/passwd"] mod x;', 'const X: &str = include_str!("/etc/passwd");',
                                  'core::arch::global_asm!(".incbin \\"/etc/passwd\\"");'])
def test_module_reading_other_files_is_refused(tmp_path, line):
    # a hand-edited module cannot make rustc read a file beside it: refused, never compiled
    d = _write(tmp_path, ["amd64"], ["madvise"])
    f = d / "rust" / "stubs_amd64.rs"
    f.write_text(f.read_text() + "\n" + line + "\n")
    (rep,) = _verify(d)
    assert not rep.ok and not rep.runs and any("is refused before rustc" in u for u in rep.unverified), rep.describe()


def test_list_says_what_rust_cannot(capsys):
    # stubgen list: the templates' limits (MIPS: unstable asm!, hi/lo unnamed); none on amd64
    from stubgen.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    rust = out[out.index("  rust "):out.index("error policies:")]
    assert "mips: unstable Rust" in rust and "mips64le: hi and lo" in rust
    assert "amd64:" not in rust.split("traps:")[1].split("\n", 1)[1]
