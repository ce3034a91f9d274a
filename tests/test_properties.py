"""Property-based tests: random tables, CLI arguments, stub bodies and kernel results
find no failure other than the documented ones (StubgenError, exit 2; a failed
verification, exit 1)."""
import contextlib
import io
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stubgen
from stubgen import resources, tables
from stubgen.cli import main
from stubgen.errors import StubgenError
from stubgen.verifier import Spec, Verifier

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.one_of(st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
                  st.sampled_from(["off", "on", "no", "yes", "../x", "a/b", "x\n.text", "", "1abc", "madvise",
                                   "read", "null", "~", "madvise\n"]),
                  st.text(max_size=8))
scalars = st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.booleans(), st.none(),
                    st.text(max_size=6), st.lists(st.integers(), max_size=2))


def _load(files: dict):
    """tables.load over a fresh directory holding files (relative path -> text)."""
    with tempfile.TemporaryDirectory() as d:
        for rel, text in files.items():
            p = Path(d) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        try:
            return tables.load(d)
        except StubgenError as e:
            assert str(e).strip(), "an error says what is wrong"
            return None
        finally:
            tables.load.cache_clear()


@FAST
@given(st.dictionaries(names, st.one_of(st.integers(-5, 2**32), scalars), max_size=8))
def test_random_numbers_tables(numbers):
    t = _load({"numbers/amd64.yaml": yaml.safe_dump({"numbers": numbers}, allow_unicode=True)})
    if t is not None:
        for name, n in t.arches["amd64"].numbers.items():
            assert name.isidentifier() and name.isascii() and isinstance(n, int) and 0 <= n < 2**31


@FAST
@given(st.text(max_size=120))
def test_random_yaml_text(text):
    _load({"numbers/arm.yaml": text})


arg = st.fixed_dictionaries({"name": names, "type": st.sampled_from(["uintptr", "int32", "int64", "bogus", 3])},
                            optional={"go": names, "role": st.sampled_from(["number", "other"])})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(names, st.fixed_dictionaries(
    {"args": st.lists(arg, max_size=9), "result": st.sampled_from(["long", "int32", "void", None])}), max_size=3))
def test_random_signatures_generate_or_fail_cleanly(sigs):
    text = yaml.safe_dump(sigs, allow_unicode=True)
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "common").mkdir()
        (Path(d) / "common" / "signatures.yaml").write_text(text)
        try:
            for name in sigs:
                stubgen.generate(syscalls=[name], tables=d)
        except StubgenError:
            pass
        finally:
            tables.load.cache_clear()


def _register_values(arch_doc):
    return st.lists(st.sampled_from(sorted(arch_doc["registers"]) + ["zz9", "pc", "Rax", "r99"]),
                    min_size=6, max_size=6)


@FAST
@given(_register_values(yaml.safe_load((resources.tables_dir() / "amd64.yaml").read_text())),
       st.sampled_from(["rax", "rdi", "nope", "RAX"]))
def test_random_register_names_in_a_table(args, number):
    doc = yaml.safe_load((resources.tables_dir() / "amd64.yaml").read_text())
    doc["kernel"]["args"], doc["kernel"]["number"] = args, number
    t = _load({"amd64.yaml": yaml.safe_dump(doc)})
    if t is not None:
        assert set(args) <= set(doc["registers"]) and len(set(args)) == 6


option_values = st.one_of(names, st.sampled_from(["amd64", "386", "arm", "x86_64", "gnu", "plan9", "raw",
                                                  "crash", "errno", "ignore", "madvise", "mmap,read", "all",
                                                  "386=vdso", "arm=svc"]))
flags = st.sampled_from(["-s", "-a", "-d", "-e", "--trap", "--go-package", "--symbol-prefix", "--errno-handler"])


@FAST
@given(st.lists(st.tuples(flags, option_values), max_size=4), st.booleans())
def test_random_cli_arguments(pairs, check):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out"
        argv = ["generate", "-o", str(out)] + [x for p in pairs for x in p] + (["--check"] if check else [])
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse's usage errors
                code = e.code
        assert code in (0, 1, 2), (argv, code)
        if code == 2:
            assert err.getvalue().count("\n") == 1, err.getvalue()
        for p in Path(d).rglob("*"):
            assert p == out or out in p.parents
        if check:
            assert not out.exists()


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


INSTRUCTIONS = ["mov $%#x, %%eax", "mov $%#x, %%rdi", "mov %%rdi, %%rsi", "add $%#x, %%rsp", "sub $%#x, %%rsp",
                "push %%rax", "pop %%rcx", "syscall", "ret", "jmp .Lx", "mov %%rax, %#x(%%rsp)", "nop",
                "mov %#x(%%rsp), %%rax", "ud2", "lea %#x(%%rip), %%rcx", "movl $%#x, (%%rcx)", ".Lx:"]


@FAST
@given(st.lists(st.tuples(st.sampled_from(INSTRUCTIONS), st.integers(0, 2**31 - 1)), max_size=8))
def test_random_stub_bodies_verify_or_fail_cleanly(verifier, body):
    lines = [(ins % v if "%#x" in ins else ins % ()) for ins, v in body]
    text = "\t.globl\tsys_madvise\nsys_madvise:\n" + "".join(
        (ln if ln.endswith(":") else "\t" + ln) + "\n" for ln in lines)
    rep = verifier.check(text, Spec("amd64", "gnu", "sys_madvise", "madvise", 28, "raw"))
    assert rep.ok or rep.problems
    rep.describe()


@FAST
@given(st.text(max_size=80))
def test_random_text_as_a_stub(verifier, body):
    rep = verifier.check("sys_madvise:\n" + body + "\n", Spec("arm", "gnu", "sys_madvise", "madvise", 220, "raw"))
    assert rep.ok or rep.problems


STUBS = {(s.arch, s.dialect, s.policy): s for pol in ("raw", "crash", "ignore", "errno")
         for s in stubgen.generate(dialects=["gnu"] if pol == "errno" else None, policy=pol)}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(STUBS)), st.lists(st.integers(-2**31, 2**31 - 1), min_size=1, max_size=3))
def test_generated_stubs_keep_their_contract_for_any_kernel_result(verifier, monkeypatch_injected, key, results):
    """Every shipped stub passes whatever the kernel answers, not only the seven
    results the verifier injects by default."""
    s = STUBS[key]
    monkeypatch_injected(tuple(results))
    rep = verifier.check(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
    assert rep.ok, rep.describe()


@FAST
@given(st.integers(-2**40, 2**40))
def test_random_numbers_in_a_spec(verifier, number):
    s = STUBS[("arm", "plan9", "raw")]
    rep = verifier.check(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, number, s.policy, s.trap))
    assert rep.ok == (number == s.number), rep.describe()


@pytest.fixture(scope="module")
def monkeypatch_injected():
    import stubgen.verifier.checker as v

    saved = v.INJECTED

    def set_(values):
        v.INJECTED = values

    yield set_
    v.INJECTED = saved
