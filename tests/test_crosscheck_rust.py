"""The Rust dialect's modules (-d rust) on the real kernel (natively or under qemu-user):
the C rows' programs, linked with rustc's C-ABI callers of the Rust wrappers (a no_core
crate for the module's target), make madvise's valid call and its error path, a
six-argument call, a 64-bit pair and a call that never returns. A module with its pair's
halves swapped must fail; without rustc the rows are skips naming it, never passes."""
import pytest
from crosscheck_support import assert_kernel_rows, require, swap_halves

import stubgen
from stubgen import tables
from stubgen.realtools import crosscheck

CHECKS = ["kernel valid", "kernel misaligned", *crosscheck.SHAPES]
CALLS = ["madvise", "pread64", "mmap", "mmap2", "exit_group"]


def _generate(tmp_path, arch, policy="raw"):
    t = tables.load()
    stubs = stubgen.generate([c for c in CALLS if t.available(t.arch(arch), c)], [arch], ["rust"], policy)
    stubgen.write(stubs, tmp_path / "out")
    return tmp_path / "out"


def _rows(out, work, checks=CHECKS):
    return {r.check: r for r in crosscheck.run(out, checks=checks, work=work) if r.dialect == "rust"}


# native amd64; MIPS o32 little-endian under qemu (arguments 5 and 6 on the stack, the
# pair in halves)
@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ["amd64", "mipsle"])
def test_rust_module_on_the_kernel(tmp_path, arch):
    rows = _rows(_generate(tmp_path, arch), tmp_path / "work")
    assert set(rows) == set(CHECKS), sorted(rows)
    assert_kernel_rows(rows)


@pytest.mark.crosscheck
def test_swapped_halves_in_the_rust_module_fail(tmp_path):
    out = _generate(tmp_path, "mipsle")
    swap_halves(out / "rust" / "stubs_mipsle.rs", "((pos as u64) >> 0)", "((pos as u64) >> 32)")
    r = _rows(out, tmp_path / "work", ["kernel pair"])["kernel pair"]
    if r.status == crosscheck.SKIP:
        require(r)
    assert r.status == crosscheck.FAIL, r.detail


def test_without_rustc_the_rows_skip_naming_it(tmp_path, monkeypatch):
    out = _generate(tmp_path, "amd64")
    monkeypatch.setenv("STUBGEN_RUSTC", "stubgen-no-such-rustc")
    rows = _rows(out, tmp_path / "work")
    assert set(rows) == set(CHECKS), sorted(rows)
    for r in rows.values():
        assert r.status == crosscheck.SKIP and "rustc" in r.missing, (r.check, r.status, r.detail)


@pytest.mark.crosscheck
def test_mips_error_flag_unnegated_in_the_rust_module_fails(tmp_path):
    """MIPS says failure in a3 and returns a positive errno: a wrapper that does not
    negate it returns +22 for the misaligned madvise."""
    out = _generate(tmp_path, "mipsle")
    f = out / "rust" / "stubs_mipsle.rs"
    text = f.read_text()
    start = text.index("fn sys_madvise(")
    negate = "let ret = if err != 0 { -ret } else { ret };"
    at = text.index(negate, start)
    f.write_text(text[:at] + "let ret = if err != 0 { ret } else { ret };" + text[at + len(negate):])
    r = _rows(out, tmp_path / "work", ["kernel misaligned"])["kernel misaligned"]
    if r.status == crosscheck.SKIP:
        require(r)
    assert r.status == crosscheck.FAIL, r.detail
    assert "want -22" in r.detail, r.detail
