"""Shared by the cross-check tests: one `stubgen crosscheck` run per error policy and
architecture per test process, so each program is built once and every test reads its
row. Per architecture, not per policy: under pytest-xdist each worker that reads a row
runs the crosscheck it needs, and a run of every architecture in each worker doubled
the suite's slowest work."""
import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import tool_missing

import stubgen
from stubgen.realtools import crosscheck

ARCHES = ["386", "amd64", "arm", "arm64", "riscv64", "mips", "mipsle", "mips64le", "mips64", "s390x", "ppc64le",
          "ppc64"]
# Plan 9 has no errno policy (Go code has no errno); the GNU dialect offers all four.
POLICIES = {"plan9": ["raw", "crash", "ignore"], "gnu": ["raw", "crash", "ignore", "errno"]}
# go vet of the plain package is test_go_toolchain.py's job.
CHECKS = [c for c in crosscheck.CHECKS if c != "go vet"]

_ROOT = Path(tempfile.mkdtemp(prefix="stubgen-crosscheck-tests-"))
atexit.register(shutil.rmtree, _ROOT, True)


@functools.cache
def generated(policy: str, arch: str) -> Path:
    """madvise for arch under policy, in every dialect that offers the policy."""
    out = _ROOT / f"{policy}-{arch}"
    dialects = [d for d, ps in POLICIES.items() if policy in ps]
    stubgen.write(stubgen.generate(arches=[arch], dialects=dialects, policy=policy), out)
    return out


@functools.cache
def results(policy: str, arch: str) -> dict:
    """{(check, arch, dialect): Result} for arch's stubs of one policy."""
    rs = crosscheck.run(generated(policy, arch), checks=CHECKS, work=_ROOT / f"work-{policy}-{arch}")
    return {(r.check, r.arch, r.dialect): r for r in rs}


def skipped(result):
    """A row that skipped: the test skips where a tool to install is missing (fails in
    CI), and fails where the row could not run for any other reason."""
    msg = f"{result.check} {result.arch} {result.dialect}: {result.detail}"
    if not result.missing:
        pytest.fail(msg)
    tool_missing(msg)


def require(result):
    """A skipped row: skipped(); a failed row fails the test."""
    assert result is not None, "no such row"
    if result.status == crosscheck.SKIP:
        skipped(result)
    assert result.status == crosscheck.PASS, f"{result.check} {result.arch} {result.dialect} " \
                                             f"({result.policy}): {result.detail}"
    return result


def assert_kernel_rows(rows: dict) -> None:
    """The real-kernel rows of an inline-assembly dialect ({check: Result}), each passed
    with what its program printed."""
    assert "dropped by" in require(rows["kernel valid"]).detail
    assert "want -22" in require(rows["kernel misaligned"]).detail
    assert "page 1 reads 0x5a" in require(rows["kernel six args"]).detail
    assert "marker read back: 1" in require(rows["kernel pair"]).detail
    assert "want exit 42" in require(rows["kernel noreturn"]).detail


def swap_halves(path: Path, lo: str, hi: str) -> None:
    """A wrapper file with its 64-bit pair's halves swapped (both texts must be there)."""
    text = path.read_text()
    assert lo in text and hi in text
    path.write_text(text.replace(lo, "@LO@").replace(hi, lo).replace("@LO@", hi))
