"""`stubgen tables import`, on the small kernel-like tree in fixtures/kernel (never
on ../shared, which users do not have)."""
import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

import stubgen
from stubgen import tables
from stubgen.cli import main
from stubgen.errors import StubgenError
from stubgen.generator.files import render_files
from stubgen.kernelsrc import importer, syscalltbl
from stubgen.resources import tables_dir

KERNEL = Path(__file__).parent / "fixtures" / "kernel"
TBL32 = KERNEL / "arch/x86/entry/syscalls/syscall_32.tbl"
TBL64 = KERNEL / "arch/x86/entry/syscalls/syscall_64.tbl"
TBLARM = KERNEL / "arch/arm/tools/syscall.tbl"
GENERIC = KERNEL / "scripts/syscall.tbl"
ARM64_MK = KERNEL / "arch/arm64/kernel/Makefile.syscalls"

EXPECTED = {
    "386": {"restart_syscall": 0, "exit": 1, "fork": 2, "break": 17, "socketcall": 102, "madvise": 219,
            "exit_group": 252},
    "amd64": {"read": 0, "rt_sigaction": 13, "madvise": 28, "exit": 60, "uselib": 134},
    "arm": {"restart_syscall": 0, "exit": 1, "madvise": 220, "arm_sync_file_range": 341, "eabi_only_call": 400,
            "breakpoint": 0x0f0001, "cacheflush": 0x0f0002, "usr26": 0x0f0003, "usr32": 0x0f0004,
            "set_tls": 0x0f0005, "get_tls": 0x0f0006},
    # The generic table with each architecture's ABI tags from its Makefile.syscalls.
    "arm64": {"io_setup": 0, "io_getevents": 4, "renameat": 38, "newfstatat": 79, "exit": 93, "getrlimit": 163,
              "madvise": 233, "memfd_secret": 447},
    "riscv64": {"io_setup": 0, "io_getevents": 4, "newfstatat": 79, "exit": 93, "getrlimit": 163, "madvise": 233,
                "riscv_flush_icache": 259, "memfd_secret": 447},
    # loong64: the generic table without the rlimit tag (no getrlimit; prlimit64 only)
    "loong64": {"io_setup": 0, "io_getevents": 4, "newfstatat": 79, "exit": 93, "madvise": 233,
                "memfd_secret": 447},
    # MIPS tables hold n; the number is __NR_Linux + n (kernel_table.number_base).
    **{a: {"syscall": 4000, "exit": 4001, "fork": 4002, "break": 4017, "pipe": 4042, "mmap": 4090, "clone": 4120,
           "sysmips": 4149, "madvise": 4218, "fadvise64": 4254}
       for a in ("mips", "mipsle")},
    "mips64le": {"read": 5000, "mmap": 5009, "madvise": 5027, "exit": 5058, "set_mempolicy_home_node": 5450},
    "s390x": {"exit": 1, "mmap": 90, "madvise": 219},
    # nospu, common and 64 rows: not the 32-bit kernel's nor the Cell SPU's
    "ppc64le": {"exit": 1, "select": 82, "madvise": 205},
}
# The big-endian twins read the same kernel tables with the same ABI tags.
EXPECTED["mips64"], EXPECTED["ppc64"] = EXPECTED["mips64le"], EXPECTED["ppc64le"]
# 32-bit PowerPC: common, nospu and the 32 row of select (not the 64 or spu rows).
EXPECTED["ppc"] = {"exit": 1, "select": 82, "madvise": 205}
# RV32: common and 32 rows plus syscall_abis_32's tags (riscv, memfd_secret): no time32
# io_getevents, no 64-only newfstatat, no rlimit getrlimit.
EXPECTED["riscv32"] = {"io_setup": 0, "exit": 93, "madvise": 233, "riscv_flush_icache": 259, "memfd_secret": 447}
# Thumb-2 is the same kernel ABI as ARM EABI: the same table, tags and private numbers.
EXPECTED["thumb"] = EXPECTED["arm"]
# x32: the common and x32 rows of the 64-bit table (not its 64 rows), with __X32_SYSCALL_BIT.
EXPECTED["x32"] = {"read": 0x40000000, "madvise": 0x40000000 + 28, "exit": 0x40000000 + 60,
                   "rt_sigaction": 0x40000000 + 512, "rt_sigreturn": 0x40000000 + 513}
# MIPS n32: its own table, n + 6000.
EXPECTED["mipsn32"] = {"read": 6000, "mmap": 6009, "madvise": 6027, "exit": 6058}


@pytest.fixture
def tabledir(tmp_path):
    """A private copy of the shipped tables to import into."""
    d = tmp_path / "arch"
    shutil.copytree(tables_dir(), d)
    return d


@pytest.fixture
def kernel(tmp_path):
    """A private copy of the fixture tree, to break or change."""
    d = tmp_path / "linux"
    shutil.copytree(KERNEL, d)
    return d


def snapshot(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((d / "numbers").iterdir())}


def test_parser_reads_entry_points_and_the_noreturn_column():
    by_name = {e.name: e for e in syscalltbl.parse(TBL32)}
    assert by_name["exit"] == syscalltbl.Entry(1, "i386", "exit", "sys_exit", "-", True, 8)
    assert by_name["break"].entry is None and not by_name["break"].noreturn
    assert by_name["socketcall"].compat == "compat_sys_socketcall"
    assert by_name["fork"] == syscalltbl.Entry(2, "i386", "fork", "sys_fork", None, False, 9)


def test_other_abis_are_skipped():
    assert syscalltbl.numbers(TBL64, ["common", "64"]) == EXPECTED["amd64"]
    assert {e.name for e in syscalltbl.parse(TBL64, ["x32"])} == {"rt_sigaction", "rt_sigreturn"}
    arm = syscalltbl.numbers(TBLARM, ["common", "eabi"])
    assert "time" not in arm and "select" not in arm and "socketcall" not in arm
    assert arm["eabi_only_call"] == 400
    # a 32-bit table holds no 64 rows for a 64-bit selection
    assert syscalltbl.numbers(TBL32, ["common", "64"]) == {}


def test_generic_table_takes_its_abis_from_the_makefile():
    abis = syscalltbl.make_variable(ARM64_MK, "syscall_abis_64")
    assert abis == ["renameat", "rlimit", "memfd_secret"]
    assert syscalltbl.make_variable(ARM64_MK, "syscall_abis_32") == []
    assert syscalltbl.numbers(GENERIC, ["common", "64", *abis]) == {
        "io_setup": 0, "io_getevents": 4, "renameat": 38, "newfstatat": 79, "exit": 93, "getrlimit": 163,
        "madvise": 233, "memfd_secret": 447}
    with pytest.raises(StubgenError, match="does not set syscall_abis_128"):
        syscalltbl.make_variable(ARM64_MK, "syscall_abis_128")


def test_kernel_version_comes_from_the_top_level_makefile(kernel):
    assert syscalltbl.kernel_version(kernel) == "9.8.7"
    mk = kernel / "Makefile"
    mk.write_text(mk.read_text().replace("EXTRAVERSION =", "EXTRAVERSION = -rc1"))
    assert syscalltbl.kernel_version(kernel) == "9.8.7-rc1"
    mk.unlink()
    assert syscalltbl.kernel_version(kernel) is None


def test_import_end_to_end(tabledir, capsys):
    assert main(["tables", "import", "--kernel-src", str(KERNEL), "--tables", str(tabledir)]) == 0
    out = capsys.readouterr().out
    assert "amd64: 5 syscalls (Linux 9.8.7" in out
    t = tables.load(str(tabledir))
    for arch, numbers in EXPECTED.items():
        assert t.arches[arch].numbers == numbers
        text = (tabledir / "numbers" / f"{arch}.yaml").read_text()
        assert text.startswith(f"# Syscall numbers for {arch}. Generated by `stubgen tables import`")
    prov = t.arches["amd64"].provenance
    assert prov["kernel"] == "9.8.7"
    assert prov["sources"] == [{"path": "arch/x86/entry/syscalls/syscall_64.tbl", "abis": ["common", "64"],
                                "sha256": hashlib.sha256(TBL64.read_bytes()).hexdigest()}]
    assert t.arches["arm"].provenance["extra"]["base"] == 0x0f0000
    assert t.arches["mips64le"].provenance["sources"][0]["number_base"] == 5000
    # the hand-written ABI facts are untouched, and the new tables still generate
    for arch in EXPECTED:
        assert (tabledir / f"{arch}.yaml").read_bytes() == (tables_dir() / f"{arch}.yaml").read_bytes()
    stubs = stubgen.generate(tables=str(tabledir), dialects=["gnu"])
    assert {s.arch: s.number for s in stubs} == {a: n["madvise"] for a, n in EXPECTED.items()}
    files = render_files(stubs)
    header = files["gnu/stubs_linux_arm.S"][0].splitlines()[1]
    assert header == f"/* stubgen {stubgen.__version__}: arm tables, kernel 9.8.7 */"
    assert not list(tabledir.rglob("*.tmp"))


def test_generic_architecture_end_to_end(tabledir):
    # An architecture the tables do not ship yet, described only by data.
    d = yaml.safe_load((tabledir / "amd64.yaml").read_text())
    d.update(name="generic64", aliases=[], kernel_table={
        "path": "scripts/syscall.tbl", "abis": ["common", "64"],
        "abis_from": {"path": "arch/arm64/kernel/Makefile.syscalls", "variable": "syscall_abis_64"}})
    (tabledir / "generic64.yaml").write_text(yaml.safe_dump(d))
    imports = importer.run(KERNEL, tables=str(tabledir))
    assert [i.arch for i in imports if isinstance(i, importer.Import)] == sorted([*EXPECTED, "generic64"])
    g = tables.load(str(tabledir)).arches["generic64"]
    assert g.numbers["memfd_secret"] == 447 and "riscv_flush_icache" not in g.numbers
    assert [s["path"] for s in g.provenance["sources"]] == ["scripts/syscall.tbl",
                                                            "arch/arm64/kernel/Makefile.syscalls"]
    assert g.provenance["sources"][0]["abis"] == ["common", "64", "renameat", "rlimit", "memfd_secret"]


def test_report_added_removed_renumbered(tabledir, kernel, capsys):
    importer.run(kernel, tables=str(tabledir))
    tbl = kernel / "arch/x86/entry/syscalls/syscall_64.tbl"
    text = tbl.read_text().replace("28\tcommon\tmadvise", "29\tcommon\tmadvise")
    text = text.replace("134\t64\tuselib\n", "")
    text = text.replace("0\tcommon\tread", "0\tcommon\tread\n1\tcommon\twrite\tsys_write")
    tbl.write_text(text)
    assert main(["tables", "import", "--kernel-src", str(kernel), "--tables", str(tabledir)]) == 0
    out = capsys.readouterr().out.splitlines()
    i = out.index("amd64: 5 syscalls (Linux 9.8.7): 1 added, 1 removed, 1 renumbered")
    assert out[i + 1:i + 4] == ["  added: write", "  removed: uselib", "  renumbered: madvise 28 -> 29"]
    assert "386: 7 syscalls (Linux 9.8.7): 0 added, 0 removed, 0 renumbered" in out
    assert tables.load(str(tabledir)).arches["amd64"].numbers["madvise"] == 29


def test_report_against_the_shipped_tables_lists_few_names(tabledir):
    (imp,) = [i for i in importer.plan(KERNEL, tables=str(tabledir)) if getattr(i, "arch", None) == "386"]
    assert imp.previous["madvise"] == 219 and not imp.renumbered
    assert set(imp.removed) == set(imp.previous) - set(EXPECTED["386"])
    head, removed = imp.summary()
    assert head == "386: 7 syscalls (Linux 9.8.7, was 7.1.5): 0 added, 454 removed, 0 renumbered"
    assert removed.startswith("  removed: read, write, open, close, waitpid,") and removed.endswith(" and 446 more")


@pytest.mark.parametrize("line", [
    "x1\tcommon\tread\tsys_read",                            # number not a number
    "3\tcommon",                                             # too few columns
    "3\tcommon\tclose\tsys_close\tcompat_close\textra",      # too many columns
    "3\tcommon\tclo-se\tsys_close",                          # not an identifier
    "-3\tcommon\tclose\tsys_close",
])
def test_malformed_line_is_one_clear_error_and_nothing_is_written(tabledir, kernel, capsys, line):
    tbl = kernel / "arch/x86/entry/syscalls/syscall_64.tbl"
    lines = tbl.read_text().splitlines()
    lines.insert(8, line)
    tbl.write_text("\n".join(lines) + "\n")
    before = snapshot(tabledir)
    assert main(["tables", "import", "--kernel-src", str(kernel), "--tables", str(tabledir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"stubgen: error: {tbl}:9: malformed syscall table line ")
    assert "expected <number> <abi> <name>" in err
    # 386 is read before amd64: it must not have been written either
    assert snapshot(tabledir) == before
    assert not list(tabledir.rglob("*.tmp"))


def test_malformed_rows_of_other_abis_are_errors_too(kernel):
    tbl = kernel / "arch/x86/entry/syscalls/syscall_64.tbl"
    tbl.write_text(tbl.read_text() + "514\tx32\n")
    with pytest.raises(StubgenError, match=r"syscall_64.tbl:19: malformed"):
        syscalltbl.numbers(tbl, ["common", "64"])


def test_duplicate_number_or_name_is_an_error(kernel):
    tbl = kernel / "arch/x86/entry/syscalls/syscall_64.tbl"
    tbl.write_text(tbl.read_text() + "28\t64\tmadvise2\tsys_madvise\n")
    with pytest.raises(StubgenError, match=r"syscall_64.tbl:19: madvise2 28 clashes with madvise 28 on line 9"):
        syscalltbl.numbers(tbl, ["common", "64"])
    tbl.write_text(tbl.read_text().replace("madvise2\t", "madvise\t").replace("28\t64", "99\t64"))
    with pytest.raises(StubgenError, match=r"madvise 99 clashes with madvise 28"):
        syscalltbl.numbers(tbl, ["common", "64"])


def test_kernel_version_option(tabledir, kernel, capsys):
    (kernel / "Makefile").unlink()
    args = ["tables", "import", "--kernel-src", str(kernel), "--tables", str(tabledir)]
    assert main(args) == 2
    assert "pass --kernel-version" in capsys.readouterr().err
    assert main(args + ["--kernel-version", "7.1.5"]) == 0
    assert tables.load(str(tabledir)).arches["arm"].provenance["kernel"] == "7.1.5"
    assert main(args + ["--kernel-version", "seven"]) == 2
    assert "'seven' is not like 7.1.5" in capsys.readouterr().err
    assert main(["tables", "import", "--kernel-src", str(KERNEL), "--tables", str(tabledir),
                 "--kernel-version", "9.8.6"]) == 2
    assert "contradicts" in capsys.readouterr().err


def test_missing_kernel_file_names_the_architecture(tabledir, kernel):
    (kernel / "arch/arm/tools/syscall.tbl").unlink()
    before = snapshot(tabledir)
    with pytest.raises(StubgenError, match=r"syscall.tbl: not found \(the kernel_table of arm needs it"):
        importer.run(kernel, tables=str(tabledir))
    assert snapshot(tabledir) == before


def test_extra_calls_may_not_clash_with_the_table(tabledir):
    p = tabledir / "arm.yaml"
    p.write_text(p.read_text().replace("base: 0x0f0000", "base: 219"))
    with pytest.raises(StubgenError, match="kernel_table.extra of arm: breakpoint 220 clashes with madvise 220"):
        importer.plan(KERNEL, tables=str(tabledir))


@pytest.mark.parametrize("bad, message", [
    ({"path": "../x.tbl"}, r"amd64.yaml:\d+: kernel_table.path"),
    ({"path": "/abs/x.tbl"}, r"amd64.yaml:\d+: kernel_table.path"),
    ({"abis": ["common", 64]}, "kernel_table.abis.1: 64 is not of type 'string'"),
    ({"abis": []}, r"amd64.yaml:\d+: kernel_table.abis"),
    ({"extra": {"base": 1}}, "'calls' is a required property"),
    ({"tables": "x"}, "kernel_table.tables: unknown key 'tables'"),
])
def test_schema_checks_kernel_table(tabledir, bad, message):
    p = tabledir / "amd64.yaml"
    d = yaml.safe_load(p.read_text())
    d["kernel_table"].update(bad)
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(StubgenError, match=message):
        tables.load(str(tabledir))


def test_arches_without_kernel_table_are_left_alone(tabledir):
    for arch in ("386", "arm"):
        p = tabledir / f"{arch}.yaml"
        p.write_text(p.read_text().split("\n# Where `stubgen tables import`")[0] + "\n")
    before = snapshot(tabledir)
    imports = importer.run(KERNEL, tables=str(tabledir))
    assert [i.arch for i in imports if isinstance(i, importer.Import)] == sorted(set(EXPECTED) - {"386", "arm"})
    # the signatures the other architectures' numbers name are kept
    t = tables.load(str(tabledir))
    assert t.signature(t.arches["386"], "pread64").name == "ia32_pread64"
    assert t.available(t.arches["arm"], "arm_fadvise64_64")
    after = snapshot(tabledir)
    assert after["386.yaml"] == before["386.yaml"] and after["arm.yaml"] == before["arm.yaml"]


def test_stubgen_code_names_no_architecture():
    for name in ("kernelsrc/importer.py", "kernelsrc/syscalltbl.py", "kernelsrc/kernelc.py", "kernelsrc/sigimport.py",
                 "pipeline/coverage.py", "tables/export.py", "tables/policies.py"):
        text = (Path(stubgen.__file__).parent / name).read_text()
        for arch in ("386", "amd64", "x86", "arm", "i386", "arm64", "aarch64", "riscv64"):
            assert f'"{arch}"' not in text and f"'{arch}'" not in text
