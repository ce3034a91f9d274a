"""The shipped numbers against the PyPI package system-calls, which is built
independently (from kernel headers, by another author). Every name and number must
agree, except the differences listed in KNOWN."""
import re
from pathlib import Path

import pytest
from conftest import tool_missing

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
    **{("x32", n): _OBSOLETE for n in "getpmsg putpmsg afs_syscall tuxcall security".split()},
    **{("mipsn32", n): _OBSOLETE for n in (
        "_sysctl create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall reserved177 "
        "reserved193 vserver").split()},
    ("arm64", "nfsservctl"): _OBSOLETE,
    ("riscv64", "nfsservctl"): _OBSOLETE,
    ("riscv32", "nfsservctl"): _OBSOLETE,
    ("loong64", "nfsservctl"): _OBSOLETE,
    ("arm", "arm_sync_file_range"): _SYNC_FILE_RANGE2,
    ("arm", "sync_file_range2"): _SYNC_FILE_RANGE2,
    **{(a, n): _OBSOLETE for a in ("mips", "mipsle") for n in (
        "break unused18 unused28 stty gtty ftime prof lock mpx ulimit unused59 reserved82 unused84 uselib profil "
        "unused109 idle create_module get_kernel_syms bdflush afs_syscall unused150 _sysctl query_module "
        "nfsservctl getpmsg putpmsg reserved221 vserver").split()},
    **{(a, n): _OBSOLETE for a in ("mips64le", "mips64") for n in (
        "_sysctl create_module get_kernel_syms query_module nfsservctl getpmsg putpmsg afs_syscall reserved177 "
        "reserved193 vserver").split()},
    **{("s390x", n): _OBSOLETE for n in (
        "uselib idle create_module get_kernel_syms bdflush afs_syscall _sysctl query_module nfsservctl getpmsg "
        "putpmsg").split()},
    **{(a, n): _OBSOLETE for a in ("ppc64le", "ppc64", "ppc") for n in (
        "break stty gtty ftime prof lock mpx ulimit uselib profil idle create_module get_kernel_syms bdflush "
        "afs_syscall _sysctl query_module nfsservctl getpmsg putpmsg tuxcall").split()},
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


# Architectures that share another's kernel table (thumb: arm's, in another instruction set).
SAME_TABLE = {"thumb": "arm"}


def _known(arch: str) -> dict:
    return {name: why for (a, name), why in KNOWN.items() if a == SAME_TABLE.get(arch, arch)}


@pytest.fixture(scope="module")
def reference():
    try:
        import system_calls
    except ImportError:
        tool_missing("system-calls not installed: pip install system-calls (a test dependency)")
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
        "386": 461, "amd64": 385, "arm": 424 + 6, "thumb": 424 + 6, "arm64": 327, "riscv64": 328,
        "mips": 445, "mipsle": 445, "mips64le": 375, "mips64": 375, "s390x": 390, "ppc64le": 424, "ppc64": 424,
        "loong64": 324, "ppc": 452, "riscv32": 318, "x32": 374, "mipsn32": 399}
    assert {a: t.arch(a).numbers["madvise"] for a in ARCHES} == {
        "386": 219, "amd64": 28, "arm": 220, "thumb": 220, "arm64": 233, "riscv64": 233,
        "mips": 4218, "mipsle": 4218, "mips64le": 5027, "mips64": 5027, "s390x": 219, "ppc64le": 205,
        "ppc64": 205, "loong64": 233, "ppc": 205, "riscv32": 233, "x32": 0x40000000 + 28, "mipsn32": 6027}
    assert {a: t.arch(a).numbers["rseq_slice_yield"] for a in ARCHES} == {
        "386": 471, "amd64": 471, "arm": 471, "thumb": 471, "arm64": 471, "riscv64": 471,
        "mips": 4471, "mipsle": 4471, "mips64le": 5471, "mips64": 5471, "s390x": 471, "ppc64le": 471,
        "ppc64": 471, "loong64": 471, "ppc": 471, "riscv32": 471, "x32": 0x40000000 + 471, "mipsn32": 6471}
    assert t.arch("arm").numbers["get_tls"] == 0x0f0006
    for a in ARCHES:
        prov = t.arch(a).provenance
        assert prov["kernel"] == "7.1.5"
        kt = t.arch(a).kernel_table
        assert [s["path"] for s in prov["sources"]] == [kt["path"]] + ([kt["abis_from"]["path"]]
                                                                      if "abis_from" in kt else [])
        assert all(len(s["sha256"]) == 64 for s in prov["sources"])


# --- Argument counts against Go's own syscall wrappers ---------------------------------
# An independent source for the signatures: the zsyscall_linux_<goarch>.go files of the
# installed Go toolchain (package syscall, and the x/sys/unix vendored in cmd), generated
# by Go's mksyscall from its //sys lines, not from the kernel C this project imports. Each
# `Syscall6(SYS_PREAD64, fd, p, n, 0, off, off>>32)` says how many argument registers Go
# fills, padding included (arm's 0 before a pair) and trailing zeros excluded; ours is the
# highest kernel register our signature uses, plus one.

# The one list of known differences: (architecture, syscall) -> why.
ARG_COUNT_KNOWN = {
    **{(a, "gettimeofday"): "Go passes tz as a literal 0, which a count cannot tell from padding"
       for a in ("386", "arm", "arm64", "riscv64", "mips", "mipsle", "mips64le", "mips64", "s390x", "ppc64le",
                 "ppc64", "loong64")},
    **{(a, "settimeofday"): "Go passes tz as a literal 0, which a count cannot tell from padding"
       for a in ("386", "amd64", "arm", "arm64", "riscv64", "mips", "mipsle", "mips64le", "mips64", "s390x",
                 "ppc64le", "ppc64", "loong64")},
    **{(a, "ppoll"): "x/sys/unix passes sigsetsize as a literal 0 (no sigmask), which a count cannot tell "
       "from padding" for a in ("386", "amd64", "arm", "arm64", "riscv64", "mips", "mipsle", "mips64le", "mips64",
                                    "s390x", "ppc64le", "ppc64", "loong64")},
    **{(a, "epoll_pwait"): "Go's EpollWait is epoll_pwait with sigmask and sigsetsize as literal 0s, which a "
       "count cannot tell from padding" for a in ("arm64", "riscv64", "loong64")},
}

_GO_CALL = re.compile(r"\b(?:Raw)?Syscall6?(?:NoError)?\(SYS_(\w+),([^\n]*)\)\s*$", re.M)


def _go_args(text: str) -> list[str]:
    from stubgen.verifier.plan9 import _split_operands

    out = _split_operands(text)
    while out and out[-1] == "0":
        out.pop()
    return out


def go_counts(texts) -> dict[str, set[int]]:
    """syscall name -> the argument counts Go's wrappers pass it."""
    found: dict = {}
    for text in texts:
        for m in _GO_CALL.finditer(text):
            found.setdefault(m.group(1).lower(), set()).add(len(_go_args(m.group(2))))
    return found


def our_count(arch, sig) -> int:
    from stubgen.generator import layout

    frame = layout.plan(arch, sig, True)
    k = arch.kernel

    def slot(p) -> int:  # a register's index, or past them a stack slot's (o32 MIPS: 16(sp) and up)
        return k.args.index(p.kreg) if p.kreg else len(k.args) + (p.kstack - k.stack_args) // k.stack_slot

    used = [slot(p) for a in frame.args for p in a.parts if a.role != "number"]
    return max(used) + 1 if used else 0


def count_drift(t, arch, go: dict, known: dict) -> list[str]:
    problems = []
    for name in t.names(arch):
        sig = t.signature(arch, name)
        if sig.generic or name not in go:
            continue
        ours = our_count(arch, sig)
        if ours not in go[name] and name not in known:
            problems.append(f"{name}: {ours} argument registers from {sig.source}, Go passes {sorted(go[name])}")
        elif ours in go[name] and name in known:
            problems.append(f"{name}: listed as a known difference, but both say {ours}; remove it")
    return problems


@pytest.fixture(scope="module")
def go_root(go_env):
    import subprocess

    return Path(subprocess.run(["go", "env", "GOROOT"], env=go_env, capture_output=True, text=True,
                               check=True).stdout.strip())


def _go_texts(root: Path, goarch: str) -> list[str]:
    unix = root / "src/cmd/vendor/golang.org/x/sys/unix"
    paths = [root / "src/syscall" / f"zsyscall_linux_{goarch}.go", unix / "zsyscall_linux.go",
             unix / f"zsyscall_linux_{goarch}.go"]
    return [p.read_text(encoding="utf-8") for p in paths if p.is_file()]


@pytest.mark.parametrize("arch", sorted(a for a in ARCHES if tables.load().arch(a).goarch))  # Go's arches
def test_argument_counts_match_go(go_root, arch):
    t = tables.load()
    a = t.arch(arch)
    go = go_counts(_go_texts(go_root, a.goarch))
    compared = [n for n in t.names(a) if n in go]
    assert len(compared) >= 150, f"only {len(compared)} syscalls to compare; did Go's files move?"
    known = {n: why for (k, n), why in ARG_COUNT_KNOWN.items() if k == arch}
    assert count_drift(t, a, go, known) == []


def test_argument_count_check_catches_a_dropped_argument(go_root):
    import dataclasses

    t = tables.load()
    a = t.arch("arm")
    go = go_counts(_go_texts(go_root, a.goarch))
    known = {n: why for (k, n), why in ARG_COUNT_KNOWN.items() if k == "arm"}
    sig = t.signature(a, "pread64")
    broken = dataclasses.replace(t, signatures=dict(t.signatures, pread64=dataclasses.replace(
        sig, args=sig.args[:3] + sig.args[4:])))
    assert [p.split(":")[0] for p in count_drift(broken, a, go, known)] == ["pread64"]
    # a one-register argument where the kernel takes a pair
    wide = dataclasses.replace(sig, args=sig.args[:3] + (dataclasses.replace(sig.args[3],
                                                                             type=t.types["uint32"]),))
    broken = dataclasses.replace(t, signatures=dict(t.signatures, pread64=wide))
    assert [p.split(":")[0] for p in count_drift(broken, a, go, known)] == ["pread64"]
