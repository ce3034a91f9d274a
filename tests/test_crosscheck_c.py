"""The C dialect's headers (-d c) on the real kernel (natively or under qemu-user): a
program that includes the header, its wrappers inlined, makes madvise's valid call and
its error path, a six-argument call, a 64-bit pair and a call that never returns, the
same checks as the GNU stubs'. A header with its pair's halves swapped must fail."""
import pytest
from crosscheck_support import require

import stubgen
from stubgen import tables
from stubgen.realtools import crosscheck

CHECKS = ["kernel valid", "kernel misaligned", *crosscheck.SHAPES]
CALLS = ["madvise", "pread64", "mmap", "mmap2", "exit_group"]


def _generate(tmp_path, arch, policy):
    t = tables.load()
    stubs = stubgen.generate([c for c in CALLS if t.available(t.arch(arch), c)], [arch], ["c"], policy)
    stubgen.write(stubs, tmp_path / "out")
    return tmp_path / "out"


# native amd64, 32-bit arm under qemu (a register pair, r7 moved), mips64 n64 and mipsn32 under qemu
@pytest.mark.crosscheck
@pytest.mark.parametrize("arch,policy", [("amd64", "errno"), ("arm", "raw"), ("mips64", "errno"), ("mipsn32", "errno")])
def test_c_header_on_the_kernel(tmp_path, arch, policy):
    out = _generate(tmp_path, arch, policy)
    rows = {r.check: r for r in crosscheck.run(out, checks=CHECKS, work=tmp_path / "work") if r.dialect == "c"}
    assert set(rows) == set(CHECKS), sorted(rows)
    assert "dropped by" in require(rows["kernel valid"]).detail
    want = "errno 22 (want 22)" if policy == "errno" else "want -22"
    assert want in require(rows["kernel misaligned"]).detail
    assert "page 1 reads 0x5a" in require(rows["kernel six args"]).detail
    assert "marker read back: 1" in require(rows["kernel pair"]).detail
    assert "want exit 42" in require(rows["kernel noreturn"]).detail


@pytest.mark.crosscheck
def test_swapped_halves_in_the_header_fail(tmp_path):
    out = _generate(tmp_path, "arm", "raw")
    h = out / "c" / "stubs_arm.h"
    text = h.read_text()
    lo, hi = "(unsigned long long)(pos) >> 0)", "(unsigned long long)(pos) >> 32)"
    assert lo in text and hi in text
    h.write_text(text.replace(lo, "@LO@").replace(hi, lo).replace("@LO@", hi))
    (r,) = [r for r in crosscheck.run(out, checks=["kernel pair"], work=tmp_path / "work") if r.dialect == "c"]
    if r.status == crosscheck.SKIP:
        require(r)
    assert r.status == crosscheck.FAIL, r.detail
