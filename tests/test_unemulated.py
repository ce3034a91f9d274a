"""Architectures (or stubs) the emulator cannot run: the other oracles still decide,
the stub is never reported as emulated or as passed, and the reason is shown. The
tables here are copies of the shipped ones with one engine taken away, so the
shipped architectures' facts do not have to change for the test."""
import io
import shutil

import pytest
import yaml

import stubgen
from stubgen import tables as tables_mod
from stubgen.pipeline.mutants import kill_table
from stubgen.pipeline.verify_dir import verify_dir
from stubgen.realtools import oracles
from stubgen.verifier import Verifier, stub_specs, verify


def _tables(tmp_path, arch: str, change) -> str:
    from stubgen import resources

    root = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), root)
    doc = yaml.safe_load((root / f"{arch}.yaml").read_text())
    change(doc["engines"])
    (root / f"{arch}.yaml").write_text(yaml.safe_dump(doc))
    return str(root)


def _no_emulator(engines):
    del engines["unicorn"]
    engines.pop("qemu", None)  # no second emulator either
    engines["absent"] = {"unicorn": "this test's Unicorn has no such architecture"}


def _no_engines(engines):
    del engines["unicorn"], engines["capstone"]
    engines.pop("qemu", None)
    engines["absent"] = {"unicorn": "no emulator here", "capstone": "no decoder here"}


def _cannot_run(mnemonic):
    def change(engines):
        engines["unicorn"]["cannot_run"] = {"mnemonics": [mnemonic], "why": "this test's Unicorn lacks it"}
        engines.pop("qemu", None)  # (with it, QEMU runs the stub: tests/test_qemu_engine.py)
    return change


def test_without_an_emulator_stubs_are_assembled_but_not_emulated(tmp_path):
    t = _tables(tmp_path, "arm64", _no_emulator)
    stubs = stubgen.generate("madvise", ["arm64"], ["gnu", "plan9"], tables=t)
    reports = verify(stubs)
    assert reports and all(r.ok and not r.emulated and r.runs == 0 for r in reports)
    assert all("this test's Unicorn has no such architecture" in " ".join(r.not_run) for r in reports)
    assert all("not emulated" in r.describe() for r in reports)


def test_what_only_the_emulator_would_catch_is_reported_unemulated_never_passed(tmp_path):
    """A wrong syscall number assembles and decodes fine: only a run shows it. Without
    an emulator such a stub is named as not emulated, and the summary does not count it
    as passed."""
    t = _tables(tmp_path, "arm64", _no_emulator)
    (stub,) = stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t)
    text, spec = stub_specs([stub])[0]
    broken = text.replace(f"{233:#x}", f"{234:#x}")
    assert broken != text
    rep = Verifier(t).check(broken, spec)
    assert not rep.emulated and rep.not_run
    with_emulator = Verifier().check(broken, spec)
    assert not with_emulator.ok  # the shipped tables run it, and the run sees the number
    out = io.StringIO()
    d = tmp_path / "out"
    stubgen.write(stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t), d)
    assert verify_dir(d, tables=t, real_tools=False, out=out, jobs=1) == 0
    summary = out.getvalue()
    assert "0 passed, 1 not emulated" in summary, summary
    assert "this test's Unicorn has no such architecture" in summary


def test_without_a_decoder_the_bytes_are_still_assembled_twice(tmp_path):
    t = _tables(tmp_path, "arm64", _no_engines)
    stubs = stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t)
    (rep,) = verify(stubs)
    assert rep.ok and not rep.emulated
    assert any("no decoder here" in n for n in rep.not_run)
    arch = tables_mod.load(t).arch("arm64")
    found = oracles.oracles(arch)
    assert found["Unicorn"] == oracles.ABSENT and found["Capstone"] == oracles.ABSENT
    assert oracles.absent_why(arch, "Unicorn") == "no emulator here"


def test_a_stub_holding_an_instruction_the_emulator_cannot_run_is_not_run(tmp_path):
    t = _tables(tmp_path, "arm64", _cannot_run("svc"))
    (rep,) = verify(stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t))
    assert rep.ok and not rep.emulated
    assert "Unicorn cannot run svc" in " ".join(rep.not_run)
    # An instruction the stub does not hold changes nothing: it is run as before.
    t2 = _tables(tmp_path / "2", "arm64", _cannot_run("ldxr"))
    (rep2,) = verify(stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t2))
    assert rep2.ok and rep2.emulated and not rep2.not_run


def test_mutants_of_stubs_the_emulator_cannot_run_are_not_counted_as_killed(tmp_path):
    t = _tables(tmp_path, "arm64", _no_emulator)
    d = tmp_path / "out"
    stubgen.write(stubgen.generate("madvise", ["arm64"], ["gnu"], tables=t), d)
    from stubgen.verifier import manifest_specs

    out = io.StringIO()
    assert kill_table(Verifier(t), manifest_specs(d), out=out) == 0
    text = out.getvalue()
    assert "mutants: 0/0 killed" in text
    assert "mutants not counted:" in text and "arm64/gnu" in text


def test_engines_may_be_left_out_but_an_assembler_is_required(tmp_path):
    t = _tables(tmp_path, "arm64", lambda e: (e.pop("keystone"), e.pop("llvm")))
    from stubgen.errors import StubgenError

    with pytest.raises(StubgenError, match="engines"):
        tables_mod.load(t)
