"""The C dialect (-d c): inline-assembly headers generated from the tables and verified
as compiled code (callers built by zig cc, checked as machine code under the fake
kernel). Broken wrappers, each a hand edit of a generated header, must fail."""
from __future__ import annotations

import subprocess
import sys

import pytest
from inline_support import broken, write
from inline_support import verify as _verify

import stubgen
from stubgen.pipeline.verify_header import check_header_specs
from stubgen.verifier import llvm, manifest_specs

pytestmark = pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")

SAMPLE = ["madvise", "read", "write", "exit", "syscall6"]


def _write(tmp_path, arches, syscalls=SAMPLE, **kw):
    return write(tmp_path, "c", arches, syscalls, **kw)


def test_not_written_by_default():
    # generate without -d keeps its output: the C dialect is written only on request
    assert {s.dialect for s in stubgen.generate(arches=["amd64"])} == {"plan9", "gnu"}


def test_wrapper_shape(tmp_path):
    text = (_write(tmp_path, ["amd64"]) / "c" / "stubs_amd64.h").read_text()
    body = text[text.index("sys_madvise("):]
    body = body[:body.index("\n}")]
    # the kernel's clobbers come from the tables (kernel.clobbers), with memory and flags
    assert '"rcx", "r11", "cc", "memory"' in body
    assert 'register long _sg_r10' not in body  # madvise takes three arguments
    assert "__attribute__((__noreturn__)) void sys_exit" in text
    assert all(f"stubgen_syscall{n}(" in text for n in range(7))


def _c_arches():
    from stubgen import dialects
    from stubgen.tables import load

    d = dialects.dialect("c")
    return [a.name for a in load().arches.values() if d.has_arch(a.name) and (a.engines.cc or {}).get("target")]


# Every architecture with a C dialect and a compiler target: the whole header (every
# syscall's wrapper) as C99, C11 and C++17, with every warning an error.
ARCHES = _c_arches()
STDS = {"c99": ["-x", "c", "-std=c99"], "c11": ["-x", "c", "-std=c11"], "c++17": ["-x", "c++", "-std=c++17"]}


def _compile(directory, arch, std, opt="-O2"):
    from stubgen.tables import load

    t = load().arch(arch).engines.cc["target"]
    src = directory / "c" / f"use_{arch}.c"
    src.write_text('#include "stubs.h"\n'
                   "long use(void *p);\n"
                   "long use(void *p) { return sys_madvise(p, 4096, 4) + sys_read(0, p, 1) + sys_write(1, p, 1)"
                   " + stubgen_syscall6(1, 2, 3, 4, 5, 6, 7); }\n"
                   "void stop(int c);\nvoid stop(int c) { sys_exit(c); }\n")
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", t, *STDS[std], "-Wall", "-Wextra", "-Werror",
           "-pedantic", "-Wno-option-ignored", opt, "-c", str(src), "-o", str(src.with_suffix(".o"))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{arch} {std} {opt}: {r.stderr[:2000]}"


def test_every_architecture_has_a_compiled_header():
    # the list below is every C architecture: a new one cannot skip the compile test
    assert len(ARCHES) >= 16 and {"amd64", "ppc", "riscv32", "thumb"} <= set(ARCHES)


@pytest.mark.parametrize("arch", ARCHES)
def test_compiles_pedantic_everywhere(tmp_path, arch):
    d = _write(tmp_path, [arch], "all")
    for std in STDS:
        _compile(d, arch, std)
    if arch in ("amd64", "arm"):
        for opt in ("-O0", "-Os"):
            _compile(d, arch, "c99", opt)


def test_generated_wrappers_verify(tmp_path):
    d = _write(tmp_path, ["amd64", "mips"], ["madvise", "exit", "syscall6"])
    reps = _verify(d)
    assert reps and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


def _broken(tmp_path, arch, edit, policy="raw"):
    d = _write(tmp_path, [arch], ["madvise"], policy=policy)
    return broken(d, d / "c" / f"stubs_{arch}.h", "sys_madvise(", edit, "sys_madvise")


def test_missing_kernel_clobbers_fail(tmp_path):
    rep = _broken(tmp_path, "amd64", lambda t: t.replace('"rcx", "r11", ', "", 1))
    assert not rep.ok and rep.problems


def test_r11_style_live_value_fails(tmp_path):
    # MIPS n64: the kernel may change t2 ($14); a caller keeps a value there
    rep = _broken(tmp_path, "mips64", lambda t: t.replace('"$14", ', "", 1))
    assert not rep.ok and rep.problems


def test_swapped_input_register_fails(tmp_path):
    def swap(t):
        t = t.replace('__asm__("rdi")', '__asm__("TMP")', 1).replace('__asm__("rsi")', '__asm__("rdi")', 1)
        return t.replace('__asm__("TMP")', '__asm__("rsi")', 1)

    rep = _broken(tmp_path, "amd64", swap)
    assert not rep.ok and rep.problems


def test_missing_memory_clobber_fails(tmp_path):
    # the kernel writes the buffer of read(): without "memory" a caller may read it from a register
    rep = _broken(tmp_path, "arm64", lambda t: t.replace(', "memory");', ");", 1))
    assert not rep.ok and any('"memory"' in p for p in rep.problems)


def test_errno_policy(tmp_path):
    d = _write(tmp_path, ["amd64"], ["madvise"], policy="errno")
    assert "#include <errno.h>" in (d / "c" / "stubs_amd64.h").read_text()
    reps = _verify(d)
    assert reps and all(r.ok and r.emulated for r in reps), [r.describe() for r in reps if not r.ok]


def test_errno_of_the_wrong_sign_fails(tmp_path):
    rep = _broken(tmp_path, "amd64", lambda t: t.replace("errno = (int)-_sg_ret;", "errno = (int)_sg_ret;", 1),
                  "errno")
    assert not rep.ok and rep.problems


def test_mutants_killed():
    # the mutator's breaks of a C wrapper: a clobber dropped, input registers swapped,
    # memory dropped (templates/c/amd64.lower.yaml, and the swapped frame)
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=["madvise"], arches=["amd64"], dialects=["c"])[0]
    broken = dict(mutants(stub))
    assert {"clobber_dropped", "swap_args", "memory_dropped"} <= set(broken)
    for kind in ("clobber_dropped", "swap_args", "memory_dropped"):
        rep = check_mutant(stub, broken[kind])
        assert not rep.ok and rep.problems, kind


def _mutant_report(syscall, arch, kind, policy="raw"):
    from stubgen.pipeline.mutants import mutants
    from stubgen.pipeline.verify_header import check_mutant

    stub = stubgen.generate(syscalls=[syscall], arches=[arch], dialects=["c"], policy=policy)[0]
    broken = dict(mutants(stub))
    assert kind in broken, sorted(broken)
    return check_mutant(stub, broken[kind])


def test_noreturn_wrapper_without_its_stop_fails():
    # exit_group's wrapper with the __builtin_trap() after the trap removed: compiled
    # callers are machine code, yet stubgen wrote the wrapper, so its promise to stop
    # should the kernel come back holds (Choice.own -> Spec.own_policy)
    rep = _mutant_report("exit_group", "amd64", "check_removed")
    assert not rep.ok and any("never returns" in p or "stopping" in p for p in rep.problems), rep.problems


def test_errno_check_removed_on_a_call_that_cannot_fail_fails():
    # getpid cannot fail, so another runtime's wrapper needs no error path; stubgen's
    # errno wrapper promises one all the same, and the kernel's errors are injected
    rep = _mutant_report("getpid", "amd64", "check_removed", "errno")
    assert not rep.ok and rep.problems


def test_clobber_dropped_behind_an_errno_call_fails():
    # mips64 errno wrapper without its numbered clobbers: the errno path's call makes the
    # kept-registers caller hold every value in callee-saved registers; the caller that
    # checks its few values on success only holds them in the kernel's clobbers
    rep = _mutant_report("read", "mips64", "clobber_dropped", "errno")
    assert not rep.ok and any("checked on success" in p for p in rep.problems), rep.problems


def test_ppc64_callers_compile(tmp_path):
    # LLVM's ELF V1 has only position-independent code (arch/ppc64.yaml cc.flags: -fpic
    # after the callers' -fno-pic), and zig ships no C library headers for it (the
    # verifier's fallback <errno.h>): an errno wrapper is compiled and checked, not failed
    d = _write(tmp_path, ["ppc64"], ["read"], policy="errno")
    (rep,) = _verify(d)
    assert rep.ok, rep.describe()
    assert rep.runs or rep.not_run, rep.describe()


# --- wide (64-bit) arguments on a 32-bit architecture --------------------------------

def _pread64(tmp_path, arch, edit=None):
    d = _write(tmp_path, [arch], ["pread64"])
    h = d / "c" / f"stubs_{arch}.h"
    if edit is not None:
        text = h.read_text()
        new = edit(text)
        assert new != text, "the edit changed nothing"
        h.write_text(new)
    (rep,) = _verify(d)
    return rep


def test_wide_argument_verified_on_a_32bit_arch(tmp_path):
    # pread64's 64-bit offset on ARM EABI: the callers take it as a long long (the C ABI's
    # r2:r3 or stack pair), the kernel must see it in r4:r5 (the verifier's linux_abi.yaml)
    rep = _pread64(tmp_path, "arm")
    assert rep.ok and rep.emulated and rep.runs and not rep.not_run, rep.describe()


def test_wide_argument_halves_swapped_fails(tmp_path):
    def swap(t):
        t = t.replace("(pos) >> 0)", "(pos) >> HI)", 1).replace("(pos) >> 32)", "(pos) >> 0)", 1)
        return t.replace("(pos) >> HI)", "(pos) >> 32)", 1)

    rep = _pread64(tmp_path, "arm", swap)
    assert not rep.ok and any("32-bit part of a 64-bit value" in p for p in rep.problems), rep.problems


def test_wide_argument_in_one_register_where_long_is_narrower(tmp_path):
    # MIPS n32: pread64's 64-bit offset travels in one 64-bit register (a3), but C's long
    # is 4 bytes: the wrapper's register variable is a long long, or the kernel would see
    # the offset's low half (the verifier's conventions: n32's c.long_bytes)
    rep = _pread64(tmp_path, "mipsn32")
    assert rep.ok and rep.emulated and rep.runs and not rep.not_run, rep.describe()


def test_wide_argument_in_a_long_register_variable_fails(tmp_path):
    # the template before the fix: the offset held in a (4-byte) long register variable
    rep = _pread64(tmp_path, "mipsn32", lambda t: t.replace("register long long _sg_a3", "register long _sg_a3", 1)
                   .replace("(long long)(pos)", "(long)(pos)", 1))
    assert not rep.ok and any("(64-bit) in a3" in p for p in rep.problems), rep.problems


def test_x32_wrappers_widen_by_type(tmp_path):
    # x32: C's long and pointers are 4 bytes in registers whose upper half the ABI leaves
    # undefined; every register variable is a long long, a pointer zero-extended
    rep = _pread64(tmp_path, "x32")
    assert rep.ok and rep.emulated and rep.runs and not rep.not_run, rep.describe()


def test_x32_pointer_sign_extended_fails(tmp_path):
    rep = _pread64(tmp_path, "x32", lambda t: t.replace("(long long)(unsigned long)(buf)", "(long long)(long)(buf)", 1))
    assert not rep.ok and any("in rsi" in p for p in rep.problems), rep.problems


def test_result_register_left_input_only_fails():
    # the clobber_dropped mutant of an architecture whose kernel changes only the result
    # register (templates/c/arm.lower.yaml): r0's in-out operand turned input-only
    rep = _mutant_report("read", "arm", "clobber_dropped")
    assert not rep.ok and any("result register r0" in p for p in rep.problems), rep.problems


def test_units_on_the_pool_give_the_same_verdicts(tmp_path, monkeypatch):
    # the header's units go to parallel.py's workers; one unit per two wrappers here,
    # so a small sample makes several units, and the verdicts are those of one process
    import os

    from stubgen.pipeline import parallel, verify_header

    d = _write(tmp_path, ["amd64"], ["madvise", "read", "getpid", "exit"])
    specs = manifest_specs(d)
    monkeypatch.setattr(verify_header, "PER_UNIT", 2)
    workers = set()
    real = parallel.run_chunks

    def spy(*a, **kw):
        for o in real(*a, **kw):
            workers.add(o.worker)
            yield o

    monkeypatch.setattr(parallel, "run_chunks", spy)
    serial = [r.describe() for r, _ in check_header_specs(d, specs, jobs=1)]
    assert not workers
    pooled = [r.describe() for r, _ in check_header_specs(d, specs, jobs=2)]
    assert workers and os.getpid() not in workers
    assert pooled == serial and len(serial) == len(specs)


def test_riscv_memory_dropped_with_the_whole_clobber_list_fails():
    # RISC-V has no "cc": "memory" is the list's only entry, and its mutant drops the list
    rep = _mutant_report("read", "riscv64", "memory_dropped")
    assert not rep.ok and any('"memory"' in p for p in rep.problems), rep.problems
