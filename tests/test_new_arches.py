"""Issue 24: architectures Go has no port for, and the new rows (ppc, ...). An
architecture without a Go port is data (go_absent instead of goarch and go_abi0): the Go
dialect refuses it by name and is skipped for it when every dialect is asked for."""
import shutil
import subprocess
import sys
import warnings

import pytest
import yaml

import stubgen
from stubgen import resources, tables
from stubgen.errors import StubgenError


def _without_go(tmp_path, name="arm64"):
    """A copy of the shipped tables in which name has no Go port."""
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / f"{name}.yaml"
    d = yaml.safe_load(p.read_text())
    del d["goarch"], d["go_abi0"]
    d["go_absent"] = "a test's architecture"
    p.write_text(yaml.safe_dump(d))
    return tdir


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True)


def test_an_architecture_without_a_go_port_gets_the_c_dialect_only(tmp_path):
    tdir = str(_without_go(tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stubs = stubgen.generate(["madvise"], ["arm64", "riscv64"], tables=tdir)
    assert {(s.arch, s.dialect) for s in stubs} == {("arm64", "gnu"), ("riscv64", "gnu"), ("riscv64", "plan9")}
    assert any("plan9 skipped on arm64" in str(w.message) and "no linux port" in str(w.message) for w in caught)
    with pytest.raises(StubgenError, match="dialect plan9 needs a Go port; Go has no linux port for arm64"):
        stubgen.generate(["madvise"], ["arm64"], ["plan9"], tables=tdir)


def test_the_cli_says_so_in_list_and_refuses_plan9_in_one_line(tmp_path):
    tdir = str(_without_go(tmp_path))
    lines = {ln.split()[0]: ln for ln in _cli("list", "--tables", tdir).stdout.splitlines() if ln.startswith("  ")}
    assert "; no Go port;" in lines["arm64"] and "; goarch riscv64;" in lines["riscv64"]
    r = _cli("generate", "--tables", tdir, "-a", "arm64", "-d", "plan9", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "needs a Go port" in r.stderr, r.stderr


@pytest.mark.parametrize("drop, add", [(("goarch",), {}), (("go_abi0",), {}), ((), {"go_absent": "both"})])
def test_a_go_port_is_goarch_and_go_abi0_or_the_reason_there_is_none(tmp_path, drop, add):
    tdir = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tdir)
    p = tdir / "arm64.yaml"
    d = yaml.safe_load(p.read_text())
    for k in drop:
        del d[k]
    p.write_text(yaml.safe_dump({**d, **add}))
    with pytest.raises(StubgenError, match="arm64.yaml"):
        tables.load(str(tdir))
