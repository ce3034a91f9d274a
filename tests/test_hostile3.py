"""Issue 27 (hostile input, round three): one test per class the red team found, with
its input and variations of it; each fails when its fix is undone."""
import json
import os
from pathlib import Path

import pytest
from conftest import cli, one_line_error

# --- class 1: the journal is data from disk, and names only files inside -o DIR --------

SHA = "0" * 64


def _journal_cases(victim: Path, outside: Path):
    """(name, journal, setup) where setup(out) plants what the journal needs."""
    def entry(path, tmp=None, new=False, backup=None):
        return {"path": path, "tmp": tmp, "new": new, "backup": backup}

    def no_setup(out):
        pass

    def linked_dir(out):
        (out / "sub").symlink_to(outside)

    rel_victim = os.path.relpath(victim, start=victim.parent.parent / "out")
    return [
        # the red team's: an attacker's backup moved over ../victim/keep.txt, an absolute path unlinked
        ("dotdot", {"manifest_sha256": SHA, "files": [
            entry(rel_victim, backup=str(Path(rel_victim).parent / ".keep.txt.stubgen-old"))]}, no_setup),
        ("absolute new", {"manifest_sha256": SHA, "files": [entry(str(victim), new=True)]}, no_setup),
        ("absolute tmp", {"manifest_sha256": SHA, "files": [entry("x.s", tmp=str(victim))]}, no_setup),
        ("backup elsewhere", {"manifest_sha256": SHA, "files": [entry("x.s", backup=rel_victim)]}, no_setup),
        ("tmp elsewhere", {"manifest_sha256": SHA, "files": [entry("x.s", tmp="../victim/keep.txt")]}, no_setup),
        ("linked directory", {"manifest_sha256": SHA, "files": [entry("sub/keep.txt", new=True)]}, linked_dir),
        ("not a journal", {"manifest_sha256": 5, "files": []}, no_setup),
        ("files not a list", {"manifest_sha256": SHA, "files": {"path": "x"}}, no_setup),
        ("extra key", {"manifest_sha256": SHA, "files": [dict(entry("x.s"), run="rm -rf /")]}, no_setup),
        ("empty part", {"manifest_sha256": SHA, "files": [entry("a//x.s", new=True)]}, no_setup),
    ]


@pytest.mark.parametrize("case", range(10))
def test_class1_a_planted_journal_is_refused_and_touches_nothing(tmp_path, case):
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "keep.txt"
    victim.write_text("precious\n")
    (victim_dir / ".keep.txt.stubgen-old").write_text("attacker\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious too\n")
    out = tmp_path / "out"
    out.mkdir()
    name, journal, setup = _journal_cases(victim, outside)[case]
    setup(out)
    (out / ".stubgen-journal.json").write_text(json.dumps(journal))
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu"), 2, "journal")
    assert victim.read_text() == "precious\n", name
    assert (victim_dir / ".keep.txt.stubgen-old").read_text() == "attacker\n", name
    assert (outside / "keep.txt").read_text() == "precious too\n", name
    assert (out / ".stubgen-journal.json").exists(), name  # left for a person to look at


# --- classes 2-5: directives are checked on exactly what the assembler assembles -------

from stubgen.realtools import tools  # noqa: E402
from stubgen.realtools.frontend import check_foreign  # noqa: E402
from stubgen.realtools.gaslex import statements  # noqa: E402

STUB = ".text\n.globl f\n.type f, @function\nf:\n    ret\n.size f, .-f\n"
HIDDEN = [
    # the red team's: a /* inside a string was taken for a comment's start
    '.ident "/*"\n.include "/etc/passwd"\n.ident "*/"\n',
    # variations: a ; inside a string, an unterminated string, a character constant, a
    # macro parameter that expands to a directive, a statement after a separator
    '.ascii "a;b"; .include "/etc/passwd"\n',
    '.ascii "no end\n.incbin "/etc/passwd"\n',
    ".byte '\"\n.include \"/etc/passwd\"\n.byte '\"\n",
    '.macro m d\n\\d "/etc/passwd"\n.endm\nm .include\n',
    'nop ; .rept 1000000000\n',
    '/* */ .include "/etc/passwd"\n',
]


@pytest.mark.parametrize("text", HIDDEN)
def test_class4_no_directive_hides_from_the_check(text):
    with pytest.raises(tools.ToolFailed, match="refused"):
        tools.check_gnu_source(STUB + text, "x.S", tools.GNU_DIRECTIVES | {"ascii", "byte", "macro", "endm", "ident"},
                               "#")
    from stubgen import tables

    with pytest.raises(tools.ToolFailed, match="refused"):
        check_foreign(STUB + text, "x.S", tables.load().arch("amd64"))


def test_class4_the_lexer_keeps_what_gnu_as_keeps():
    """Comments go, strings stay whole, separators split: a legitimate file still passes."""
    assert statements('f: mov $1, %eax # c ; .include "x"\n/* a\n b */ .text\n', "#") == [
        (1, "f: mov $1, %eax"), (3, ".text")]
    assert statements("mov r0, #1 @ .include\n", "@") == [(1, "mov r0, #1")]
    tools.check_gnu_source(STUB + '.ident "a /* b ; .include c */"\n', "x.S", tools.GNU_DIRECTIVES, "#")


def test_class2_llvm_as_gets_the_same_check_and_limits(tmp_path):
    """crosscheck's "llvm as" row once ran zig cc -c on the file as it was on disk."""
    from stubgen import tables

    arch = tables.load().arch("riscv64")
    src = tmp_path / "stub.S"
    src.write_text(STUB.replace("@function", "%function") + '.include "/etc/passwd"\n')
    with pytest.raises(tools.ToolFailed, match=r"\.include") as e:
        tools.llvm_asm_bytes(src, arch)
    assert "root:" not in str(e.value)


@pytest.mark.parametrize("text", ['#include "/etc/passwd"\n', '#define X .incbin "/etc/passwd"\nX\n'])
def test_class3_the_llvm_path_assembles_without_a_preprocessor(tmp_path, text):
    """A C driver preprocesses a .S: #include and #define then made text the check never
    saw. The LLVM path now assembles what it checked (-x assembler): a # line is a comment."""
    from stubgen import tables

    arch = tables.load().arch("loong64")
    if not arch.c_toolchain.get("zig"):
        pytest.skip("loong64's crosscheck programs are no longer built by zig cc")
    src = tmp_path / "stub.S"
    src.write_text(STUB.replace("ret", "jr $ra").replace("@function", "%function") + text)
    obj = tmp_path / "stub.o"
    try:
        tools.c_assemble(src, arch, obj)
    except tools.ToolFailed as e:
        assert "root:" not in str(e)  # X is no instruction: an error, which quotes no file
        return
    assert b"root:" not in obj.read_bytes()


@pytest.mark.parametrize("text", ['/**/#include "/etc/passwd"\n', '\ufeff#include "/etc/passwd"\n',
                                  '/* a\n */ #include "../../etc/passwd"\n', 'TEXT ·f(SB),0,$0 #define X\n',
                                  '#  include "go_asm.h" "/etc/passwd"\n'])
def test_class5_go_tool_asm_gets_no_include_but_the_standard_ones(text):
    with pytest.raises(tools.ToolFailed, match="refused before go tool asm"):
        tools.check_go_source('#include "textflag.h"\n' + text)
    tools.check_go_source('#include "textflag.h"\n// #include "x"\nTEXT ·f(SB),0,$0\n\tMOVQ $"#", AX\n')


# --- class 8: comment stripping is linear ------------------------------------------------

def test_class8_forty_thousand_open_comments_take_no_time(tmp_path):
    """40,000 `/* ` in a 120 KB hand-edited .S hung verify DIR, verify FILE and tables
    import for minutes (a regex retried from every `/*` to the end of the text)."""
    import time

    from stubgen.tables.comments import strip_block_comments

    text = "/* " * 40000
    t = time.perf_counter()
    assert strip_block_comments(text) == ""
    assert strip_block_comments("a/* x\ny */b/* open\n\n") == "a\nb\n\n"
    assert time.perf_counter() - t < 10  # a bound, not a benchmark: the quadratic one took minutes
    f = tmp_path / "x.S"
    f.write_text(".text\n" + text)
    r = cli("verify", str(f), "--arch", "amd64", timeout=60)
    assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2), r.stderr


# --- class 18: zig's cache never lands in a directory another user controls -------------

@pytest.mark.parametrize("planted", ["other owner", "open to others", "a link"])
def test_class18_zig_cache_without_home_is_private(tmp_path, monkeypatch, planted):
    from stubgen.verifier import llvm

    monkeypatch.setattr(llvm, "_PRIVATE", [])
    monkeypatch.delenv("ZIG_GLOBAL_CACHE_DIR", raising=False)
    monkeypatch.delenv("ZIG_LOCAL_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    spot = tmp_path / f"stubgen-{os.getuid()}"
    if planted == "a link":
        (tmp_path / "attacker").mkdir(mode=0o700)
        spot.symlink_to(tmp_path / "attacker")
    else:
        spot.mkdir(mode=0o777 if planted == "open to others" else 0o700)
        os.chmod(spot, 0o777 if planted == "open to others" else 0o700)
        if planted == "other owner":
            if os.getuid() != 0:
                pytest.skip("needs root to give the directory to another user")
            os.chown(spot, 12345, 12345)
    got = Path(llvm.env()["ZIG_GLOBAL_CACHE_DIR"])
    assert not str(got).startswith(str(spot) + os.sep), got
    st = os.lstat(got.parents[1])
    assert st.st_uid == os.getuid() and not st.st_mode & 0o077


# --- class 13: --kernel-abi values are checked ----------------------------------------

def _statement(**change):
    import yaml

    from stubgen.verifier import kernel

    d = yaml.safe_load((Path(kernel.__file__).parent / "linux_abi.yaml").read_text())["amd64"]
    d.update(change)
    return {"amd64b": d}


@pytest.mark.parametrize("change", [
    {"crash_interrupts": "x"}, {"crash_interrupts": ["x"]}, {"number_bits": "64"}, {"args": "rdi"},
    {"error_range": [-4095]}, {"error_range": "low"}, {"trap": {"interrupt": "int"}}, {"cpu_clobbers": {"rcx": "gone"}},
    {"trap": []}, {"result": 5}, {"stack_args": {"offset": -1, "slots": 2}}, {"vdso": {"symbols": 3}},
    {"typo_key": 1}, {"errno": {"EINVAL": "22"}},
])
def test_class13_a_kernel_abi_statement_of_the_wrong_type_is_one_line(tmp_path, change):
    import yaml

    from stubgen.errors import StubgenError
    from stubgen.verifier import kernel

    f = tmp_path / "abi.yaml"
    f.write_text(yaml.safe_dump(_statement(**change)))
    with pytest.raises(StubgenError) as e:
        kernel.linux_abi("amd64b", str(f))
    assert "abi.yaml: amd64b" in str(e.value) and "\n" not in str(e.value), e.value


def test_class13_the_shipped_statement_has_the_same_form():
    import yaml

    from stubgen.verifier import kernel

    doc = yaml.safe_load((Path(kernel.__file__).parent / "linux_abi.yaml").read_text())
    assert [p for a, d in doc.items() if (p := kernel.statement_problem(a, d))] == []


# --- class 7: no false pass from data the text reader dropped ---------------------------

@pytest.mark.parametrize("data", [".byte 0xb8,0x3c,0,0,0", ".long 0x3cb8, 0", ".rept 1\n    .byte 0x90\n.endr"])
def test_class7_data_before_the_trap_is_machine_code(tmp_path, data):
    """The foreign reader once dropped data directives, so `.byte 0xb8,0x3c,0,0,0`
    (mov eax, 60: exit) before the trap passed as madvise. A foreign file is now assembled
    by a real assembler and judged as the machine code it is: the data runs, or the
    directive is refused."""
    f = tmp_path / "m.s"
    f.write_text(".text\n.globl madvise\n.type madvise,@function\nmadvise:\n    mov $28, %eax\n"
                 f"    {data}\n    syscall\n    ret\n.size madvise,.-madvise\n")
    r = cli("verify", str(f), "--arch", "amd64", "--stub", "madvise=madvise")
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stdout + r.stderr
    if r.returncode == 1:
        assert "FAIL" in r.stdout and "0 passed" in r.stdout, r.stdout


# --- class 12: no RecursionError from deep input ------------------------------------------

@pytest.mark.parametrize("expr", ["$" + "+".join(["1"] * 20000), "$(" + "+".join(["1"] * 20000) + ")"])
def test_class12_a_huge_constant_sum_is_no_traceback(tmp_path, expr):
    f = tmp_path / "sys_linux_amd64.s"
    f.write_text('#include "textflag.h"\nTEXT ·madvise(SB),NOSPLIT,$0\n\tMOVQ\t' + expr + ', AX\n\tSYSCALL\n\tRET\n')
    r = cli("verify", str(f), "--arch", "amd64", "--stub", "madvise=madvise", timeout=120)
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stdout + r.stderr, r.stderr[-500:]
    assert r.returncode in (1, 2), r.stdout[-500:] + r.stderr


def test_class12_sums_fold_term_by_term():
    from stubgen.verifier.foreign.translate import plan9_translate

    text, _ = plan9_translate("TEXT ·f(SB),0,$0\n\tMOVQ $-8+16-4, AX\n\tMOVQ $(4095 + 1), BX\n")
    assert "MOVQ $4, AX" in text and "MOVQ $4096, BX" in text
