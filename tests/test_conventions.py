"""The verifier's own statement of the calling conventions (conventions.yaml): it
agrees with the tables where it should, it catches a table that places an argument
wrong, and it checks the C stack alignment at every call a stub makes."""
import shutil

import pytest
import yaml

import stubgen
from stubgen import resources, tables
from stubgen.verifier import Spec, Verifier, verify
from stubgen.verifier.conventions import call_frame, conventions, known_arches


def test_every_architecture_has_conventions_that_agree_with_the_tables():
    t = tables.load()
    assert sorted(t.arches) == known_arches()
    for arch in t.arches.values():
        conv = conventions(arch.name)
        assert conv.c.args == arch.c_abi.args
        assert conv.c.callee_saved == arch.c_abi.callee_saved
        assert conv.c.result == arch.c_abi.result
        assert conv.c.call_align == arch.c_abi.stack_align
        # no Go port (ppc): neither side states a Go frame
        assert (conv.go_abi0 is None) == (arch.go_abi0 is None), arch.name
        if arch.go_abi0 is not None:
            assert conv.go_abi0.fp == arch.go_abi0.fp


@pytest.mark.parametrize("arch, args, places", [
    # i386 cdecl: every word on the stack, 4 bytes each from sp+4, a 64-bit pair unpadded
    ("386", [(4, None), (4, None), (4, None), (8, None)], [[(None, 4)], [(None, 8)], [(None, 12)],
                                                          [(None, 16), (None, 20)]]),
    # AAPCS: a 64-bit argument starts at an even register, skipping r1
    ("arm", [(4, None), (8, None)], [[("r0", None)], [("r2", None), ("r3", None)]]),
    # AAPCS: no register left for a pair: an 8-aligned stack slot, and r3 stays unused
    ("arm", [(4, None), (4, None), (4, None), (8, None), (4, None)],
     [[("r0", None)], [("r1", None)], [("r2", None)], [(None, 0), (None, 4)], [(None, 8)]]),
    # SysV: the seventh word goes to the stack above the return address
    ("amd64", [(8, None)] * 7, [[(r, None)] for r in ("rdi", "rsi", "rdx", "rcx", "r8", "r9")] + [[(None, 8)]]),
])
def test_c_placement_from_the_psabi(arch, args, places):
    frame = call_frame(conventions(arch), tables.load().arch(arch).word_bytes, args, None)
    assert [[(p.reg, p.stack) for p in a.places] for a in frame.args] == places


def test_go_frame_offsets():
    # madvise(addr, n uintptr, flags int32) int32 on amd64: 0, 8, 16, result at 24, 28 bytes
    frame = call_frame(conventions("amd64"), 8, [(8, None), (8, None), (4, None)], 4)
    assert [a.fp for a in frame.args] == [0, 8, 16] and frame.result == (24, 4) and frame.argsize == 28
    # pread64 on 386: the int64 is 4-aligned, the result follows at 20
    frame = call_frame(conventions("386"), 4, [(4, None), (4, None), (4, None), (8, None)], 4)
    assert [a.fp for a in frame.args] == [0, 4, 8, 12] and frame.result == (20, 4)


def _tables_with(tmp_path, arch, **c_abi):
    root = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), root)
    doc = yaml.safe_load((root / f"{arch}.yaml").read_text())
    doc["c_abi"].update(c_abi)
    (root / f"{arch}.yaml").write_text(yaml.safe_dump(doc))
    return str(root)


@pytest.mark.parametrize("arch, syscall, change, words", [
    # an AAPCS pair taken to start at any register: ftruncate64's length read from r1:r2
    ("arm", "ftruncate64", {"pair_align": 1}, "argument 2 (32-bit part of a 64-bit value)"),
    # cdecl arguments taken to start 8 bytes above sp, not 4: every one read a word too high
    ("386", "pread64", {"stack_args": 8}, "argument 1 (32-bit)"),
])
def test_wrong_placement_in_the_tables_is_caught(tmp_path, arch, syscall, change, words):
    root = _tables_with(tmp_path, arch, **change)
    stubs = stubgen.generate(syscalls=[syscall], arches=[arch], dialects=["gnu"], tables=root)
    (rep,) = verify(stubs)
    assert not rep.ok
    assert any(words in p for p in rep.problems), rep.describe()
    # and the shipped tables' stub passes
    assert verify(stubgen.generate(syscalls=[syscall], arches=[arch], dialects=["gnu"]))[0].ok


@pytest.mark.parametrize("arch, edit, align", [
    ("amd64", lambda t: t.replace("\tsub\t$0x8, %rsp\n", "").replace("\tadd\t$0x8, %rsp\n", ""), 16),
    ("386", lambda t: t.replace("\tsub\t$0x4, %esp\n", "")
     .replace("\tadd\t$0x8, %esp\n", "\tadd\t$0x4, %esp\n"), 16),
    ("arm", lambda t: t.replace("push\t{r4, lr}", "push\t{lr}").replace("pop\t{r4, lr}", "pop\t{lr}"), 8),
])
def test_misaligned_call_is_caught(arch, edit, align):
    (s,) = stubgen.generate(arches=[arch], dialects=["gnu"], policy="errno")
    text = edit(s.text)
    assert text != s.text
    rep = Verifier().check(text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy))
    assert not rep.ok
    found = [p for p in rep.problems if not p.startswith("seen at the trap")]
    assert found and all(f"not a multiple of {align}" in p for p in found), rep.describe()
