"""The Zig dialect's files (-d zig) on the real kernel (natively or under qemu-user): the
C rows' programs, linked with zig build-obj's C-ABI callers of the Zig wrappers, make
madvise's valid call and its error path, a six-argument call, a 64-bit pair and a call
that never returns. A file with its pair's halves swapped must fail."""
import pytest
from crosscheck_support import assert_kernel_rows, require, swap_halves

import stubgen
from stubgen import tables
from stubgen.realtools import crosscheck

CHECKS = ["kernel valid", "kernel misaligned", *crosscheck.SHAPES]
CALLS = ["madvise", "pread64", "mmap", "mmap2", "exit_group"]


def _generate(tmp_path, arch, policy="raw"):
    t = tables.load()
    stubs = stubgen.generate([c for c in CALLS if t.available(t.arch(arch), c)], [arch], ["zig"], policy)
    stubgen.write(stubs, tmp_path / "out")
    return tmp_path / "out"


# native amd64; MIPS o32 under qemu (arguments 5 and 6 on the stack, the pair in halves)
@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ["amd64", "mips"])
def test_zig_file_on_the_kernel(tmp_path, arch):
    out = _generate(tmp_path, arch)
    rows = {r.check: r for r in crosscheck.run(out, checks=CHECKS, work=tmp_path / "work") if r.dialect == "zig"}
    assert set(rows) == set(CHECKS), sorted(rows)
    assert_kernel_rows(rows)


@pytest.mark.crosscheck
def test_swapped_halves_in_the_zig_file_fail(tmp_path):
    out = _generate(tmp_path, "arm")
    swap_halves(out / "zig" / "stubs_arm.zig", "@bitCast(pos)) >> 0))", "@bitCast(pos)) >> 32))")
    (r,) = [r for r in crosscheck.run(out, checks=["kernel pair"], work=tmp_path / "work") if r.dialect == "zig"]
    if r.status == crosscheck.SKIP:
        require(r)
    assert r.status == crosscheck.FAIL, r.detail
