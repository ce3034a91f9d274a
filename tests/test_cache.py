"""The on-disk cache of validated tables and compiled templates: used when nothing
changed, never when a file did, and never the cause of a failed run."""
import shutil

import pytest

import stubgen
from stubgen import dialects, tables
from stubgen.resources import tables_dir, templates_dir


def _forget():
    """Drop what this process remembers, so that the next load goes to the disk cache."""
    for f in (tables.load, dialects.sandbox.environment, dialects.sandbox.template_module, dialects.dialects):
        f.cache_clear()


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("STUBGEN_NO_CACHE", raising=False)
    _forget()
    yield home / "stubgen"
    _forget()


@pytest.fixture
def own_tables(tmp_path):
    d = tmp_path / "tables" / "numbers"
    d.mkdir(parents=True)
    shutil.copy(tables_dir() / "numbers" / "amd64.yaml", d / "amd64.yaml")
    return d.parent


def _refuse_to_parse(monkeypatch):
    def parse(*a, **k):
        raise AssertionError("tables parsed although the cache holds them")
    monkeypatch.setattr(tables.loader, "_read_yaml", parse)


def test_tables_come_from_the_cache_until_a_file_changes(cache_home, own_tables, monkeypatch):
    first = tables.load(str(own_tables))
    assert list((cache_home / "tables").glob("*.pickle"))
    _forget()
    with monkeypatch.context() as m:
        _refuse_to_parse(m)
        assert tables.load(str(own_tables)) == first
    # The user's file changes: the cached tables must not be used.
    f = own_tables / "numbers" / "amd64.yaml"
    f.write_text(f.read_text().replace("madvise: 28\n", "madvise: 4242\n"))
    _forget()
    assert tables.load(str(own_tables)).arch("amd64").numbers["madvise"] == 4242


def test_a_changed_table_file_is_never_served_stale(cache_home, own_tables, monkeypatch):
    tables.load(str(own_tables))
    f = own_tables / "numbers" / "amd64.yaml"
    f.write_text(f.read_text() + "\n# an edit that changes nothing but the bytes\n")
    _forget()
    with monkeypatch.context() as m:
        _refuse_to_parse(m)
        with pytest.raises(AssertionError, match="tables parsed"):
            tables.load(str(own_tables))


def test_corrupt_entries_are_ignored(cache_home, own_tables):
    want = tables.load(str(own_tables))
    text = stubgen.generate(arches=["arm"], dialects=["gnu"])[0].text
    entries = [p for p in cache_home.rglob("*") if p.is_file()]
    assert {p.parent.parent.name if p.suffix == ".jinja" else p.parent.name for p in entries} >= {"tables", "jinja"}
    from jinja2.bccache import bc_magic

    good = {p: p.read_bytes() for p in entries}
    # Empty, not a pickle, cut in half, or a right header before junk (Jinja itself
    # lets the pickle error of the last one through).
    for damage in (lambda b: b"", lambda b: b"garbage", lambda b: b[: len(b) // 2], lambda b: bc_magic + b"junk"):
        for p, b in good.items():
            p.write_bytes(damage(b))
        _forget()
        assert tables.load(str(own_tables)) == want
        assert stubgen.generate(arches=["arm"], dialects=["gnu"])[0].text == text


def test_compiled_templates_come_from_the_cache_until_one_changes(cache_home, tmp_path, monkeypatch):
    import jinja2

    own = tmp_path / "templates" / "gnu"
    own.mkdir(parents=True)
    shutil.copy(templates_dir() / "gnu" / "amd64.S.j2", own / "amd64.S.j2")
    before = stubgen.generate(arches=["amd64"], dialects=["gnu"], options=stubgen.Options(templates=str(own.parent)))
    assert list((cache_home / "jinja").rglob("*.jinja"))
    _forget()

    def compile_(*a, **k):
        raise AssertionError("template compiled although the cache holds it")
    with monkeypatch.context() as m:
        m.setattr(jinja2.Environment, "compile", compile_)
        again = stubgen.generate(arches=["amd64"], dialects=["gnu"], options=stubgen.Options(templates=str(own.parent)))
    assert [s.text for s in again] == [s.text for s in before]
    f = own / "amd64.S.j2"
    f.write_text(f.read_text().replace("\tsyscall\n", "\tsyscall /* edited */\n", 1))
    _forget()
    edited = stubgen.generate(arches=["amd64"], dialects=["gnu"], options=stubgen.Options(templates=str(own.parent)))
    assert "/* edited */" in edited[0].text


def test_no_cache_when_turned_off(cache_home, own_tables, monkeypatch):
    monkeypatch.setenv("STUBGEN_NO_CACHE", "1")
    tables.load(str(own_tables))
    stubgen.generate(arches=["arm"])
    assert not cache_home.exists()


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch, own_tables):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.delenv("STUBGEN_NO_CACHE", raising=False)
    _forget()
    try:
        assert tables.load(str(own_tables)).arch("amd64").numbers["madvise"] == 28
        assert stubgen.generate(arches=["arm"])
    finally:
        _forget()


def test_a_cache_others_can_write_is_not_used(cache_home, own_tables, monkeypatch):
    tables.load(str(own_tables))
    assert list((cache_home / "tables").glob("*.pickle"))
    cache_home.chmod(0o777)  # e.g. XDG_CACHE_HOME=/tmp and someone else made stubgen/
    try:
        _forget()
        with monkeypatch.context() as m:
            _refuse_to_parse(m)
            with pytest.raises(AssertionError, match="tables parsed"):
                tables.load(str(own_tables))
    finally:
        cache_home.chmod(0o700)


def test_a_warm_generate_imports_no_parser_validator_or_engine(tmp_path):
    import json
    import os
    import subprocess
    import sys

    probe = ("import json, sys\nfrom stubgen.cli import main\n"
             f"main(['generate', '-o', {str(tmp_path / 'out')!r}, '--force'])\n"
             "print(json.dumps(sorted(m for m in ('yaml', 'jsonschema', 'jinja2', 'unicorn', 'keystone', 'capstone') "
             "if m in sys.modules)))")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("STUBGEN_NO_CACHE", None)
    runs = [subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
            for _ in range(2)]
    first, second = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert "yaml" in first and "jsonschema" in first  # a cold cache parses and validates
    assert second == []


def test_old_entries_are_pruned(cache_home, own_tables, monkeypatch):
    from stubgen.tables import cache

    monkeypatch.setattr(cache, "KEEP", 4)
    f = own_tables / "numbers" / "amd64.yaml"
    text = f.read_text()
    for i in range(7):  # seven versions of the file, each with its own entries
        f.write_text(text + f"\n# edit {i}\n")
        _forget()
        tables.load(str(own_tables))
    for kind in ("tables", "yaml"):
        assert 0 < len(list((cache_home / kind).iterdir())) <= 4, kind
    # The newest is kept: the last load comes from the cache.
    _forget()
    with monkeypatch.context() as m:
        _refuse_to_parse(m)
        tables.load(str(own_tables))


def test_a_frame_is_planned_again_for_other_tables():
    import dataclasses

    from stubgen.generator import layout

    t = tables.load()
    arch = t.arch("amd64")
    sig = t.signature(arch, "madvise")
    first = layout.plan(arch, sig, True)
    assert layout.plan(arch, sig, True) is first
    assert layout.plan(arch, sig, False).result is None
    # Other tables with the same names: the kernel takes the first argument elsewhere.
    other = dataclasses.replace(arch, kernel=dataclasses.replace(arch.kernel, args=("rsi",) + arch.kernel.args[1:]))
    assert layout.plan(other, sig, True).args[0].parts[0].kreg == "rsi"
    assert first.args[0].parts[0].kreg == arch.kernel.args[0]


def _generate(*args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "stubgen", "generate", *args], capture_output=True, text=True)


def test_a_repeated_generate_writes_the_cached_files_and_gives_its_warnings_again(cache_home, tmp_path):
    args = ["-a", "amd64", "-d", "plan9", "-s", "close,madvise"]
    first = _generate("-o", str(tmp_path / "a"), *args)
    assert first.returncode == 0, first.stderr
    assert list((cache_home / "output").glob("*.pickle"))
    second = _generate("-o", str(tmp_path / "b"), *args)
    assert second.returncode == 0, second.stderr
    for f in (tmp_path / "a").rglob("*"):
        if f.is_file():
            assert (tmp_path / "b" / f.relative_to(tmp_path / "a")).read_bytes() == f.read_bytes()
    assert "shadows the Go builtin 'close'" in first.stderr
    assert second.stderr == first.stderr  # the warning, given again from the cache


def test_a_changed_template_is_never_served_from_the_output_cache(cache_home, tmp_path):
    shutil.copytree(templates_dir(), tmp_path / "tpl")
    args = ["-a", "amd64", "-d", "gnu", "--templates", str(tmp_path / "tpl")]
    assert _generate("-o", str(tmp_path / "a"), *args).returncode == 0
    f = tmp_path / "tpl" / "gnu" / "asm.S.j2"
    f.write_text(f.read_text() + "\n/* a-marker-of-this-test */\n")
    r = _generate("-o", str(tmp_path / "b"), *args)
    assert r.returncode == 0, r.stderr
    again = _generate("-o", str(tmp_path / "c"), *args, "--symbol-prefix", "x_")  # another option: another key
    assert again.returncode == 0, again.stderr
    a = (tmp_path / "a" / "gnu" / "stubs_linux_amd64.S").read_text()
    b = (tmp_path / "b" / "gnu" / "stubs_linux_amd64.S").read_text()
    c = (tmp_path / "c" / "gnu" / "stubs_linux_amd64.S").read_text()
    assert "a-marker-of-this-test" not in a and "a-marker-of-this-test" in b
    assert "x_madvise" in c and "x_madvise" not in b


def test_no_output_cache_when_turned_off(cache_home, tmp_path, monkeypatch):
    monkeypatch.setenv("STUBGEN_NO_CACHE", "1")
    assert _generate("-o", str(tmp_path / "a"), "-a", "amd64").returncode == 0
    assert not (cache_home / "output").exists()
