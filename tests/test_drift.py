"""The shipped numbers against the PyPI package system-calls, which is built
independently (from kernel headers, by another author). Every name and number must
agree, except the differences listed in KNOWN."""
import os

import pytest

from stubgen import tables

# stubgen architecture -> system-calls architecture, from the tables (system_calls)
ARCHES = {a.name: a.system_calls for a in tables.load().arches.values() if a.system_calls}

_OBSOLETE = ("obsolete (removed, never implemented or reserved): the kernel table keeps its number, "
             "system-calls leaves it out")
_SYNC_FILE_RANGE2 = ("341 is arm_sync_file_range in arch/arm/tools/syscall.tbl and sync_file_range2 in "
                     "the uapi header that system-calls reads")

# The one list of known differences: (architecture, syscall) -> why.
KNOWN = {
    **{("386", n): _OBSOLETE for n in (
        "break stty gtty ftime prof lock mpx ulimit uselib profil idle create_module get_kernel_syms bdflush "
        "afs_syscall _sysctl query_module nfsservctl getpmsg putpmsg vserver").split()},
    **{("amd64", n): _OBSOLETE for n in (
        "uselib _sysctl create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall "
        "tuxcall security vserver").split()},
    **{("arm", n): _OBSOLETE for n in "uselib bdflush _sysctl nfsservctl vserver".split()},
    ("arm64", "nfsservctl"): _OBSOLETE,
    ("riscv64", "nfsservctl"): _OBSOLETE,
    ("arm", "arm_sync_file_range"): _SYNC_FILE_RANGE2,
    ("arm", "sync_file_range2"): _SYNC_FILE_RANGE2,
    **{(a, n): _OBSOLETE for a in ("mips", "mipsle") for n in (
        "break unused18 unused28 stty gtty ftime prof lock mpx ulimit unused59 reserved82 unused84 uselib profil "
        "unused109 idle create_module get_kernel_syms bdflush afs_syscall unused150 _sysctl query_module "
        "nfsservctl getpmsg putpmsg reserved221 vserver").split()},
    **{("mips64le", n): _OBSOLETE for n in (
        "_sysctl create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall reserved177 "
        "reserved193 vserver").split()},
    **{("s390x", n): _OBSOLETE for n in (
        "uselib idle create_module get_kernel_syms bdflush afs_syscall _sysctl query_module nfsservctl getpmsg "
        "putpmsg").split()},
}


def drift(ours: dict, theirs: dict, known: dict) -> list[str]:
    """Every disagreement between two name -> number tables that known does not
    excuse, and every known difference that has gone away."""
    problems = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a is not None and b is not None:
            if a != b:  # a different number is never excused
                problems.append(f"{name}: {a} in the tables, {b} in system-calls")
            elif name in known:
                problems.append(f"{name}: listed as a known difference, but both say {b}; remove it from KNOWN")
        elif name not in known:
            problems.append(f"{name} {a}: only in the tables" if b is None else f"{name} {b}: only in system-calls")
    return problems


def _known(arch: str) -> dict:
    return {name: why for (a, name), why in KNOWN.items() if a == arch}


@pytest.fixture(scope="module")
def reference():
    try:
        import system_calls
    except ImportError:
        msg = "system-calls not installed: pip install system-calls (a test dependency)"
        if os.environ.get("STUBGEN_REQUIRE_TOOLS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    sc = system_calls.syscalls()
    return {arch: dict(sc.load_arch_table(theirs)) for arch, theirs in ARCHES.items()}


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_shipped_numbers_match_system_calls(reference, arch):
    ours = tables.load().arch(arch).numbers
    assert drift(ours, reference[arch], _known(arch)) == []


def test_drift_detects_a_change(reference):
    ours = dict(tables.load().arch("amd64").numbers)
    theirs = reference["amd64"]
    assert drift(ours, theirs, _known("amd64")) == []
    ours["madvise"] = 29
    del ours["read"]
    ours["bogus"] = 999
    assert drift(ours, theirs, _known("amd64")) == [
        "bogus 999: only in the tables", "madvise: 29 in the tables, 28 in system-calls",
        "read 0: only in system-calls"]
    # a known difference excuses a missing name, never a wrong number
    ours = dict(tables.load().arch("386").numbers, uselib=999)
    assert drift(ours, dict(reference["386"], uselib=86), _known("386")) == [
        "uselib: 999 in the tables, 86 in system-calls"]
    assert drift(dict(ours, uselib=86), dict(reference["386"], uselib=86), _known("386")) == [
        "uselib: listed as a known difference, but both say 86; remove it from KNOWN"]


def test_known_differences_are_explained():
    assert {a for a, _ in KNOWN} <= set(ARCHES)
    # every architecture the tables ship is compared
    assert set(ARCHES) == set(tables.load().arches)
    assert all(isinstance(why, str) and len(why) > 20 for why in KNOWN.values())


def test_shipped_tables_hold_the_whole_kernel_table():
    # Counts of Linux 7.1.5's tables for these ABIs; arm adds its 6 private calls; MIPS
    # numbers are __NR_Linux (o32 4000, n64 5000) + n.
    t = tables.load()
    assert {a: len(t.arch(a).numbers) for a in ARCHES} == {
        "386": 461, "amd64": 385, "arm": 424 + 6, "arm64": 327, "riscv64": 328,
        "mips": 445, "mipsle": 445, "mips64le": 375, "s390x": 390}
    assert {a: t.arch(a).numbers["madvise"] for a in ARCHES} == {
        "386": 219, "amd64": 28, "arm": 220, "arm64": 233, "riscv64": 233,
        "mips": 4218, "mipsle": 4218, "mips64le": 5027, "s390x": 219}
    assert {a: t.arch(a).numbers["rseq_slice_yield"] for a in ARCHES} == {
        "386": 471, "amd64": 471, "arm": 471, "arm64": 471, "riscv64": 471,
        "mips": 4471, "mipsle": 4471, "mips64le": 5471, "s390x": 471}
    assert t.arch("arm").numbers["get_tls"] == 0x0f0006
    for a in ARCHES:
        prov = t.arch(a).provenance
        assert prov["kernel"] == "7.1.5"
        kt = t.arch(a).kernel_table
        assert [s["path"] for s in prov["sources"]] == [kt["path"]] + ([kt["abis_from"]["path"]]
                                                                      if "abis_from" in kt else [])
        assert all(len(s["sha256"]) == 64 for s in prov["sources"])
