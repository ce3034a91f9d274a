"""The generated Plan 9 package passes go vet (asmdecl) and go build for every GOARCH."""
import subprocess

import pytest

import stubgen
from stubgen import tables

GOARCHES = sorted({a.goarch for a in tables.load().arches.values() if a.goarch})
pytestmark = pytest.mark.crosscheck


def go(env, goarch, *args, cwd):
    return subprocess.run(["go", *args], cwd=cwd, env=dict(env, GOARCH=goarch), capture_output=True, text=True)


@pytest.fixture(scope="module", params=["raw", "crash", "ignore"])
def package(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    stubgen.write(stubgen.generate(dialects=["plan9"], policy=request.param), out)
    pkg = out  # the Plan 9 dialect alone: -o DIR is the package directory
    (pkg / "go.mod").write_text("module example.com/stubs\n\ngo 1.21\n")
    return pkg


@pytest.mark.parametrize("goarch", GOARCHES)
def test_go_vet_and_build(go_env, package, goarch):
    for cmd in (["vet", "."], ["build", "."]):
        r = go(go_env, goarch, *cmd, cwd=package)
        assert r.returncode == 0, f"go {' '.join(cmd)} GOARCH={goarch}:\n{r.stdout}{r.stderr}"


def test_generated_go_is_gofmt_clean(go_env, tmp_path):
    out = tmp_path / "out"
    stubgen.write(stubgen.generate("all", dialects=["plan9"]), out)
    goroot = subprocess.run(["go", "env", "GOROOT"], env=go_env, capture_output=True, text=True).stdout.strip()
    r = subprocess.run([f"{goroot}/bin/gofmt", "-l", "."], cwd=out, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    (out / "stubs_linux.go").write_text((out / "stubs_linux.go").read_text() + "func  x() {}\n")
    r = subprocess.run([f"{goroot}/bin/gofmt", "-l", "."], cwd=out, capture_output=True, text=True)
    assert "stubs_linux.go" in r.stdout


def test_every_linux_goarch_has_a_table(go_env):
    # Go's own list of ports, not ours: a linux GOARCH without a table is a gap.
    r = subprocess.run(["go", "tool", "dist", "list"], env=go_env, capture_output=True, text=True, check=True)
    linux = {ln.split("/", 1)[1] for ln in r.stdout.split() if ln.startswith("linux/")}
    assert len(linux) >= 13 and linux <= set(GOARCHES), sorted(linux - set(GOARCHES))
