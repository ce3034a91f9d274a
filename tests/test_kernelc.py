"""The kernel C reader (SYSCALL_DEFINEn, prototypes) and the signature import, on the
fixture tree in fixtures/kernel and on small texts written here."""
import shutil
from pathlib import Path

import pytest
import yaml

from stubgen import tables
from stubgen.cli import main
from stubgen.errors import StubgenError
from stubgen.kernelsrc import importer, kernelc
from stubgen.resources import tables_dir

KERNEL = Path(__file__).parent / "fixtures" / "kernel"


def _parse(tmp_path, text, name="x.c"):
    p = tmp_path / name
    p.write_text(text)
    return kernelc.parse_file(p, name)


def test_definition_over_several_lines_with_its_line(tmp_path):
    (d,) = _parse(tmp_path, "/* a comment\n   over lines */\nSYSCALL_DEFINE3(madvise, unsigned long, start,"
                            " size_t, len_in,\n\t\tint, behavior)\n{\n}\n")
    assert d.function == "sys_madvise" and d.line == 3 and d.where == "x.c:3"
    assert [(p.c_type, p.name) for p in d.params] == [("unsigned long", "start"), ("size_t", "len_in"),
                                                     ("int", "behavior")]
    assert not d.prototype and d.result == "long"


def test_compat_definitions_and_user_pointers(tmp_path):
    defs = _parse(tmp_path, "COMPAT_SYSCALL_DEFINE2(x, const char __user *, p, compat_size_t, n)\n"
                            "SYSCALL_DEFINE0(fork)\n")
    assert [d.function for d in defs] == ["compat_sys_x", "sys_fork"]
    # const stays where it says what the kernel only reads (C prototypes keep it)
    assert defs[0].params[0] == kernelc.Param("const char *", "p") and defs[1].params == ()


@pytest.mark.parametrize("text, clean", [
    ("const char __user *", "const char *"), ("char __user *", "char *"),
    ("const struct landlock_ruleset_attr __user *const", "const struct landlock_ruleset_attr *"),
    ("const char __user *const __user *", "const char **"), ("const int", "int"),
    ("volatile unsigned long", "unsigned long")])
def test_a_pointers_const_is_kept_and_every_other_qualifier_dropped(text, clean):
    assert kernelc.clean_type(text) == clean


def test_prototypes_named_unnamed_and_void(tmp_path):
    defs = _parse(tmp_path, "asmlinkage long sys_a(unsigned long, int __user *,\n    struct stat __user *st);\n"
                            "asmlinkage long sys_b(void);\nasmlinkage int sys_c(struct pt_regs *regs);\n"
                            "asmlinkage long sys_d(unsigned int fd, u32 flags, loff_t len);\n", "x.h")
    a, b, c, d = defs
    assert [(p.c_type, p.name) for p in a.params] == [("unsigned long", None), ("int *", None),
                                                     ("struct stat *", "st")]
    assert b.params == () and c.result == "int" and a.prototype
    assert [p.name for p in d.params] == ["fd", "flags", "len"]


def test_a_macro_among_the_arguments_is_named_when_used(tmp_path):
    (d,) = _parse(tmp_path, "SYSCALL_DEFINE6(p64, unsigned int, fd, u32, __pad, arg_u32p(pos))\n")
    with pytest.raises(LookupError, match="5 type and name words .*expected 12"):
        kernelc.resolve("sys_p64", [d], "arch/x86", set())


def test_config_picks_a_variant_and_the_else_branch_is_the_default():
    defs = kernelc.scan(KERNEL)
    clone = defs["sys_clone"]
    assert len([d for d in clone if not d.prototype]) == 3
    backwards = kernelc.resolve("sys_clone", clone, "arch/x86", {"CONFIG_CLONE_BACKWARDS"})
    plain = kernelc.resolve("sys_clone", clone, "arch/x86", set())
    assert [p.name for p in backwards.params][3] == "tls" and backwards.where == "kernel/fork.c:11"
    assert [p.name for p in plain.params][4] == "tls" and plain.conditions[-1] == "#else"
    # a definition wins over a prototype; a prototype serves where there is none
    assert kernelc.resolve("sys_sync_file_range2", defs["sys_sync_file_range2"], "arch/arm", set()).prototype


def test_definitions_of_other_architectures_are_not_used():
    defs = kernelc.scan(KERNEL)
    fadvise = defs["sys_arm_fadvise64_64"]
    assert kernelc.resolve("sys_arm_fadvise64_64", fadvise, "arch/arm", set()).path == "arch/arm/include/asm/syscalls.h"
    with pytest.raises(LookupError, match="only for other architectures"):
        kernelc.resolve("sys_arm_fadvise64_64", fadvise, "arch/x86", set())


WRAPPERS = {"save_static_function": "__{function}"}


def test_a_macro_made_wrapper_resolves_to_the_function_it_wraps(tmp_path):
    defs = _parse(tmp_path, "save_static_function(sys_fork);\n  save_static_function( sys_clone ) ;\n"
                            "other_macro(sys_x);\n")
    assert defs == []  # without the macro named, nothing
    p = tmp_path / "w.c"
    p.write_text("#ifdef X\nsave_static_function(sys_fork);\n#endif\nother_macro(sys_x);\n")
    (fork,) = kernelc.parse_file(p, "arch/mips/kernel/w.c", WRAPPERS)
    assert (fork.function, fork.wraps, fork.line, fork.conditions) == ("__sys_fork", "sys_fork", 2, ("#ifdef X",))
    defs = kernelc.scan(KERNEL, WRAPPERS)
    d = kernelc.resolve_entry("__sys_fork", defs, "arch/mips", set())
    assert d.function == "sys_fork" and d.where == "kernel/fork.c:3" and not d.wraps
    # the wrapped function is picked as for the architecture itself (CONFIG_CLONE_BACKWARDS)
    clone = kernelc.resolve_entry("__sys_clone", defs, "arch/mips", {"CONFIG_CLONE_BACKWARDS"})
    assert clone.where == "kernel/fork.c:11"
    # a wrapper in another architecture's directory is not this architecture's entry point
    with pytest.raises(LookupError, match="__sys_fork: defined only for other architectures "
                                          r"\(arch/mips/kernel/syscall.c:9\)"):
        kernelc.resolve_entry("__sys_fork", defs, "arch/x86", set())


def test_a_wrapper_of_nothing_and_a_circle_are_named(tmp_path):
    p = tmp_path / "w.c"
    p.write_text("save_static_function(sys_gone);\nsame(sys_a);\n")
    defs: dict = {}
    for d in kernelc.parse_file(p, "arch/mips/w.c", {"save_static_function": "__{function}", "same": "{function}"}):
        defs.setdefault(d.function, []).append(d)
    with pytest.raises(LookupError, match=r"__sys_gone \(the wrapper at arch/mips/w.c:1\) wraps sys_gone: "
                                          "no definition or prototype"):
        kernelc.resolve_entry("__sys_gone", defs, "arch/mips", set())
    with pytest.raises(LookupError, match=r"circle \(sys_a -> sys_a\)"):
        kernelc.resolve_entry("sys_a", defs, "arch/mips", set())


def test_an_entry_point_with_no_c_at_all_says_so():
    with pytest.raises(LookupError, match=r"^sys_syscall: no definition or prototype in the kernel's C"):
        kernelc.resolve("sys_syscall", [], "arch/mips", set())


@pytest.fixture
def tabledir(tmp_path):
    d = tmp_path / "arch"
    shutil.copytree(tables_dir(), d)
    return d


def test_import_writes_signatures_with_provenance(tabledir):
    importer.run(KERNEL, tables=str(tabledir))
    sigs = yaml.safe_load((tabledir / "common/signatures.yaml").read_text())
    assert sigs["madvise"]["from"].startswith("mm/madvise.c:3;")
    assert [(a["name"], a.get("go"), a["type"], a["c"]) for a in sigs["madvise"]["args"]] == [
        ("addr", "addr", "pointer", "unsigned long"), ("len", "n", "uintptr", "size_t"),
        ("advice", "flags", "int32", "int")]
    # a file descriptor is typed as Go's x/sys and libc type it (int), whatever the kernel's spelling
    assert sigs["read"] == {"args": [{"name": "fd", "type": "fd", "c": "unsigned int"},
                                     {"name": "buf", "type": "pointer", "c": "char *"},
                                     {"name": "count", "type": "uintptr", "c": "size_t"}],
                            "result": "long", "from": "fs/read_write.c:2"}
    assert sigs["exit"]["special"] == sigs["exit_group"]["special"] == "noreturn"
    assert sigs["fork"]["special"] == "returns_twice" and "untyped" not in sigs["fork"]
    t = tables.load(str(tabledir))
    i386, arm = t.arch("386"), t.arch("arm")
    # a row without an entry point is a reserved number, not an untyped call
    assert "break" in i386.reserved and "break" not in i386.untyped and "eabi_only_call" in arm.reserved
    assert t.exclusion(i386, "break") == ("reserved: no entry point in arch/x86/entry/syscalls/syscall_32.tbl; "
                                          "the kernel answers ENOSYS")
    assert t.signature(i386, "break") is None and not t.available(i386, "break")
    numbers = yaml.safe_load((tabledir / "numbers/386.yaml").read_text())
    assert "break" in numbers["reserved"] and "break" not in numbers.get("untyped", {})
    # arm's 341 is sys_sync_file_range2: its prototype, the pairs at even registers
    assert arm.entry_points["arm_sync_file_range"] == "sync_file_range2"
    sfr = t.signature(arm, "arm_sync_file_range")
    assert sfr.source == "include/linux/syscalls.h:6" and [p.type.name for p in sfr.args] == [
        "fd", "uint32", "loff", "loff"]
    # the ARM private calls come from overrides.yaml
    assert [p.name for p in t.signature(arm, "cacheflush").args] == ["start", "end", "flags"]
    assert t.available(arm, "set_tls") and t.available(i386, "madvise")


def test_unknown_c_type_is_one_error_and_nothing_is_written(tabledir, tmp_path, capsys):
    kernel = tmp_path / "linux"
    shutil.copytree(KERNEL, kernel)
    c = kernel / "kernel/exit.c"
    c.write_text(c.read_text().replace("SYSCALL_DEFINE1(exit, int,", "SYSCALL_DEFINE1(exit, strange_t,"))
    before = {p: p.read_bytes() for p in tabledir.rglob("*.yaml")}
    assert main(["tables", "import", "--kernel-src", str(kernel), "--tables", str(tabledir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'strange_t' (kernel/exit.c:2)" in err and "kernel_types" in err
    assert {p: p.read_bytes() for p in tabledir.rglob("*.yaml")} == before


def test_a_tree_without_the_kernels_c_is_refused(tabledir, tmp_path):
    kernel = tmp_path / "linux"
    shutil.copytree(KERNEL, kernel)
    (kernel / "include/linux/syscalls.h").unlink()
    with pytest.raises(StubgenError, match="syscalls.h: not found"):
        importer.plan(kernel, tables=str(tabledir))


def test_shipped_signatures_say_where_they_come_from():
    t = tables.load()
    for a in t.arches.values():
        for name in t.names(a):
            sig = t.signature(a, name)
            assert sig.source, name
            if not sig.generic:
                where = sig.source.split(";")[0]
                assert where.split(":")[0].endswith((".c", ".h")) or "traps.c" in where, (name, where)


def test_a_call_without_entry_point_has_no_signature_even_where_another_arch_has_one():
    # syscall_64.tbl: 205 64 set_thread_area (no entry: ENOSYS); i386 has sys_set_thread_area
    t = tables.load()
    amd64, i386 = t.arch("amd64"), t.arch("386")
    assert t.signature(amd64, "set_thread_area") is None and not t.available(amd64, "set_thread_area")
    assert "no entry point" in t.exclusion(amd64, "set_thread_area")
    assert t.available(i386, "set_thread_area")


def test_arch_dir_comes_from_the_kernel_table():
    from stubgen.kernelsrc import sigimport

    assert sigimport.arch_dir({"path": "arch/x86/entry/syscalls/syscall_64.tbl"}) == "arch/x86"
    generic = {"path": "scripts/syscall.tbl", "abis_from": {"path": "arch/riscv/kernel/Makefile.syscalls"}}
    assert sigimport.arch_dir(generic) == "arch/riscv"
    assert sigimport.arch_dir(dict(generic, arch_dir="arch/loongarch")) == "arch/loongarch"
    with pytest.raises(StubgenError, match="set kernel_table.arch_dir"):
        sigimport.arch_dir({"path": "scripts/syscall.tbl"})


def test_import_follows_mips_wrappers_and_names_what_it_leaves_out(tabledir):
    importer.run(KERNEL, tables=str(tabledir))
    t = tables.load(str(tabledir))
    for name in ("mips", "mipsle"):
        mips = t.arch(name)
        # __sys_fork is save_static_function(sys_fork): sys_fork's signature, returns twice
        fork = t.signature(mips, "fork")
        assert t.available(mips, "fork") and fork.source == "kernel/fork.c:3" and fork.special == "returns_twice"
        # __sys_sysmips wraps MIPS's own SYSCALL_DEFINE3(sysmips, long, ...)
        sysmips = t.signature(mips, "sysmips")
        assert t.available(mips, "sysmips") and sysmips.source == "arch/mips/kernel/syscall.c:13"
        assert [(p.name, p.type.name) for p in sysmips.args] == [("cmd", "long"), ("arg1", "long"), ("arg2", "long")]
        # __sys_clone wraps the CONFIG_CLONE_BACKWARDS clone, which is left out as everywhere
        assert t.signature(mips, "clone").source == "kernel/fork.c:11"
        assert "new stack" in t.exclusion(mips, "clone") and not t.available(mips, "clone")
        # the overrides' reasons, by entry point: pipe's two registers, the indirect call
        assert "v0 and v1" in t.exclusion(mips, "pipe") and not t.available(mips, "pipe")
        assert "syscall0..syscall6" in t.exclusion(mips, "syscall")
        assert mips.reserved == ("break",)
        # no reason repeats the entry point or ends in an empty list
        for call, why in mips.untyped.items():
            assert "()" not in why and why.count("__sys_") <= 1, (call, why)


def _rows_without_entry_point(tbl: Path, abis: set) -> list[str]:
    """The test's own reading of a kernel table: rows of the ABIs whose entry point is
    missing or sys_ni_syscall."""
    names = []
    for line in tbl.read_text().splitlines():
        cols = line.split()
        if cols and not cols[0].startswith("#") and cols[1] in abis and (len(cols) < 4 or cols[3] == "sys_ni_syscall"):
            names.append(cols[2])
    return names


def test_coverage_counts_reserved_numbers_apart(tabledir, capsys):
    importer.run(KERNEL, tables=str(tabledir))
    assert main(["list", "--coverage", "--no-real-tools", "--tables", str(tabledir)]) == 0
    out = capsys.readouterr().out
    t = tables.load(str(tabledir))
    for arch, tbl, abis in (("386", "arch/x86/entry/syscalls/syscall_32.tbl", {"i386"}),
                            ("mips", "arch/mips/kernel/syscalls/syscall_o32.tbl", {"o32"})):
        reserved = _rows_without_entry_point(KERNEL / tbl, abis)
        a = t.arch(arch)
        numbered = len(a.numbers)
        typed = sum(1 for n in a.numbers if t.available(a, n))
        implemented = numbered - len(reserved)
        head = next(line for line in out.splitlines() if line.startswith(f"{arch}: "))
        assert head == (f"{arch}: {typed} of {implemented} implemented syscalls typed and verified "
                        f"({100.0 * typed / implemented:.1f}%; {numbered} numbered, {len(reserved)} of them "
                        f"reserved); left out ({implemented - typed}):")
        assert f"\n  reserved (no entry point in {tbl}; the kernel answers ENOSYS): {', '.join(reserved)}\n" in out


def test_a_reserved_name_without_a_number_is_a_table_problem(tabledir, capsys):
    nums = tabledir / "numbers/386.yaml"
    nums.write_text(nums.read_text() + "- no_such_call\n")  # appended to the reserved list at the end
    assert main(["list", "--tables", str(tabledir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "386.yaml:" in err and "reserved" in err and "'no_such_call'" in err


@pytest.mark.parametrize("made", ["__{fn}", "__{}", "plain", "__{function}-x", 3])
def test_a_wrapper_that_makes_no_name_is_one_error(tabledir, capsys, made):
    overrides = tabledir / "common/overrides.yaml"
    doc = yaml.safe_load(overrides.read_text())
    doc["wrappers"] = {"save_static_function": made}
    overrides.write_text(yaml.safe_dump(doc))
    assert main(["tables", "import", "--kernel-src", str(KERNEL), "--tables", str(tabledir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "wrappers.save_static_function" in err and "{function}" in err
