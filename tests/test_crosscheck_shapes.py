"""The real kernel on other argument shapes than madvise's (GNU stubs from a static C
program, Plan 9 stubs from a Go program; natively or under qemu-user): a six-argument
call, a 64-bit pair, and a call that never returns (exit_group's status seen by the
parent). A stub with its offset's halves swapped must fail the pair check."""
import dataclasses

import pytest
from crosscheck_support import ARCHES, require

import stubgen
from stubgen import tables
from stubgen.dialects import dialect
from stubgen.generator.stubs import render_stub
from stubgen.realtools import crosscheck

SHAPES = list(crosscheck.SHAPES)
CALLS = ["madvise", "pread64", "mmap", "mmap2", "exit_group"]


def _generate(tmp_path, arch, policy="raw", dialects=("gnu",)):
    t = tables.load()
    stubs = stubgen.generate([c for c in CALLS if t.available(t.arch(arch), c)], [arch], list(dialects), policy)
    stubgen.write(stubs, tmp_path / "out")
    return tmp_path / "out", stubs


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ARCHES)
def test_shapes_on_the_kernel(tmp_path, arch):
    t = tables.load()
    a = t.arch(arch)
    if crosscheck.six_argument_mmap(t, a) is None:
        pytest.skip(f"{arch} has no six-argument mmap or mmap2, which the shapes program is built around")
    out, _ = _generate(tmp_path, arch, dialects=("gnu", "plan9"))
    rows = {(r.check, r.dialect): r for r in crosscheck.run(out, checks=SHAPES, work=tmp_path / "work")}
    assert "page 1 reads 0x5a" in require(rows["kernel six args", "gnu"]).detail
    assert "marker read back: 1" in require(rows["kernel pair", "gnu"]).detail
    assert "want exit 42" in require(rows["kernel noreturn", "gnu"]).detail
    assert "page 1 reads 90, 90" in require(rows["kernel six args", "plan9"]).detail
    assert 'read back "stubgen-pair"' in require(rows["kernel pair", "plan9"]).detail
    assert "child exit status 42" in require(rows["kernel noreturn", "plan9"]).detail


@pytest.mark.crosscheck
def test_noreturn_under_a_policy_without_result(tmp_path):
    out, _ = _generate(tmp_path, "amd64", "ignore")
    rows = {r.check: r for r in crosscheck.run(out, checks=SHAPES, work=tmp_path / "work")}
    require(rows["kernel noreturn"])
    assert rows["kernel pair"].status == crosscheck.SKIP and "returns no result" in rows["kernel pair"].detail


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ["386", "arm"])
def test_swapped_halves_fail_on_the_kernel(tmp_path, arch):
    out, stubs = _generate(tmp_path, arch)
    (s,) = [s for s in stubs if s.syscall == "pread64"]
    f = s._context.frame
    parts = [p for a in f.args for p in a.parts]
    lo, hi = parts[3], parts[4]  # the offset's halves (i386: poslo, poshi; arm: pos in r4:r5)
    swapped = {id(lo): dataclasses.replace(lo, kreg=hi.kreg), id(hi): dataclasses.replace(hi, kreg=lo.kreg)}
    args = tuple(dataclasses.replace(a, parts=tuple(swapped.get(id(p), p) for p in a.parts)) for a in f.args)
    ctx = dataclasses.replace(s._context, frame=dataclasses.replace(f, args=args))
    broken = render_stub(dialect("gnu").module(arch), ctx).strip("\n")
    assert broken != s.text
    path = out / "gnu" / f"stubs_linux_{arch}.S"
    path.write_text(path.read_text().replace(s.text, broken))
    rows = {r.check: r for r in crosscheck.run(out, checks=["kernel pair"], work=tmp_path / "work")}
    r = rows["kernel pair"]
    if r.status == crosscheck.SKIP:
        require(r)
    assert r.status == crosscheck.FAIL, r.detail
