"""The verdict cache (pipeline/verdicts.py): an unchanged stub's verdict comes from the
cache; a changed byte of the stub, its policy, a table or a template misses; a corrupt
or planted entry is not believed; --no-cache and STUBGEN_NO_CACHE turn it off."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil

import pytest

from stubgen import cli
from stubgen.errors import StubgenError
from stubgen.pipeline import verdicts
from stubgen.pipeline.verify_dir import summarise
from stubgen.resources import tables_dir, templates_dir
from stubgen.verifier import manifest_specs


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("STUBGEN_NO_CACHE", raising=False)
    monkeypatch.delenv(verdicts.OFF, raising=False)
    return tmp_path / "cache" / "stubgen" / verdicts.KIND


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("tree")
    rc = cli.main(["generate", "-o", str(out), "--syscalls", "close,getpid", "--arch", "amd64,arm64",
                   "--dialect", "gnu", "--errors", "errno"])
    assert rc == 0
    return out


def _run(specs, **kw):
    s = summarise(specs, real_tools=False, jobs=1, **kw)
    return s, [(r.spec.symbol, r.ok, r.problems, r.runs) for r, _ in s.reports]


def test_an_unchanged_stub_comes_from_the_cache_with_the_same_verdict(home, tree):
    specs = manifest_specs(tree)
    first, seen = _run(specs)
    assert first.cached == 0 and first.total == len(specs) == 4
    again, seen_again = _run(specs)
    assert again.cached == 4 and seen_again == seen and again.runs == first.runs


def test_a_changed_byte_or_policy_misses(home, tree):
    specs = manifest_specs(tree)
    _run(specs)
    text, spec = specs[0]
    edited = [(text.replace("\tsyscall", "\tsyscall ", 1), spec)] + specs[1:]
    assert edited[0][0] != text
    assert _run(edited)[0].cached == 3
    raw = [(text, dataclasses.replace(spec, policy="raw"))] + specs[1:]
    s, seen = _run(raw)
    assert s.cached == 3 and not seen[0][1]  # errno's code held to raw: a failure, found by running it


def test_a_failed_verdict_stays_failed(home, tree):
    text, spec = manifest_specs(tree)[0]
    broken = [(text, dataclasses.replace(spec, policy="raw"))]
    first = _run(broken)[1]
    s, again = _run(broken)
    assert s.cached == 1 and again == first and not again[0][1]


@pytest.mark.parametrize("what", ["tables", "templates"])
def test_a_changed_table_or_template_misses(home, tree, tmp_path, what):
    specs = manifest_specs(tree)
    src = tables_dir() if what == "tables" else templates_dir()
    mine = tmp_path / what
    shutil.copytree(src, mine)
    kw = {what: str(mine)}
    assert _run(specs, **kw)[0].cached == 0
    assert _run(specs, **kw)[0].cached == 4
    f = mine / "amd64.yaml" if what == "tables" else mine / "gnu" / "amd64.lower.yaml"
    f.write_text(f.read_text() + "\n# one more byte\n")
    assert _run(specs, **kw)[0].cached == 0


def test_a_corrupt_entry_is_rebuilt(home, tree):
    specs = manifest_specs(tree)
    _, seen = _run(specs)
    entries = sorted(home.glob("*.json"))
    assert len(entries) == 4
    entries[0].write_text('{"format": 1, "report": {"problems": "not a list"')
    entries[1].write_text('{"format": 1, "report": {"problems": 7}, "compared": []}')
    s, again = _run(specs)
    assert s.cached == 2 and again == seen
    assert _run(specs)[0].cached == 4  # rebuilt


def test_a_symlinked_entry_is_refused(home, tree, tmp_path):
    specs = manifest_specs(tree)
    _run(specs)
    entry = sorted(home.glob("*.json"))[0]
    planted = tmp_path / "planted.json"
    planted.write_bytes(entry.read_bytes())
    entry.unlink()
    entry.symlink_to(planted)
    assert _run(specs)[0].cached == 3


def test_an_oversized_entry_is_not_read(home, tree, monkeypatch):
    specs = manifest_specs(tree)
    _run(specs)
    monkeypatch.setattr(verdicts, "MAX_BYTES", 16)
    assert _run(specs)[0].cached == 0


def _cli(tree, *extra) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["verify", str(tree), "--no-real-tools", "-j", "1", *extra]) == 0
    return out.getvalue()


def test_the_summary_says_how_many_came_from_the_cache_and_no_cache_turns_it_off(home, tree, monkeypatch):
    assert "from the cache" not in _cli(tree)
    assert "note: 4 of 4 verdicts from the cache" in _cli(tree)
    assert "from the cache" not in _cli(tree, "--no-cache")
    monkeypatch.setenv("STUBGEN_NO_CACHE", "1")
    assert "from the cache" not in _cli(tree)


def test_no_cache_env_writes_nothing(home, tree, monkeypatch):
    monkeypatch.setenv("STUBGEN_NO_CACHE", "1")
    specs = manifest_specs(tree)
    assert _run(specs)[0].cached == 0 and _run(specs)[0].cached == 0
    assert not home.exists()


def test_generate_verify_uses_it(home, tmp_path):
    out = tmp_path / "g"
    args = ["generate", "-o", str(out), "--syscalls", "getpid", "--arch", "amd64", "--dialect", "gnu", "--verify",
            "-j", "1"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(args) == 0
        assert cli.main(args + ["--force"]) == 0
    assert buf.getvalue().count("verdicts from the cache") == 1


def test_a_manifest_that_passed_its_schema_is_checked_again_once_changed(home, tmp_path):
    # The schema's verdict on a manifest is cached by its content too.
    out = tmp_path / "m"
    assert cli.main(["generate", "-o", str(out), "--syscalls", "getpid", "--arch", "amd64", "--dialect", "gnu"]) == 0
    _cli(out)
    _cli(out)
    man = out / "manifest.json"
    text = man.read_text()
    man.write_text(text.replace('"number": 39', '"number": "39"', 1))
    assert man.read_text() != text
    with pytest.raises(StubgenError, match="number"):  # only the schema says so
        manifest_specs(out)
