"""Issue 9: hypothesis generates hostile inputs of every class (manifests and paths,
assembly text, table strings, lowering rules and regexes, templates, file-system
states, YAML and JSON, options). Whatever comes in, stubgen answers with a result
or a StubgenError, within bounded time, and never half-writes or reads outside.
Bounded: each test has a fixed number of examples and no deadline per example;
the whole module runs in well under 30 s."""
import json
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stubgen
from stubgen import dialects, tables
from stubgen.errors import StubgenError
from stubgen.generator import files, output
from stubgen.tables import inputs, manifest, yamlio

FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def generated_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "out"
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["amd64"]), out)
    return out


# --- class 1: paths ------------------------------------------------------------------------

_SEGMENTS = st.sampled_from(["..", ".", "gnu", "etc", "passwd", "", "dev", "zero", "x.S", "link", "fifo", "/"])
_PATHS = st.one_of(st.lists(_SEGMENTS, min_size=1, max_size=6).map("/".join),
                   st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40))


@FAST
@given(_PATHS)
def test_any_manifest_path_is_read_inside_the_directory_or_refused(generated_dir, rel):
    root = generated_dir.resolve()
    try:
        p = inputs.confined(generated_dir / rel, [generated_dir])
    except StubgenError:
        return
    assert p == root or root in p.parents
    try:
        text = manifest.read_listed(generated_dir, rel)
    except StubgenError:
        return
    assert len(text) <= inputs.MAX_BYTES


# --- class 2: assembly text for the real tools and the engines ------------------------------

_DIRECTIVES = st.sampled_from([".incbin", ".include", ".rept", ".irp", ".irpc", ".macro", ".fill", ".space",
                               ".skip", ".zero", ".org", ".p2align", ".text", ".globl", ".size", ".cfi_startproc"])
_LINE = st.one_of(
    st.tuples(st.sampled_from(["", "a:", ".Lx:", "\t", "x: ;", "nop;"]), _DIRECTIVES,
              st.sampled_from(["", " 30", " 4", ' "/etc/passwd"', " 100000000"])).map("".join),
    st.text(st.sampled_from(list("abc.;:#@ \t()[]{}|*+-,$%0123456789")), max_size=30),
)
_REFUSED = re.compile(r"(?:^|[;:])\s*\.(incbin|include|rept|irpc?|macro|fill|space|skip|zero|org)\b")


@FAST
@given(st.lists(_LINE, max_size=8))
def test_real_tools_never_get_a_directive_that_reads_or_repeats(lines):
    from stubgen.realtools import tools as realtools

    text = "\n".join(lines)
    try:
        realtools.check_gnu_source(text)
    except realtools.ToolFailed as e:
        assert "refused" in str(e)
        return
    assert not any(_REFUSED.search(ln) for ln in text.splitlines())


@pytest.fixture(scope="module")
def verifier():
    from stubgen.verifier import Verifier

    return Verifier()


@SLOW
@given(st.lists(st.text(st.sampled_from(list("movlqeaxbcdr%$0x123,() |[]*+lock")), max_size=24), max_size=4))
def test_untrusted_text_is_checked_in_a_child_and_answers(verifier, monkeypatch_isolate, body):
    from stubgen.verifier import Spec

    text = ("\t.globl\tsys_madvise\nsys_madvise:\n" + "".join(f"\t{ln}\n" for ln in body)
            + "\tret\n\t.size\tsys_madvise, .-sys_madvise\n")
    spec = Spec("amd64", "gnu", "sys_madvise", "madvise", 28, "raw", "syscall", rendered=False)
    t = time.monotonic()
    rep = verifier.check(text, spec)
    assert time.monotonic() - t < 10
    assert isinstance(rep.ok, bool)


@pytest.fixture(scope="module")
def monkeypatch_isolate():
    from stubgen.verifier import isolate

    saved = isolate.SECONDS, isolate.SECONDS_PER_ITEM
    isolate.SECONDS, isolate.SECONDS_PER_ITEM = 2.0, 0.0
    yield
    isolate.SECONDS, isolate.SECONDS_PER_ITEM = saved


# --- class 3: table strings ------------------------------------------------------------------

@FAST
@given(st.text(max_size=300))
def test_a_provenance_string_is_one_plain_line_in_the_output_or_refused(tmp_path_factory, value):
    t = tmp_path_factory.mktemp("t")
    (t / "numbers").mkdir()
    (t / "numbers" / "amd64.yaml").write_text(
        "provenance:\n  kernel: " + json.dumps(value) + "\nnumbers: {madvise: 28}\n", encoding="utf-8")
    tables.load.cache_clear()
    try:
        stubs = stubgen.generate(arches=["amd64"], dialects=["gnu"], tables=str(t))
        rendered = files.render_files(stubs)
    except StubgenError:
        return
    finally:
        tables.load.cache_clear()
    assert len(value) <= 200 and value.isprintable() and "*/" not in value
    for text, _ in rendered.values():
        for line in text.splitlines():
            assert ".incbin" not in line or "/*" in line


# --- class 4: lowering rules, regexes, templates ------------------------------------------------

class _Operand:
    secret = "SECRET"

    def __format__(self, spec):
        return "op"


@FAST
@given(st.text(st.sampled_from(list("{}0123.!:r32_clsdx#><[]^acond_globals")), max_size=30))
def test_a_lowering_rule_formats_plain_fields_or_is_refused(rule):
    try:
        out = dialects.rules.plain_format(rule, (_Operand(), _Operand()), {"cond": "c"}, frozenset({"pool"}))
    except (StubgenError, AttributeError):
        return
    # Only plain fields: no attribute's value and no object's repr ("<... object at 0x...>")
    # reaches the output ('<{{' is the literal '<{').
    assert "SECRET" not in out and " object at " not in out


_REGEX = st.text(st.sampled_from(list("a.*+?()|[]\\sQ{}1,")), max_size=14)


@FAST
@given(_REGEX)
def test_a_mutation_regex_that_is_accepted_runs_quickly(pattern):
    problem = dialects.rules.regex_problem(pattern)
    if problem:
        return
    t = time.monotonic()
    re.sub(pattern, "x", "a" * 25 + "\n\tsyscall\n" + " " * 25)
    assert time.monotonic() - t < 1.0, pattern


_PIECES = st.sampled_from([
    "{% for i in range(100000) %}", "{% endfor %}", "{{ 9 ** 99 }}", "{{ 'x' * 1000 }}", "{{ '%5000d' % 1 }}",
    "{{ '{:99}'.format(1) }}", "{{ 'x'|center(100) }}", "{{ arches[0].numbers.update({}) }}", "x",
    "{% set n = namespace(x=3) %}", "{% set n.x = n.x * n.x %}", "{{ n.x }}", "{{ arches[0].name }}",
])


@SLOW
@given(st.lists(_PIECES, max_size=6))
def test_any_template_renders_or_fails_in_one_line_within_its_budget(tmp_path_factory, monkeypatch_render, pieces):
    from stubgen.resources import templates_dir

    tp = tmp_path_factory.mktemp("tp")
    (tp / "gnu").mkdir()
    (tp / "gnu" / "header.h.j2").write_text((templates_dir() / "gnu" / "header.h.j2").read_text() + "".join(pieces))
    dialects.dialects.cache_clear()
    t = time.monotonic()
    try:
        text = dict(files.render_files(stubgen.generate(arches=["amd64"], dialects=["gnu"], templates=str(tp))))
        assert all(len(v[0]) <= dialects.sandbox.MAX_OUTPUT for v in text.values())
    except StubgenError as e:
        assert "\n" not in str(e)
    assert time.monotonic() - t < 5
    assert stubgen.generate(arches=["amd64"], dialects=["gnu"])[0].number == 28  # the tables are unchanged


@pytest.fixture(scope="module")
def monkeypatch_render():
    saved = dialects.sandbox.RENDER_SECONDS
    dialects.sandbox.RENDER_SECONDS = 0.5
    yield
    dialects.sandbox.RENDER_SECONDS = saved


# --- classes 5 and 6: file-system states ---------------------------------------------------------

_STATES = st.sampled_from(["missing", "ours", "foreign", "fifo", "dir", "symlink-out"])


@SLOW
@given(st.lists(_STATES, min_size=3, max_size=3), st.integers(0, 9))
def test_a_write_leaves_the_complete_old_set_or_the_complete_new_set(tmp_path_factory, states, fail_at):
    out = tmp_path_factory.mktemp("w") / "out"
    old_stubs = stubgen.generate(arches=["amd64"], dialects=["gnu"])
    stubgen.write(old_stubs, out)
    rels = ["gnu/stubs.h", "gnu/stubs_linux_amd64.S", "gnu/stubs_sysnum_amd64.h"]
    for rel, state in zip(rels, states):
        p = out / rel
        if state == "ours":
            continue
        p.unlink()
        if state == "foreign":
            p.write_text("mine\n")
        elif state == "fifo":
            os.mkfifo(p)
        elif state == "dir":
            p.mkdir()
        elif state == "symlink-out":
            p.symlink_to("/etc/passwd")
    before = {str(p.relative_to(out)): (p.read_bytes() if p.is_file() and not p.is_symlink() else p.is_dir())
              for p in out.rglob("*")}
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device", str(dst))
        return real(src, dst)

    new = stubgen.generate(arches=["amd64"], dialects=["gnu"], policy="ignore")
    output.os.replace = failing
    try:
        stubgen.write(new, out)
        ok = True
    except StubgenError:
        ok = False
    finally:
        output.os.replace = real
    after = {str(p.relative_to(out)): (p.read_bytes() if p.is_file() and not p.is_symlink() else p.is_dir())
             for p in out.rglob("*")}
    if ok:
        assert not files.check(new, out)
    else:
        assert after == before
    assert not [p for p in out.rglob(".*")]


# --- class 7: YAML and JSON of any shape ----------------------------------------------------------

_YAML = st.lists(st.sampled_from(list("ab:- \n[]{}&*!,'\"#0123456789.") + ["\t", "yes", "on", "<<", "&a ", "*a",
                                                                      "\n  ", "!!python/object "]),
                 max_size=40).map("".join)


@FAST
@given(_YAML)
def test_any_yaml_is_read_or_refused_in_lines(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("y") / "x.yaml"
    f.write_text(text)
    doc = yamlio.read(f)
    assert all("\n" not in p for p in doc.problems)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
                         ["files", "path", "dialect", "arch", "symbols", "name", "syscall", "number", "policy",
                          "options", "errno_handler", "trap"]), c, max_size=4), max_leaves=25)


@FAST
@given(_JSON)
def test_any_manifest_is_read_or_refused(tmp_path_factory, value):
    d = tmp_path_factory.mktemp("m")
    (d / "manifest.json").write_text(json.dumps(value))
    try:
        man = manifest.read_manifest(d)
    except StubgenError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(man["files"], list)


# --- class 8: options --------------------------------------------------------------------------------

@FAST
@given(st.sampled_from(["-s", "-a", "-d"]), st.text(st.sampled_from(list(", madvise386amd64gnuplan9")), max_size=12))
def test_an_option_list_is_used_as_given_or_refused(tmp_path_factory, capsys, flag, value):
    from stubgen.cli import main

    out = tmp_path_factory.mktemp("o") / "out"
    try:
        code = main(["generate", "-o", str(out), flag, value])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    if code == 0:
        names = [v.strip() for v in value.split(",")]
        assert all(names) and Path(out, "manifest.json").exists()
    else:
        assert code == 2 and err.count("\n") <= 1 and not out.exists()
