"""Issue 24: `thumb`, ARM EABI in Thumb-2 state. arm's kernel ABI and numbers, Thumb
encodings; r7 takes the number and is Thumb's frame pointer, so every stub saves and
restores it around the trap. Each fact is checked against the verifier's own statement,
and each check is fed a stub that gets it wrong."""
import shutil

import pytest
import yaml
from conftest import check_text, need_tool

import stubgen
from stubgen import resources, tables
from stubgen.realtools import tools
from stubgen.verifier import Verifier
from stubgen.verifier.kernel import linux_abi

# A deterministic sample: the calls that exercise each shape (stack arguments, a 64-bit
# pair in r4:r5, a number above 0xffff, the generic stub, noreturn), plus every 60th typed call.
SHAPES = ["madvise", "mmap2", "pread64", "cacheflush", "syscall6", "exit"]


def _sample():
    t = tables.load()
    arch = t.arch("thumb")
    every = [n for n in sorted(t.signatures) if t.available(arch, n)][::60]
    return SHAPES + [n for n in every if n not in SHAPES]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


def test_thumb_is_arms_kernel_abi_in_another_instruction_set():
    t = tables.load()
    thumb, arm = t.arch("thumb"), t.arch("arm")
    assert thumb.numbers == arm.numbers and thumb.kernel == arm.kernel and thumb.c_abi == arm.c_abi
    assert thumb.goarch == "" and thumb.go_abi0 is None and "Thumb" in thumb.go_absent
    abi = linux_abi("thumb")
    # the verifier's own statement: the 16-bit svc #0 (T1: 0xdf00), the number in r7
    assert [(o.size, o.mask, o.value) for o in abi.opcodes] == [(2, 0xFFFF, 0xDF00)]
    assert abi.number == thumb.kernel.number == "r7" and tuple(abi.args) == thumb.kernel.args
    assert thumb.engines.unicorn["entry_low_bit"] == 1
    assert thumb.c_condition == "defined(__arm__) && defined(__thumb2__)"


@pytest.mark.parametrize("policy", ["raw", "errno", "crash"])
def test_every_sampled_thumb_stub_runs_and_passes(verifier, policy):
    stubs = stubgen.generate(_sample(), ["thumb"], ["gnu"], policy)
    for s in stubs:
        assert ".thumb_func" in s.text and "r7}" in s.text, s.text  # a Thumb entry; r7 saved
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated, rep.describe()


def test_every_thumb_mutant_is_killed(verifier):
    from stubgen.pipeline.mutants import run as run_mutants

    stubs = [s for p in ("raw", "errno", "crash") for s in stubgen.generate(SHAPES, ["thumb"], ["gnu"], p)]
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.policy, s.syscall) for k, s, _ in survivors]
    killed = {k for (k, _, _), (n, _) in table.items() if n}
    assert {"number", "swap_args", "arg_offset", "callee_saved", "unbalanced", "check_removed", "check_inverted",
            "wrong_trap"} <= killed


@pytest.mark.parametrize("syscall", ["madvise", "pread64"])
def test_a_thumb_stub_that_clobbers_r7_fails(verifier, syscall):
    """The classic bug: the number loaded into r7 without saving the caller's r7 (its
    frame pointer)."""
    (s,) = stubgen.generate([syscall], ["thumb"], ["gnu"], "raw")
    saved = "{r4, r5, r7}" if syscall == "pread64" else "{r7}"
    kept = "{r4, r5}" if syscall == "pread64" else None
    broken = s.text
    for op in ("push", "pop"):
        broken = broken.replace(f"\t{op}\t{saved}\n", f"\t{op}\t{kept}\n" if kept else "")
    broken = "\n".join(ln for ln in broken.splitlines() if not (".cfi_" in ln and "r7" in ln))
    if kept:  # the stack arguments now sit one word nearer
        broken = broken.replace("[sp, #0xc]", "[sp, #0x8]").replace("[sp, #0x10]", "[sp, #0xc]")
    assert broken != s.text and "{r7}" not in broken
    rep = check_text(verifier, s, broken)
    assert rep.emulated and not rep.ok
    assert any("callee-saved r7" in p for p in rep.problems), rep.describe()


def test_a_stub_started_in_arm_state_is_refused(verifier, tmp_path):
    """Unicorn runs an even start address as ARM code whatever the mode: without the
    tables' entry_low_bit the Thumb bytes are read as ARM ones, and the run fails."""
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / "thumb.yaml"
    d = yaml.safe_load(p.read_text())
    del d["engines"]["unicorn"]["entry_low_bit"]
    p.write_text(yaml.safe_dump(d))
    (s,) = stubgen.generate(["madvise"], ["thumb"], ["gnu"], "raw", tables=str(tdir))
    rep = check_text(Verifier(tables=str(tdir)), s, s.text)
    assert not rep.ok, rep.describe()
    assert check_text(verifier, s, s.text).ok


def test_an_inverted_it_condition_fails(verifier):
    """crash: the store through zero sits in an IT block; the block's condition turned
    (its instructions' with it) crashes on success and returns on an error."""
    (s,) = stubgen.generate(["madvise"], ["thumb"], ["gnu"], "crash")
    broken = s.text.replace("\titt\thi\n\tmovhi\tr1, #0x0\n\tstrhi\tr1, [r1]\n",
                            "\titt\tls\n\tmovls\tr1, #0x0\n\tstrls\tr1, [r1]\n")
    assert broken != s.text
    rep = check_text(verifier, s, broken)
    assert rep.emulated and not rep.ok


def test_the_c_dialect_runs_in_thumb_state(verifier, tmp_path):
    """The header's callers are compiled for Thumb (zig cc's thumb target: it ignores
    -mthumb for an arm one), where r7 is the frame pointer, and the wrappers pass."""
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["madvise", "pread64", "exit"], ["thumb"], ["c"], "errno"), out)
    from stubgen import cli

    assert cli.main(["verify", str(out)]) == 0


def test_the_gnu_cross_gcc_compiles_thumb2():
    """Debian's armel gcc defaults to ARMv5TE, whose Thumb is Thumb-1 (no __thumb2__)."""
    need_tool("arm-linux-gnueabi-gcc", "gcc-arm-linux-gnueabi")
    assert tools.c_compiler("thumb")[1:] == ["-mthumb", "-march=armv7-a"]
    assert tools.c_compiler("arm")[1:] == []


@pytest.mark.crosscheck
@pytest.mark.parametrize("broken", [False, True])
def test_the_real_kernel_sees_r7_kept_and_catches_a_stub_that_loses_it(broken, tmp_path):
    """Under qemu-arm: the crosscheck's Thumb-2 caller loads known values into r4-r11 and
    calls sys_madvise; the stub's r7 save dropped, its caller's r7 comes back as the number."""
    from conftest import need_gnu_tool, need_real

    from stubgen.realtools import crosscheck

    need_gnu_tool("thumb", "gcc")
    stubgen.write(stubgen.generate(["madvise"], ["thumb"], ["gnu"], "raw"), tmp_path / "out")
    src = tmp_path / "out" / "gnu" / "stubs_linux_thumb.S"
    text = src.read_text()
    if broken:
        text = text.replace("\tpush\t{r7}\n", "").replace("\tpop\t{r7}\n", "")
        assert "{r7}" not in text
    asm = tmp_path / src.name
    asm.write_text(text)
    binary = crosscheck.build_c(asm, tmp_path / "out" / "gnu" / "stubs.h", "thumb", "sys_madvise", "raw",
                                "stubgen_errno", tmp_path / "madvise")
    proc, how = need_real(crosscheck.run_mode, binary, "thumb", "callee")
    status, detail = crosscheck.judge("callee-saved", "raw", proc, how)
    assert status == (crosscheck.FAIL if broken else crosscheck.PASS), detail
    if broken:
        assert "r7" in detail, detail
