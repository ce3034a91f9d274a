"""Issue 27 (hostile input, round three), the remaining classes: one test per class
with the red team's input and variations of it; each fails when its fix is undone."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli, one_line_error

from stubgen.errors import StubgenError, VerificationFailed

ROOT = Path(__file__).parents[1]


# --- class 14: workers die with their parent; a lost worker is one line ---------------------

def _fake_chunks(n=4, per=100):
    from stubgen.pipeline.parallel import Given

    return [Given(tuple((None, None) for _ in range(per))) for _ in range(n)]


@pytest.mark.parametrize("death", ["SIGKILL", "SIGSEGV", "exit", "SIGTERM"])
def test_class14_a_lost_worker_is_one_line_exit_1(monkeypatch, death):
    """kill -9 of a worker gave a BrokenProcessPool traceback."""
    from stubgen.pipeline import parallel

    def dies(self, chunk):
        import faulthandler

        faulthandler.disable()  # pytest's: a page of stack for the signal we send on purpose
        if death == "exit":
            os._exit(3)
        os.kill(os.getpid(), getattr(signal, death))
        time.sleep(30)

    monkeypatch.setattr(parallel._Checker, "chunk", dies)
    with pytest.raises(VerificationFailed, match="worker process died") as e:
        list(parallel.run_chunks(_fake_chunks(), jobs=2))
    assert "\n" not in str(e.value)


_ORPHAN = """
import os, sys, time
from stubgen.pipeline import parallel
def stay(self, chunk):
    with open(sys.argv[1], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(120 if sys.argv[2] == "busy" else 0)
    return parallel.Outcome([], [], set())
parallel._Checker.chunk = stay
for _ in parallel.run_chunks([parallel.Given(((None, None),) * 100) for _ in range(int(sys.argv[3]))], jobs=2):
    time.sleep(120)  # the parent is slow (or hangs): the workers wait, idle, for it
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("state,chunks", [("busy", 4), ("idle", 2)])
def test_class14_kill_9_of_stubgen_ends_its_workers(tmp_path, state, chunks):
    """kill -9 of the main process left the workers alive indefinitely."""
    pids = tmp_path / "pids"
    p = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(pids), state, str(chunks)],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.1)
        # an idle pool may hand both chunks to one worker (its first chunk ends at once)
        workers = sorted({int(x) for x in pids.read_text().split()})
        assert workers and os.getpid() not in workers and p.pid not in workers, workers
        time.sleep(0.3)
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # ours: started by the script above
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers outlived their parent: {left}"


# --- class 6: verify FILE reads no include from outside the input's directory and -I ------

MARK = "SECRET-MARK-27"
PLAN9_BODY = "TEXT ·madvise(SB),NOSPLIT,$0\n\tMOVQ $28, AX\n\tSYSCALL\n\tRET\n"


def _outside_tree(tmp_path):
    """tmp/in/a/b (the input's directory), tmp/secret/passwd (outside it), and the
    include names that reach the secret: relative climbs, absolute, links in the tree."""
    here = tmp_path / "in" / "a" / "b"
    here.mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd").write_text(f"{MARK}:x:0:0\n#define {MARK}X 1\n")
    (here / "ln").symlink_to(secret / "passwd")
    (here / "lndir").symlink_to(secret)
    (here / "sub").mkdir()
    depth = len(here.parts) - 1
    names = ["../../../secret/passwd", str(secret / "passwd"), "ln", "lndir/passwd", "sub/../ln",
             "./../../../secret/passwd", "../" * (depth + 3) + str(secret / "passwd").lstrip("/"),
             "/etc/passwd", "/dev/zero", "../" * depth + "etc/passwd"]
    return here, secret, names


def test_class6_plan9_include_outside_is_refused_unread(tmp_path):
    """`verify FILE` of a Plan 9 file quoted the first line of #include "../../../../etc/passwd"."""
    from stubgen.verifier.foreign.preprocess import plan9_preprocess

    here, secret, names = _outside_tree(tmp_path)
    for name in names:
        for form in (f'#include "{name}"\n', f"#include <{name}>\n", f'  #  include "{name}" // x\n'):
            with pytest.raises(StubgenError, match="outside") as e:
                plan9_preprocess(form + PLAN9_BODY, here / "x.s", "amd64", [], [])
            assert MARK not in str(e.value) and "root:" not in str(e.value), (name, e.value)
        # nested: a header inside the tree that includes one outside
        (here / "h.h").write_text(f'#include "{name}"\n')
        with pytest.raises(StubgenError, match="outside"):
            plan9_preprocess('#include "h.h"\n' + PLAN9_BODY, here / "x.s", "amd64", [], [])
    # inside the tree and in -I: read as before
    (here / "sub" / "ok.h").write_text("#define N 28\n")
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "ok2.h").write_text("#define M 1\n")
    text, notes = plan9_preprocess('#include "sub/ok.h"\n#include "ok2.h"\n#include "go_asm.h"\n'
                                   + PLAN9_BODY.replace("$28", "$N"), here / "x.s", "amd64", [str(inc)], [])
    assert "MOVQ $28, AX" in text and len(notes) == 1


def test_class6_the_red_teams_files_through_the_cli(tmp_path):
    here, secret, _ = _outside_tree(tmp_path)
    f = here / "sys_linux_amd64.s"
    f.write_text('#include "../../../../../../../../etc/passwd"\n' + PLAN9_BODY)
    one_line_error(cli("verify", str(f), "--arch", "amd64", "--stub", "madvise=madvise"), 2, "outside")
    g = here / "m.S"
    g.write_text(f'#include "{secret / "passwd"}"\n.text\n.globl madvise\nmadvise:\n    syscall\n    ret\n')
    err = one_line_error(cli("verify", str(g), "--arch", "amd64", "--stub", "madvise=madvise"), 2, "outside")
    assert MARK not in err


def test_class6_gnu_includes_are_walked_before_the_preprocessor(tmp_path):
    from stubgen.realtools.includes import walk

    here, secret, names = _outside_tree(tmp_path)
    for name in names:
        for form in (f'#include "{name}"\n', f"# include <{name}>\n", f'#include_next "{name}"\n',
                     f'#inc\\\nlude "{name}"\n', f'/* c */ #embed "{name}"\n'):
            if "<" in form and not (name.startswith("/") or ".." in name):
                continue  # <ln> is not looked for beside the file: the toolchain's (the dependency check's)
            (here / "m.S").write_text(form + ".text\n")
            with pytest.raises(StubgenError) as e:
                walk(here / "m.S", [], [])
            assert MARK not in str(e.value), (name, e.value)
    for computed in ("#define H </etc/passwd>\n#include H\n", "#include __FILE__\n"):
        (here / "m.S").write_text(computed)
        with pytest.raises(StubgenError, match="computed"):
            walk(here / "m.S", [], [])
    (here / "m.S").write_text('#include "sub/x.h"\n#include <sys/syscall.h>\n')
    (here / "sub" / "x.h").write_text("#define X 1\n")
    assert [p.name for p in walk(here / "m.S", [], [])] == ["m.S", "x.h"]


def test_class6_what_the_preprocessor_read_is_checked_again(tmp_path, monkeypatch):
    """The walk is one guard; the dependency list the preprocessor writes is the other:
    with the walk undone, a header outside is still refused and nothing of it shown."""
    from stubgen import tables
    from stubgen.realtools import frontend, includes, tools

    here, secret, _ = _outside_tree(tmp_path)
    assert includes.dependencies("x: a.S /b/c\\ d.h \\\n  e$$f.h\n") == [Path("a.S"), Path("/b/c d.h"), Path("e$f.h")]
    monkeypatch.setattr(includes, "walk", lambda *a: [])
    arch = tables.load().arch("amd64")
    for form in (f'#include "{secret / "passwd"}"\n', '#include "ln"\n', '%:include "../../../secret/passwd"\n'):
        (here / "m.S").write_text(form + ".text\n")
        try:
            with pytest.raises(StubgenError, match="outside") as e:
                frontend.preprocess(here / "m.S", arch)
        except tools.ToolMissing:
            pytest.skip("no zig cc")
        assert MARK not in str(e.value)


# --- classes 9 and 17: the output cache's key covers every file, read confined ----------

@pytest.fixture
def key_of(tmp_path, monkeypatch):
    from stubgen.generator import outcache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("STUBGEN_NO_CACHE", raising=False)
    return lambda d: outcache.key({"arch": ["amd64"]}, [str(d)])


HIDDEN_PLACES = [".parts/x.j2", "__pycache__/x.j2", "x.pyc", "x.pyo", ".hidden", "a/.b/c/x.j2", ".git/objects/x",
                 "a/__pycache__/m.cpython-311.pyc"]


@pytest.mark.parametrize("place", HIDDEN_PLACES)
def test_class9_an_edit_anywhere_in_the_inputs_is_a_new_key(tmp_path, key_of, place):
    """A template included from .parts/ or __pycache__/, or a *.pyc, was left out of the
    key: after an edit generate wrote the old text and --check said up to date."""
    d = tmp_path / "tpl"
    (d / place).parent.mkdir(parents=True, exist_ok=True)
    (d / place).write_text("{# one #}\n")
    before = key_of(d)
    (d / place).write_text("{# two #}\n")
    assert key_of(d) != before, place


@pytest.mark.parametrize("link_at", ["numbers", "n/numbers", ".numbers"])
def test_class9_numbers_symlinked_into_a_dot_directory_are_keyed(tmp_path, key_of, link_at):
    d = tmp_path / "tables"
    (d / ".real").mkdir(parents=True)
    (d / ".real" / "amd64.yaml").write_text("read: 0\n")
    (d / link_at).parent.mkdir(parents=True, exist_ok=True)
    (d / link_at).symlink_to(d / ".real")
    before = key_of(d)
    (d / ".real" / "amd64.yaml").write_text("read: 1\n")
    assert key_of(d) != before
    (d / "loop").symlink_to(d)  # a link back up is walked once, not for ever
    key_of(d)


@pytest.mark.parametrize("target", ["secret", "/dev/null", "/dev/zero", "fifo", "secretdir"])
def test_class17_the_key_never_opens_a_file_outside(tmp_path, key_of, monkeypatch, target):
    """The key followed links to /etc/shadow or /dev/null to hash them."""
    from stubgen.tables import inputs

    (tmp_path / "secret").write_text(MARK)
    (tmp_path / "secretdir").mkdir()
    (tmp_path / "secretdir" / "x").write_text(MARK)
    os.mkfifo(tmp_path / "fifo")
    d = tmp_path / "tables"
    d.mkdir()
    (d / "ok.yaml").write_text("a: 1\n")
    where = target if target.startswith("/") else str(tmp_path / target)
    (d / "link.yaml").symlink_to(where)
    opened = []
    real_open = os.open
    monkeypatch.setattr(inputs.os, "open", lambda p, *a, **k: opened.append(os.path.realpath(p)) or real_open(p, *a, **k))
    k1 = key_of(d)
    assert str(d.resolve() / "ok.yaml") in opened
    assert not [p for p in opened if not p.startswith(str(d.resolve()))], opened
    (d / "link.yaml").unlink()
    (d / "link.yaml").symlink_to(tmp_path / "elsewhere")
    assert key_of(d) != k1  # keyed by where it leads


def test_class9_the_red_teams_template_in_a_dot_directory(tmp_path, monkeypatch):
    import shutil

    from stubgen.resources import templates_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tpl = tmp_path / "tpl"
    shutil.copytree(templates_dir(), tpl)
    (tpl / "gnu" / ".parts").mkdir()
    (tpl / "gnu" / ".parts" / "tail.j2").write_text("/* first-edit */\n")
    main = tpl / "gnu" / "asm.S.j2"
    main.write_text(main.read_text() + '\n{% include "gnu/.parts/tail.j2" %}\n')
    args = ["generate", "-a", "amd64", "-d", "gnu", "-s", "madvise", "--templates", str(tpl)]
    r = cli(*args, "-o", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    (tpl / "gnu" / ".parts" / "tail.j2").write_text("/* second-edit */\n")
    r = cli(*args, "-o", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    assert "second-edit" in (tmp_path / "b" / "gnu" / "stubs_linux_amd64.S").read_text()
    assert cli(*args, "-o", str(tmp_path / "a"), "--check").returncode == 1


# --- class 16: tables import reads only the tree and writes all files or none ----------

KERNEL = ROOT / "tests" / "fixtures" / "kernel"
TBL64 = "arch/x86/entry/syscalls/syscall_64.tbl"


@pytest.fixture
def import_dirs(tmp_path):
    import shutil

    from stubgen.resources import tables_dir

    shutil.copytree(KERNEL, tmp_path / "linux")
    shutil.copytree(tables_dir(), tmp_path / "arch")
    return tmp_path / "linux", tmp_path / "arch"


def _snapshot(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _linked_out(tmp_path, linux, rel, kind):
    """rel in the tree made a link to a copy of itself outside (the red team's), to a
    system file, or its directory linked out."""
    out = tmp_path / "outside"
    out.mkdir(exist_ok=True)
    target = linux / rel
    if kind == "dir":
        moved = out / target.parent.name
        target.parent.rename(moved)
        target.parent.symlink_to(moved)
        return
    if kind == "copy":
        (out / target.name).write_bytes(target.read_bytes())
        where = out / target.name
    else:
        where = Path(kind)
    target.unlink()
    target.symlink_to(where)


@pytest.mark.parametrize("rel,kind", [
    (TBL64, "copy"), (TBL64, "/etc/passwd"), (TBL64, "dir"), (TBL64, "/dev/zero"),
    ("arch/arm64/kernel/Makefile.syscalls", "copy"), ("Makefile", "copy"), ("mm/madvise.c", "copy"),
    ("mm/madvise.c", "/dev/zero"), ("include/linux/syscalls.h", "copy"),
])
def test_class16_import_never_follows_a_link_out_of_the_tree(tmp_path, import_dirs, rel, kind):
    linux, arch = import_dirs
    if not (linux / rel).exists():
        pytest.skip(f"the fixture tree has no {rel}")
    _linked_out(tmp_path, linux, rel, kind)
    before = _snapshot(arch)
    err = one_line_error(cli("tables", "import", "--kernel-src", str(linux), "--tables", str(arch)), 2)
    assert "outside" in err or "not a regular file" in err or "not found" in err, err
    assert _snapshot(arch) == before


@pytest.mark.parametrize("fail_at", [("stage", 0), ("stage", 1), ("stage", 2), ("replace", 0), ("replace", 1),
                                     ("replace", 2), ("link", 1)])
def test_class16_a_failed_write_changes_no_file(tmp_path, monkeypatch, fail_at):
    """A failed write once left new numbers files beside old signatures."""
    from stubgen.tables import atomic

    d = tmp_path / "t"
    (d / "numbers").mkdir(parents=True)
    files = [(d / "numbers" / "a.yaml", "new a\n"), (d / "numbers" / "b.yaml", "new b\n"),
             (d / "common" / "signatures.yaml", "new s\n")]
    for p, _ in files[:2]:
        p.write_text("old\n")
    what, k = fail_at
    calls = []
    real = {"stage": atomic.stage, "replace": os.replace, "link": os.link}[what]

    def failing(*a, **kw):
        calls.append(a)
        if len(calls) == k + 1:
            raise OSError(28, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(atomic, "stage", failing) if what == "stage" else monkeypatch.setattr(atomic.os, what, failing)
    with pytest.raises(OSError):
        atomic.write_all(files)
    monkeypatch.undo()
    assert _snapshot(d) == {"numbers/a.yaml": b"old\n", "numbers/b.yaml": b"old\n"}
    atomic.write_all(files)
    assert _snapshot(d) == {"numbers/a.yaml": b"new a\n", "numbers/b.yaml": b"new b\n",
                            "common/signatures.yaml": b"new s\n"}


def test_class16_import_end_to_end_is_one_unit(import_dirs, monkeypatch):
    from stubgen.kernelsrc import importer
    from stubgen.tables import atomic

    linux, arch = import_dirs
    before = _snapshot(arch)
    n = [0]
    real = os.replace

    def fails_late(a, b):
        n[0] += str(b).startswith(str(arch))  # not the cache's own writes
        if n[0] == 5:  # four files renamed, then the disk fails
            raise OSError(5, "Input/output error")
        return real(a, b)

    monkeypatch.setattr(atomic.os, "replace", fails_late)
    with pytest.raises(OSError):
        importer.run(str(linux), tables=str(arch))
    assert _snapshot(arch) == before


# --- class 11: untrusted input is bounded before it is read or expanded -------------------

def _sparse(path: Path, size: int, head: bytes = b""):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


@pytest.mark.parametrize("name,head", [("big.s", b".text\n"), ("big.S", b".text\n"),
                                       ("sys_linux_amd64.s", b"TEXT \xc2\xb7madvise(SB),0,$0\n")])
def test_class11_a_3_gb_foreign_file_is_refused_by_its_size(tmp_path, name, head):
    f = tmp_path / name
    _sparse(f, 3 << 30, head)
    r = cli("verify", str(f), "--arch", "amd64", "--stub", "madvise=madvise", timeout=60)
    one_line_error(r, 2, "bytes")


@pytest.mark.parametrize("header", ["big.h", "zero", "fifo"])
def test_class11_a_huge_or_endless_include_is_refused_unread(tmp_path, header):
    from stubgen.realtools.includes import walk
    from stubgen.verifier.foreign.preprocess import plan9_preprocess

    if header == "big.h":
        _sparse(tmp_path / header, 3 << 30)
    elif header == "fifo":
        os.mkfifo(tmp_path / header)
    else:
        (tmp_path / header).symlink_to("/dev/zero")
    for name in (header, "/dev/zero"):
        (tmp_path / "m.S").write_text(f"#include <{name}>\n" if name.startswith("/") else f'#include "{name}"\n')
        with pytest.raises(StubgenError, match="bytes|regular|outside|absolute|not found"):
            walk(tmp_path / "m.S", [str(tmp_path)], [])
        with pytest.raises(StubgenError, match="bytes|regular|outside"):
            plan9_preprocess(f'#include "{name}"\n' + PLAN9_BODY, tmp_path / "x.s", "amd64", [], [])


@pytest.mark.parametrize("size,uses", [(4000, 5000), (1 << 20, 5000), (100, 100000)])
def test_class11_macro_expansion_is_bounded_in_total(tmp_path, size, uses):
    from stubgen.verifier.foreign.preprocess import plan9_preprocess

    text = f"#define BIG {'x' * size}\n" + "BIG\n" * uses
    t = time.perf_counter()
    with pytest.raises(StubgenError, match="more than"):
        plan9_preprocess(text + PLAN9_BODY, tmp_path / "x.s", "amd64", [], [])
    assert time.perf_counter() - t < 20


def test_class11_a_5_gb_kernel_file_is_refused_by_its_size(import_dirs):
    linux, arch = import_dirs
    _sparse(linux / "kernel" / "huge.c", 5 << 30, b"SYSCALL_DEFINE0(x)\n")
    one_line_error(cli("tables", "import", "--kernel-src", str(linux), "--tables", str(arch)), 2, "bytes")


# --- class 12 (rest): 1,100-deep directories are no RecursionError -------------------------

def _deep(base: Path, depth: int = 1100) -> Path:
    d = base
    for _ in range(depth):  # one level at a time: mkdir(parents=True) itself recurses
        d = d / "d"
        d.mkdir()
    return d


def _undeep(base: Path) -> None:
    """Remove what _deep made, bottom up without recursion (shutil.rmtree, and with it
    pytest's clean-up of old temporary directories, recurses once per level)."""
    d = base / "d"
    if not d.is_dir():
        return
    while (d / "d").is_dir():
        d = d / "d"
    while d != base:
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
        d = d.parent


@pytest.fixture
def deep_cleanup(tmp_path):
    yield
    for base in (tmp_path / "linux", tmp_path / "arch", tmp_path / "tpl"):
        _undeep(base)


def test_class12_deep_directories_under_tables_templates_and_a_kernel_tree(tmp_path, import_dirs, monkeypatch,
                                                                           deep_cleanup):
    import shutil

    from stubgen.resources import templates_dir

    linux, arch = import_dirs
    (_deep(linux) / "x.c").write_text("int x;\n")
    r = cli("tables", "import", "--kernel-src", str(linux), "--tables", str(arch))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-800:]
    tpl = tmp_path / "tpl"
    shutil.copytree(templates_dir(), tpl)
    (_deep(tpl) / "x.j2").write_text("x\n")
    _deep(arch)
    env = dict(XDG_CACHE_HOME=str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
    r = cli("generate", "-a", "amd64", "-d", "gnu", "-s", "madvise", "--tables", str(arch), "--templates", str(tpl),
            "-o", str(tmp_path / "out"))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-800:]


# --- class 15: verify reads a directory under the lock generate writes it under -----------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two complete generated sets of one directory: plain, and with a symbol prefix."""
    import stubgen

    base = tmp_path_factory.mktemp("runs")
    for name, opts in (("a", {}), ("b", {"symbol_prefix": "x_"})):
        from stubgen.generator.stubs import Options

        stubgen.write(stubgen.generate(["madvise", "close", "getpid"], ["amd64"], ["gnu", "plan9"],
                                       options=Options(builtins="keep", **opts)), base / name)
    return base


def _consistent(specs) -> bool:
    return all(spec.symbol in text for text, spec in specs)


def test_class15_verify_waits_for_a_generate_in_progress(tmp_path, two_runs):
    """verify running while generate rewrote the directory gave false "failed" verdicts."""
    import fcntl
    import shutil
    import threading

    from stubgen.verifier.specs import manifest_specs

    out = tmp_path / "out"
    shutil.copytree(two_runs / "a", out)
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # generate's lock, taken as output.py takes it
    got = []
    reader = threading.Thread(target=lambda: got.append(manifest_specs(out)))
    reader.start()
    time.sleep(0.3)
    assert not got, "verify read the directory while its writer held the lock"
    # the writer replaces the set file by file (manifest last, as generate does)
    files = sorted(p.relative_to(two_runs / "b") for p in (two_runs / "b").rglob("*") if p.is_file())
    for rel in sorted(files, key=lambda r: r.name == "manifest.json"):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(two_runs / "b" / rel, out / rel)
        time.sleep(0.01)
    os.close(fd)
    reader.join(30)
    assert got and _consistent(got[0]) and all(s.symbol.startswith("x_") for _, s in got[0] if s.dialect == "gnu")


def test_class15_verify_beside_repeated_generates_sees_whole_sets(tmp_path, two_runs):
    import shutil

    from stubgen.verifier.specs import manifest_specs

    out = tmp_path / "out"
    shutil.copytree(two_runs / "a", out)
    script = ("import sys, stubgen\nfrom stubgen.generator.stubs import Options\n"
              "for i in range(int(sys.argv[2])):\n"
              "    o = Options(symbol_prefix='x_') if i % 2 == 0 else None\n"
              "    stubgen.write(stubgen.generate(['madvise', 'close', 'getpid'], ['amd64'], ['gnu', 'plan9'], "
              "options=o), sys.argv[1])\n")
    writer = subprocess.Popen([sys.executable, "-c", script, str(out), "8"], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    seen = 0
    try:
        while writer.poll() is None:
            try:
                specs = manifest_specs(out)
            except StubgenError as e:  # a killed run's journal: not expected here
                pytest.fail(str(e))
            assert _consistent(specs), "a manifest of one run beside the stubs of another"
            seen += 1
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == 0 and seen > 0


# --- class 10: table-supplied preambles and epilogues are an allowlist --------------------

BAD_DIRECTIVES = [".text", ".cfi_startproc", ".data", ".section .text", ".org 0x100000", ".rept 1000", ".end",
                  ".byte 0", ".set noreorder; .text", ".incbin x", ".option push", ".cfi_endproc", ".align 4096",
                  ".set noreorder\n.text"]


def _overlay(tmp_path, arch: str, old: str, new: str) -> Path:
    d = tmp_path / "tables"
    d.mkdir(exist_ok=True)
    text = (ROOT / "arch" / f"{arch}.yaml").read_text()
    assert old in text
    (d / f"{arch}.yaml").write_text(text.replace(old, new))
    return d


@pytest.mark.parametrize("bad", BAD_DIRECTIVES)
@pytest.mark.parametrize("where", ["keystone preamble", "llvm preamble", "llvm epilogue", "llvm syntax"])
def test_class10_engine_directives_from_tables_are_an_allowlist(tmp_path, bad, where):
    import json

    from stubgen import tables

    q = json.dumps(bad)
    arch, old, new = {
        "keystone preamble": ("mips", "preamble: [.set noreorder]", f"preamble: [{q}]"),
        "llvm preamble": ("riscv64", 'preamble: [".option norvc", ".option norelax"]', f"preamble: [{q}]"),
        "llvm epilogue": ("riscv64", "llvm: {triple: riscv64-linux-gnu, ", f"llvm: {{triple: riscv64-linux-gnu, epilogue: [{q}], "),
        "llvm syntax": ("riscv64", "llvm: {triple: riscv64-linux-gnu, ", f"llvm: {{triple: riscv64-linux-gnu, syntax: {{default: [{q}]}}, "),
    }[where]
    d = _overlay(tmp_path, arch, old, new)
    tables.load.cache_clear()
    with pytest.raises(StubgenError, match="is not one of") as e:
        tables.load(str(d))
    assert "\n" not in str(e.value) and f"{arch}.yaml" in str(e.value)


def test_class10_the_shipped_directives_and_companions_pass(tmp_path):
    from stubgen import tables

    d = _overlay(tmp_path, "mips", "preamble: [.set noreorder]", "preamble: [.set noreorder, .set noat]")
    tables.load.cache_clear()
    assert tables.load(str(d)).arch("mips").engines.keystone["preamble"] == [".set noreorder", ".set noat"]


def test_class10_the_red_teams_keystone_text_is_one_line_not_sigsegv(tmp_path):
    d = _overlay(tmp_path, "mips", "preamble: [.set noreorder]", "preamble: [.text]")
    r = cli("generate", "-a", "mips", "-d", "gnu", "-s", "madvise", "--verify", "--tables", str(d),
            "-o", str(tmp_path / "out"))
    one_line_error(r, 2, "preamble")
    assert r.returncode != -11


@pytest.mark.parametrize("line", [".cfi_startproc", "  .text", "frame?.cfi_endproc", "addi sp, sp, 16; .text",
                                  "addi sp, sp, 16 ; .cfi_startproc", "\t.option push"])
def test_class10_a_frame_epilogue_is_instructions_only(tmp_path, line):
    import shutil

    from stubgen import dialects
    from stubgen.resources import templates_dir

    tpl = tmp_path / "tpl"
    shutil.copytree(templates_dir(), tpl)
    f = tpl / "plan9" / "riscv64.lower.yaml"
    text = f.read_text()
    assert 'epilogue: ["ld ra, 0x0(sp)", "addi sp, sp, {size:#x}"]' in text
    f.write_text(text.replace('epilogue: ["ld ra, 0x0(sp)", "addi sp, sp, {size:#x}"]',
                              f'epilogue: ["ld ra, 0x0(sp)", {json_str(line)}]'))
    dialects.dialects.cache_clear()
    with pytest.raises(StubgenError) as e:
        dialects.dialect("plan9", str(tpl)).reading_rules("riscv64")
    assert "epilogue" in str(e.value) and "\n" not in str(e.value)


def json_str(s: str) -> str:
    import json

    return json.dumps(s)


# --- generated variations (as in test_hostile_properties.py) --------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEGMENTS = st.sampled_from(["..", ".", "", "sub", "ln", "lndir", "passwd", "secret", "etc", "dev", "zero", "x.h",
                             "/", "in", "a", "b"])
_NAMES = st.lists(_SEGMENTS, min_size=1, max_size=9).map("/".join)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=_NAMES, angle=st.booleans())
def test_class6_any_include_name_is_read_inside_or_refused(tmp_path_factory, name, angle):
    from stubgen.realtools.includes import walk
    from stubgen.verifier.foreign.preprocess import plan9_preprocess

    tmp = tmp_path_factory.mktemp("inc")
    here, secret, _ = _outside_tree(tmp)
    (here / "x.h").write_text("#define OK 1\n")
    (here / "sub" / "x.h").write_text("#define OK 2\n")
    form = f"#include <{name}>\n" if angle else f'#include "{name}"\n'
    inside = here.resolve()
    try:
        text, _ = plan9_preprocess(form + PLAN9_BODY, here / "x.s", "amd64", [], [])
        assert MARK not in text
    except StubgenError as e:
        assert MARK not in str(e)
    (here / "m.S").write_text(form)
    try:
        read = walk(here / "m.S", [], [])
    except StubgenError as e:
        assert MARK not in str(e)
        return
    assert all(p == inside or inside in p.parents for p in read), read


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(st.sampled_from(list(".abcdefghijklmnopqrstuvwxyz_ 0123456789;\n")), min_size=1, max_size=24))
def test_class10_any_directive_string_is_allowlisted_or_refused(directive):
    import jsonschema

    from stubgen.tables import schema

    doc = {"triple": "riscv64-linux-gnu", "preamble": [directive], "epilogue": [directive]}
    errors = list(jsonschema.Draft202012Validator(schema._LLVM).iter_errors(doc))
    if directive not in schema.LLVM_DIRECTIVES or directive not in schema.LLVM_EPILOGUE:
        assert errors, directive
