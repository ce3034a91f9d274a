"""Issue 9: one test per class of hostile input, with the inputs that broke stubgen.
Each class has a design-level fix; tests/test_hostile_properties.py generates more
inputs of each class."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stubgen import dialects
from stubgen.cli import main
from stubgen.errors import StubgenError
from stubgen.tables import inputs


@pytest.fixture(autouse=True)
def _fresh(fresh_caches):
    yield


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])))


def one_line_error(r, code=2, *words):
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    # One line; a run's several problems are listed indented beneath that line.
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith("stubgen") and ": error: " in lines[0], r.stderr
    assert all(ln.startswith("  ") for ln in lines[1:]) and (len(lines) == 1 or "problems" in lines[0]), r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r.stderr


def generated(tmp_path, *args) -> Path:
    out = tmp_path / "out"
    assert main(["generate", "-o", str(out), *args]) == 0
    return out


def set_manifest_path(out: Path, suffix: str, new_path: str):
    m = json.loads((out / "manifest.json").read_text())
    for f in m["files"]:
        if f["path"].endswith(suffix):
            f["path"] = new_path
    (out / "manifest.json").write_text(json.dumps(m))


def edit_with_hash(out: Path, rel: str, text: str):
    """A hand edit whose author also updated the manifest's hash: the hash vouches for nothing."""
    (out / rel).write_text(text)
    m = json.loads((out / "manifest.json").read_text())
    for f in m["files"]:
        if f["path"] == rel:
            f["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(m))


# --- class 1: every input path is confined ---------------------------------------------

@pytest.mark.parametrize("target", ["/etc/passwd", "../../x", "/dev/zero", "fifo", "link-out", "link-dev"])
@pytest.mark.parametrize("command", ["verify", "crosscheck"])
def test_class1_manifest_paths_are_confined(tmp_path, target, command):
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    if target == "fifo":
        os.mkfifo(out / "fifo")
    if target == "link-out":
        (out / "link-out").symlink_to("/etc/passwd")
    if target == "link-dev":
        (out / "link-dev").symlink_to("/dev/zero")
    set_manifest_path(out, "amd64.S", target)
    extra = ["--check", "gnu as"] if command == "crosscheck" else ["--no-real-tools"]
    err = one_line_error(cli(command, str(out), *extra, timeout=60))
    assert "root:" not in err  # nothing of /etc/passwd is shown
    assert any(w in err for w in ("leaves", "outside", "not a regular file")), err


def test_class1_confined_reader_refuses_special_and_huge_files(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(StubgenError, match="FIFO"):
        inputs.read_text(tmp_path / "fifo", [tmp_path])
    with pytest.raises(StubgenError, match="character device"):
        inputs.read_text("/dev/zero")
    big = tmp_path / "sparse"
    with open(big, "wb") as f:
        f.truncate(6 << 30)  # a 6 GB sparse file: refused after one fstat
    with pytest.raises(StubgenError, match="more than"):
        inputs.read_text(big, [tmp_path])
    (tmp_path / "out").symlink_to("/etc")
    with pytest.raises(StubgenError, match="outside"):
        inputs.read_text(tmp_path / "out" / "passwd", [tmp_path])


def test_class1_tables_and_templates_are_confined(tmp_path):
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True)
    (t / "numbers" / "amd64.yaml").symlink_to("/etc/passwd")
    one_line_error(cli("list", "--tables", str(t)), 2, "outside")
    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True)
    (tp / "header.h.j2").symlink_to("/etc/passwd")
    err = one_line_error(cli("generate", "-o", str(tmp_path / "o"), "-d", "gnu", "--templates", str(tp.parent)),
                         2, "outside")
    assert "root:" not in err


# --- class 2: untrusted text never runs in-process --------------------------------------

def test_class2_an_edited_file_with_its_hash_updated_is_isolated(tmp_path, monkeypatch):
    from stubgen.pipeline.verify_dir import verify_dir
    from stubgen.verifier import isolate, manifest_specs

    monkeypatch.setattr(isolate, "SECONDS", 2.0)
    monkeypatch.setattr(isolate, "SECONDS_PER_ITEM", 0.0)
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    rel = "gnu/stubs_linux_amd64.S"
    good = (out / rel).read_text()
    assert all(not spec.rendered for _, spec in manifest_specs(out))  # the hash cannot vouch for text
    edit_with_hash(out, rel, good.replace("\tsyscall\n", "\tlock |\n\tsyscall\n"))  # hangs Keystone
    import io

    buf = io.StringIO()
    assert verify_dir(out, real_tools=False, out=buf) == 1
    assert "did not finish within 2 s" in buf.getvalue()
    nested = "(" * 100000 + "1" + ")" * 100000  # kills Keystone with SIGSEGV
    edit_with_hash(out, rel, good.replace("\tsyscall\n", f"\tmov $({nested}), %rax\n\tsyscall\n"))
    buf = io.StringIO()
    assert verify_dir(out, real_tools=False, out=buf) == 1
    assert "died" in buf.getvalue() or "cannot" in buf.getvalue()


def test_class2_user_templates_are_isolated(tmp_path, monkeypatch):
    import stubgen
    from stubgen.verifier import isolate, stub_specs, verify

    monkeypatch.setattr(isolate, "SECONDS", 2.0)
    monkeypatch.setattr(isolate, "SECONDS_PER_ITEM", 0.0)
    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True)
    shipped = (Path(stubgen.__file__).parent.parent / "templates" / "gnu" / "amd64.S.j2")
    from stubgen.resources import templates_dir

    shipped = templates_dir() / "gnu" / "amd64.S.j2"
    (tp / "amd64.S.j2").write_text(shipped.read_text().replace("\tsyscall", "\tlock |\n\tsyscall", 1))
    stubs = stubgen.generate(arches=["amd64"], dialects=["gnu"], templates=str(tp.parent))
    assert not any(spec.rendered for _, spec in stub_specs(stubs))
    reports = verify(stubs)
    assert not reports[0].ok and "did not finish" in reports[0].problems[0]
    shipped_stubs = stubgen.generate(arches=["amd64"], dialects=["gnu"])
    assert all(spec.rendered for _, spec in stub_specs(shipped_stubs))


@pytest.mark.parametrize("directive", ['.incbin "/etc/hostname"', '.include "/etc/passwd"',
                                       ".rept 100000000\n.rept 100000000\nnop\n.endr\n.endr",
                                       ".irp x,1,2\nnop\n.endr", ".macro m\nnop\n.endm", ".fill 1000000000, 1, 0",
                                       ".p2align 30"])
def test_class2_real_tools_get_no_directive_that_reads_or_repeats(directive):
    from stubgen.realtools import tools as realtools

    name = directive.split()[0]
    with pytest.raises(realtools.ToolFailed, match=rf"source:\d+: (directive )?\{name}"):
        realtools.check_gnu_source("\t.text\n" + directive + "\n")
    with pytest.raises(realtools.ToolFailed, match="#include"):
        realtools.check_go_source('#include "/etc/passwd"\n')
    with pytest.raises(realtools.ToolFailed, match="#define"):
        realtools.check_go_source("#define A B B B\n")


def test_class2_verify_names_the_refused_directive(tmp_path):
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    rel = "gnu/stubs_linux_amd64.S"
    edit_with_hash(out, rel, '\t.incbin "/etc/hostname"\n' + (out / rel).read_text())
    r = cli("verify", str(out))
    host = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\0"
    # Refused by name where GNU as is installed; without it nothing ever hands the
    # directive to an assembler (the verifier reads instructions only): nothing to refuse.
    from stubgen.realtools import tools

    try:
        tools.gnu_tool("amd64", "as")
        gnu_as = True
    except tools.ToolMissing:
        gnu_as = False
    assert r.returncode == (1 if gnu_as else 0) and "Traceback" not in r.stderr
    assert ".incbin" in r.stdout or not gnu_as
    assert host not in r.stdout.replace("/etc/hostname", "")


# --- class 3: table strings reach the output only as one bounded printable line --------

def numbers_table(tmp_path, provenance_value: str) -> Path:
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True, exist_ok=True)
    (t / "numbers" / "amd64.yaml").write_text(f"provenance:\n  kernel: {provenance_value}\nnumbers: {{madvise: 28}}\n")
    return t


@pytest.mark.parametrize("value", ['"7.1\\n\\t.incbin \\"/etc/hostname\\""', '"a\\0b"', '"7 */ .incbin x /*"',
                                   "x" * 300, "2024-01-01"])
def test_class3_table_strings_are_one_bounded_printable_line(tmp_path, value):
    t = numbers_table(tmp_path, value)
    out = tmp_path / "o"
    err = one_line_error(cli("generate", "-o", str(out), "-d", "gnu", "-a", "amd64", "--tables", str(t), "--verify"),
                         2, "amd64.yaml:2:", "provenance.kernel")
    assert len(err) < 400
    assert not out.exists()


def test_class3_a_50_mb_string_is_refused_by_size(tmp_path):
    t = numbers_table(tmp_path, "x" * (50 << 20))
    one_line_error(cli("list", "--tables", str(t)), 2, "more than")


# --- class 7: one line, never a traceback ----------------------------------------------

def arch_table(tmp_path, edit) -> Path:
    from stubgen.resources import tables_dir

    t = tmp_path / "t"
    t.mkdir(exist_ok=True)
    (t / "amd64.yaml").write_text(edit((tables_dir() / "amd64.yaml").read_text()))
    return t


@pytest.mark.parametrize("old,new,where", [
    ("  rax: AX\n", "  rax: AX\n  foo: FOO\n", "registers.foo"),
    ("KS_ARCH_X86", "KS_ARCH_FOO", "engines.keystone.arch"),
    ("CS_ARCH_X86", "CS_ARCH_FOO", "engines.capstone.arch"),
    ("consts: x86_const", "consts: foo_const", "engines.unicorn.consts"),
    ("pc: rip", "pc: pcx", "engines.unicorn.pc"),
    ("prefix: UC_X86_REG_", "prefix: UC_FOO_", "engines.unicorn.prefix"),
])
def test_class7_engine_values_are_checked_when_the_tables_load(tmp_path, old, new, where):
    t = arch_table(tmp_path, lambda s: s.replace(old, new))
    one_line_error(cli("list", "--tables", str(t)), 2, "amd64.yaml:", where)


def test_class7_deep_yaml_and_deep_manifests(tmp_path):
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True)
    (t / "numbers" / "amd64.yaml").write_text("numbers: {madvise: 28}\nprovenance: {x: " + "[" * 990 + "]" * 990 + "}\n")
    one_line_error(cli("list", "--tables", str(t)), 2, "nested more than")
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    (out / "manifest.json").write_text("[" * 100000 + "]" * 100000)
    one_line_error(cli("verify", str(out)), 2, "nested too deeply")
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu", "-a", "amd64"), 2, "not generated by stubgen")


@pytest.mark.parametrize("number,word", [(None, "needs its number"), (29.0, "whole number"), ("29", "integer")])
def test_class7_manifest_numbers(tmp_path, number, word):
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    m = json.loads((out / "manifest.json").read_text())
    m["files"][0]["symbols"][0]["number"] = number
    (out / "manifest.json").write_text(json.dumps(m))
    one_line_error(cli("verify", str(out), "--no-real-tools"), 2, "number")


@pytest.mark.parametrize("literal", ["$09", "$08"])
def test_class7_plan9_octal_that_is_not(tmp_path, literal):
    out = generated(tmp_path, "-d", "plan9", "-a", "amd64")
    f = out / "stubs_linux_amd64.s"  # plan9 alone: the package is -o DIR
    f.write_text(f.read_text().replace("$0x1c", literal).replace("$28", literal))
    r = cli("verify", str(out), "--no-real-tools")
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    assert "leading 0 means octal" in r.stdout


@pytest.mark.parametrize("text,word", [
    ("- a\n- b\n", "not of type 'object'"),
    ("rules: [1, 2]\n", "rules"),
    ("format: {imm: '{value:#x}', mem: '[{base}]'}\nrules: {MOVQ: {'r,r': 5}}\n", "rules.MOVQ"),
    ("format: {imm: '{value:#x}', mem: '[{base}]'}\n", "rules: the Plan 9 reader needs it"),
    ("mutations: {wrong_trap: {find: '(', replace: x}}\n", "bad regular expression"),
])
def test_class7_lower_yaml_of_the_wrong_shape(tmp_path, text, word):
    tp = tmp_path / "tp" / "plan9"
    tp.mkdir(parents=True)
    (tp / "amd64.lower.yaml").write_text(text)
    out = generated(tmp_path, "-d", "plan9", "-a", "amd64")
    err = one_line_error(cli("verify", str(out), "--templates", str(tp.parent)), 2, "amd64.lower.yaml")
    assert word in err or word.split(":")[0] in err, err


# --- class 8: no silently wrong result ----------------------------------------------------

def test_class8_empty_tables_are_errors_not_missing_architectures(tmp_path):
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True)
    (t / "numbers" / "amd64.yaml").write_text("")
    one_line_error(cli("list", "--tables", str(t)), 2, "amd64.yaml", "empty")
    (t / "numbers" / "amd64.yaml").unlink()
    (t / "amd64.yaml").write_text("# nothing\n")
    one_line_error(cli("list", "--tables", str(t)), 2, "amd64.yaml", "empty")


def user_dialect(tmp_path, edit) -> Path:
    from stubgen.resources import templates_dir

    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True)
    (tp / "dialect.yaml").write_text(edit((templates_dir() / "gnu" / "dialect.yaml").read_text()))
    return tp.parent


def test_class8_a_per_arch_path_without_arch_is_refused(tmp_path):
    tp = user_dialect(tmp_path, lambda s: s.replace("_{arch}.S", ".S"))
    one_line_error(cli("generate", "-o", str(tmp_path / "o"), "--templates", str(tp)), 2, "{arch}")
    assert not (tmp_path / "o").exists()


def test_class8_two_dialects_in_one_directory_are_refused(tmp_path):
    tp = user_dialect(tmp_path, lambda s: s.replace("dir: gnu", "dir: plan9"))
    one_line_error(cli("generate", "-o", str(tmp_path / "o"), "--templates", str(tp)), 2, "dir 'plan9'")


def test_class8_an_errno_handler_that_is_a_stub_is_refused(tmp_path):
    one_line_error(cli("generate", "-o", str(tmp_path / "o"), "-d", "gnu", "-e", "errno",
                       "--errno-handler", "sys_madvise"), 2, "would call itself")


@pytest.mark.parametrize("args", [["-o", ""], ["-o", "X", "-s", ""], ["-o", "X", "-a", ""], ["-o", "X", "-d", ","]])
def test_class8_empty_options_are_refused(tmp_path, args):
    args = [str(tmp_path / "o") if a == "X" else a for a in args]
    r = subprocess.run([sys.executable, "-m", "stubgen", "generate", *args], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])), timeout=60)
    one_line_error(r, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, not into the cwd either


def test_class8_file_modes_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
        assert all((p.stat().st_mode & 0o777) == 0o644 for p in out.rglob("*") if p.is_file())
        f = out / "gnu" / "stubs.h"
        f.chmod(0o640)
        assert main(["generate", "-o", str(out), "-d", "gnu", "-a", "amd64", "-e", "ignore"]) == 0
        assert f.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    finally:
        os.umask(old)


# --- class 5: all or nothing --------------------------------------------------------------

def files_of(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fail_at", [1, 2, 4])
def test_class5_a_failure_after_renames_restores_the_old_set(tmp_path, monkeypatch, fail_at):
    import stubgen
    from stubgen.generator import output

    out = generated(tmp_path, "-d", "gnu")
    old = files_of(out)
    # Rendered first: loading the tables may save a cache entry (a rename of its own),
    # which must not be the one that fails.
    new = stubgen.generate(dialects=["gnu"], policy="ignore")
    real, calls = os.replace, []

    def failing(src, dst):
        if out.resolve() not in Path(dst).resolve().parents:
            return real(src, dst)  # another writer's rename (a cache entry), not the output's
        calls.append(dst)
        if len(calls) == fail_at:  # as an immutable target would
            raise PermissionError(1, "Operation not permitted", str(dst))
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", failing)
    with pytest.raises(StubgenError, match="cannot write"):
        stubgen.write(new, out)
        print("renames:", calls)
    monkeypatch.setattr(output.os, "replace", real)
    assert files_of(out) == old  # the complete old set, no backup, journal or temporary file


def test_class5_sigint_during_the_commit_is_deferred(tmp_path, monkeypatch):
    import signal

    import stubgen
    from stubgen.generator import files, output

    out = generated(tmp_path, "-d", "gnu")
    real, sent = os.replace, []

    def interrupted(src, dst):
        sent.append(dst)
        if len(sent) == 2:  # the first rename after the journal's: inside the commit
            os.kill(os.getpid(), signal.SIGINT)
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", interrupted)
    new = stubgen.generate(dialects=["gnu"], policy="ignore")
    with pytest.raises(KeyboardInterrupt):
        stubgen.write(new, out)
    monkeypatch.setattr(output.os, "replace", real)
    assert not files.check(new, out)  # the complete new set: the interrupt waited for the commit
    assert not [p for p in out.rglob(".*")]


_KILLED_RUN = """
import os, sys, stubgen
from stubgen.generator import output
real, n = os.replace, []
out = os.path.realpath(sys.argv[1])
def dying(src, dst):
    if not os.path.realpath(dst).startswith(out + os.sep):
        return real(src, dst)  # a cache's file (Jinja's compiled templates), not the output's
    n.append(dst)
    if len(n) == int(sys.argv[2]):
        os._exit(9)  # killed between two renames
    return real(src, dst)
output.os.replace = dying
stubgen.write(stubgen.generate(dialects=["gnu"], policy="ignore"), sys.argv[1])
"""


@pytest.mark.parametrize("die_at", [2, 5])
def test_class5_a_killed_run_is_detected_and_repaired(tmp_path, die_at):
    out = generated(tmp_path, "-d", "gnu")
    old = files_of(out)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    r = subprocess.run([sys.executable, "-c", _KILLED_RUN, str(out), str(die_at)], env=env, timeout=120)
    assert r.returncode == 9
    one_line_error(cli("verify", str(out)), 2, "interrupted run")
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu", "--check"), 2, "interrupted run")
    r = cli("generate", "-o", str(out), "-d", "gnu")  # the same as the old set: rolled back, then written
    assert r.returncode == 0 and "rolled back an interrupted run" in r.stderr, r.stderr
    assert files_of(out) == old


def test_class5_concurrent_writers_into_a_fresh_directory(tmp_path):
    out = tmp_path / "fresh" / "out"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    procs = [subprocess.Popen([sys.executable, "-m", "stubgen", "generate", "-o", str(out), "-d", "gnu"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(10)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _ in results), results
    r = cli("verify", str(out), "--no-real-tools")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [p for p in out.rglob(".*")]


# --- class 6: special files ---------------------------------------------------------------

@pytest.mark.parametrize("flag", [[], ["--check"], ["--force"]])
def test_class6_a_fifo_at_an_output_path(tmp_path, flag):
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    f = out / "gnu" / "stubs.h"
    f.unlink()
    os.mkfifo(f)
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu", "-a", "amd64", *flag, timeout=60), 2,
                   "not a regular file")


def test_class6_a_huge_sparse_file_is_not_read(tmp_path):
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    f = out / "gnu" / "stubs.h"
    with open(f, "r+b") as h:
        h.truncate(6 << 30)
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu", "-a", "amd64", "--check", timeout=60), 2,
                   "more than")


def test_class6_a_fifo_in_tables(tmp_path):
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True)
    os.mkfifo(t / "numbers" / "amd64.yaml")
    one_line_error(cli("list", "--tables", str(t), timeout=60), 2, "FIFO")


# --- class 4: parsers and formatters that could be made to explode ---------------------------

BILLION_LAUGHS = "".join(f"  {c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
                         for p, c in zip(" abcdefgh", "abcdefghi"))


def test_class4_yaml_aliases_are_refused(tmp_path):
    t = tmp_path / "t"
    (t / "numbers").mkdir(parents=True)
    (t / "numbers" / "amd64.yaml").write_text("numbers: {madvise: 28}\nprovenance:\n" + BILLION_LAUGHS)
    assert len((t / "numbers" / "amd64.yaml").read_bytes()) < 1024
    one_line_error(cli("list", "--tables", str(t), timeout=30), 2, "alias")


def lowered_with_rule(tmp_path, rule: str):
    from stubgen.resources import templates_dir

    tp = tmp_path / "tp" / "plan9"
    tp.mkdir(parents=True)
    text = (templates_dir() / "plan9" / "amd64.lower.yaml").read_text()
    (tp / "amd64.lower.yaml").write_text(text.replace('"": "syscall"', f'"": "{rule}"'))
    out = generated(tmp_path, "-d", "plan9", "-a", "amd64")
    return cli("verify", str(out), "--no-real-tools", "--templates", str(tp.parent))


@pytest.mark.parametrize("rule", ["{0.__init__.__globals__[os].environ[HOME]}", "{cond.__class__}", "{0!r}",
                                  "{cond:>1000000000}", "{5}"])
def test_class4_lowering_rules_allow_plain_fields_only(tmp_path, rule):
    r = lowered_with_rule(tmp_path, rule)
    err = one_line_error(r, 2, "amd64.lower.yaml", "rules.SYSCALL")
    assert os.environ.get("HOME", "/root") not in err.replace(str(tmp_path), "")


@pytest.mark.parametrize("find,word", [("(.*.*)*QQQ", "repeat inside a repeat"), ("(", "bad regular expression"),
                                       ("(a|ab)*c", "alternatives inside a repeat")])
def test_class4_mutation_regexes_are_compiled_safely(tmp_path, find, word):
    from stubgen.resources import templates_dir

    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True)
    text = (templates_dir() / "gnu" / "amd64.lower.yaml").read_text()
    (tp / "amd64.lower.yaml").write_text(text.replace("find: 'syscall'", f"find: '{find}'"))
    out = generated(tmp_path, "-d", "gnu", "-a", "amd64")
    one_line_error(cli("verify", str(out), "--mutants", "--no-real-tools", "--templates", str(tp.parent), timeout=60),
                   2, "mutations.wrong_trap.find", word)


@pytest.mark.parametrize("find,word", [("(.*.*)*QQQ", "repeat inside a repeat"), ("(", "bad regular expression")])
def test_class4_link_operand_regexes_are_compiled_safely(tmp_path, find, word):
    """The relocation operators a reader rewrites (MIPS %call16) are regexes of the
    templates: checked like the mutations before any text is read with them."""
    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True)
    (tp / "mips.lower.yaml").write_text(f"line_comment: '#'\nlink_operands:\n  - {{find: '{find}', replace: '0x0'}}\n")
    out = generated(tmp_path, "-d", "gnu", "-a", "mips", "-e", "errno")
    one_line_error(cli("verify", str(out), "--no-real-tools", "--templates", str(tp.parent), timeout=60),
                   2, "link_operands.0.find", word)


def header_template(tmp_path, extra: str) -> Path:
    from stubgen.resources import templates_dir

    tp = tmp_path / "tp" / "gnu"
    tp.mkdir(parents=True, exist_ok=True)
    (tp / "header.h.j2").write_text((templates_dir() / "gnu" / "header.h.j2").read_text() + extra)
    return tp.parent


@pytest.mark.parametrize("mutation", ['{% set _ = arches[0].numbers.update({"madvise": 1}) %}',
                                      '{{ arches[0].numbers.__setitem__("madvise", 1) }}',
                                      '{% set _ = arches[0].numbers.pop("madvise") %}'])
def test_class4_templates_cannot_change_the_cached_tables(tmp_path, mutation):
    import stubgen
    from stubgen.verifier import verify

    tp = header_template(tmp_path, mutation)
    with pytest.raises(StubgenError, match="unsafe"):
        stubgen.write(stubgen.generate(dialects=["gnu"], templates=str(tp)), tmp_path / "o")
    stubs = stubgen.generate(dialects=["gnu"])  # the same process, the shipped templates
    assert {s.number for s in stubs if s.arch == "amd64"} == {28}
    assert all(r.ok for r in verify(stubs))


@pytest.mark.parametrize("extra,word", [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "longer than"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}", "longer than"),
    ("{% set n = namespace(x=2) %}{% for i in range(40) %}{% set n.x = n.x * n.x %}{% endfor %}{{ n.x }}", "large"),
    ('{{ "{:1000000000}".format(1) }}', "too wide"),
    ('{{ "%1000000000d"|format(1) }}', "too wide"),
    ('{{ "%1000000000d" % 1 }}', "too wide"),
    ('{{ "x"|center(1000000000) }}', "too wide"),
])
def test_class4_rendering_has_a_time_budget_and_an_output_cap(tmp_path, monkeypatch, extra, word):
    import time

    import stubgen

    monkeypatch.setattr(dialects.sandbox, "RENDER_SECONDS", 1.0)
    tp = header_template(tmp_path, extra)
    t = time.monotonic()
    with pytest.raises(StubgenError, match=word):
        stubgen.write(stubgen.generate(dialects=["gnu"], templates=str(tp)), tmp_path / "o")
    assert time.monotonic() - t < 8
    assert not (tmp_path / "o").exists()


def test_class2_crosscheck_gives_go_no_include_of_another_file(tmp_path):
    out = generated(tmp_path, "-d", "plan9", "-a", "amd64")
    f = out / "stubs_linux_amd64.s"  # plan9 alone: the package is -o DIR
    f.write_text('#include "/etc/passwd"\n' + f.read_text())
    r = cli("crosscheck", str(out), "--check", "go vet,go asm", timeout=300)
    assert "Traceback" not in r.stderr and "root:" not in r.stdout + r.stderr
    if "go not found" not in r.stdout:
        assert r.returncode == 1 and "#include is refused" in r.stdout, r.stdout


def test_class2_a_verifier_with_user_templates_trusts_no_text(tmp_path, monkeypatch):
    from stubgen.verifier import Spec, Verifier, isolate

    forks = []
    monkeypatch.setattr(isolate, "run", lambda fn, *a, **k: forks.append(1) or fn(*a))
    tp = tmp_path / "tp"
    (tp / "gnu").mkdir(parents=True)
    stub = stubgen_stub()
    spec = Spec("amd64", "gnu", stub.symbol, "madvise", 28, "raw", stub.trap)  # rendered=True, as mutants build it
    assert Verifier().check(stub.text, spec).ok and not forks
    assert Verifier(templates=str(tp)).check(stub.text, spec).ok and forks


def stubgen_stub():
    import stubgen

    return stubgen.generate(arches=["amd64"], dialects=["gnu"])[0]
