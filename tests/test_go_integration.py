"""What a Go project expects of the Plan 9 output: the package written where it
belongs (-d plan9 -o DIR: DIR is the package), `go generate` in a module, exported
names on request, //go:noescape where pointers are passed, and no silent shadowing
of Go's builtins."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import stubgen
from stubgen import cli, tables
from stubgen.errors import StubgenWarning

GOARCHES = sorted({a.goarch for a in tables.load().arches.values()})
REPO = Path(stubgen.__file__).resolve().parent.parent


def test_plan9_alone_writes_the_package_into_the_output_directory(tmp_path):
    stubgen.write(stubgen.generate(dialects=["plan9"]), tmp_path / "pkg")
    names = sorted(p.name for p in (tmp_path / "pkg").iterdir())
    assert "manifest.json" in names and "stubs_linux.go" in names and "plan9" not in names
    assert all(f["path"] == Path(f["path"]).name for f in json.loads((tmp_path / "pkg" / "manifest.json").read_text())["files"])
    assert cli.main(["verify", str(tmp_path / "pkg"), "--no-real-tools"]) == 0
    stubgen.write(stubgen.generate(), tmp_path / "both")
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["gnu", "manifest.json", "plan9"]


def test_exported_names(tmp_path):
    stubs = stubgen.generate(["madvise", "clock_gettime", "fadvise64_64"], dialects=["plan9"], go_exported=True)
    assert {s.symbol for s in stubs} >= {"Madvise", "ClockGettime", "Fadvise64_64"}
    amd64 = next(s for s in stubs if s.arch == "amd64" and s.syscall == "madvise")
    assert "TEXT ·Madvise(SB)" in amd64.text and amd64.go_decl.startswith("Madvise(")
    stubgen.write(stubs, tmp_path)
    assert "func Madvise(addr unsafe.Pointer" in (tmp_path / "stubs_linux.go").read_text()
    assert cli.main(["verify", str(tmp_path), "--no-real-tools"]) == 0
    # GNU symbols keep their prefix: exported names are a Go matter.
    assert {s.symbol for s in stubgen.generate(dialects=["gnu"], go_exported=True)} == {"sys_madvise"}


def test_noescape_only_where_pointers_are_passed(tmp_path):
    stubgen.write(stubgen.generate(["madvise", "getpid"], dialects=["plan9"]), tmp_path)
    go = (tmp_path / "stubs_linux.go").read_text()
    assert "//go:noescape\nfunc madvise(addr unsafe.Pointer" in go
    assert "func getpid() int" in go and "//go:noescape\nfunc getpid" not in go


def test_a_builtin_name_is_warned_about_or_renamed(tmp_path):
    with pytest.warns(StubgenWarning, match="'close' shadows the Go builtin"):
        stubgen.generate(["close"], dialects=["plan9"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stubs = stubgen.generate(["close"], dialects=["plan9"], builtins="rename")
        assert {s.symbol for s in stubs} == {"close_"}
        assert {s.symbol for s in stubgen.generate(["close"], dialects=["plan9"], go_exported=True)} == {"Close"}
        assert {s.symbol for s in stubgen.generate(["close"], dialects=["gnu"])} == {"sys_close"}
    p = subprocess.run([sys.executable, "-m", "stubgen", "generate", "-o", str(tmp_path / "o"), "-s", "close",
                        "-d", "plan9"], capture_output=True, text=True, env={"PYTHONPATH": str(REPO)})
    assert p.returncode == 0 and p.stderr.startswith("stubgen: warning: plan9 function 'close' shadows")
    # once, saying how to silence it: a name kept on purpose is not warned about again
    assert p.stderr.count("\n") == 1 and "--builtins keep keeps it without this warning" in p.stderr
    p = subprocess.run([sys.executable, "-m", "stubgen", "generate", "-o", str(tmp_path / "k"), "--all",
                        "-d", "plan9", "--builtins", "keep"], capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO)})
    assert p.returncode == 0 and p.stderr == "" and "TEXT ·close(SB)" in (tmp_path / "k" / "stubs_linux_amd64.s").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert {s.symbol for s in stubgen.generate(["close"], dialects=["plan9"], builtins="keep")} == {"close"}


GEN = """// The package's stubs, generated: go generate ./...
package stubs

//go:generate {python} -m stubgen generate -d plan9 -o . --go-package stubs --all --go-exported
"""

MAIN = """package main

import (
	"unsafe"

	"example.com/app/internal/stubs"
)

func main() {
	var b [8192]byte
	_ = stubs.Madvise(unsafe.Pointer(&b[0]), 4096, 4)
	_ = stubs.Getpid()
	_ = stubs.SYS_MADVISE
	// A descriptor is an int, as in x/sys/unix: -1 and AT_FDCWD are written as they are.
	_ = stubs.Write(-1, unsafe.Pointer(&b[0]), 0)
	_ = stubs.Openat(-100, unsafe.Pointer(&b[0]), 0, 0)
}
"""

# The six-argument mmap (386 and s390x have old_mmap's one pointer, arm mmap2): its
# result is an address, an unsafe.Pointer, used without the uintptr conversion go vet
# reports as a possible misuse of unsafe.Pointer.
MMAP = """//go:build amd64 || arm64 || riscv64 || loong64 || ppc64le || mips64le

package main

import "example.com/app/internal/stubs"

func mapped() *[4096]byte {
	return (*[4096]byte)(stubs.Mmap(0, 4096, 3, 0x22, -1, 0))
}
"""


@pytest.mark.crosscheck
def test_go_generate_then_vet_and_build_for_every_goarch(go_env, tmp_path):
    mod = tmp_path / "app"
    pkg = mod / "internal" / "stubs"
    pkg.mkdir(parents=True)
    (mod / "go.mod").write_text("module example.com/app\n\ngo 1.21\n")
    (pkg / "gen.go").write_text(GEN.format(python=sys.executable))
    (mod / "main.go").write_text(MAIN)
    (mod / "mmap.go").write_text(MMAP)
    env = dict(go_env, PYTHONPATH=str(REPO))
    r = subprocess.run(["go", "generate", "./..."], cwd=mod, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (pkg / "manifest.json").exists() and (pkg / "stubs_linux.go").exists()
    for goarch in GOARCHES:
        for cmd in (["vet", "./..."], ["build", "-o", str(tmp_path / f"app-{goarch}"), "."]):
            r = subprocess.run(["go", *cmd], cwd=mod, env=dict(env, GOARCH=goarch), capture_output=True, text=True)
            assert r.returncode == 0, f"go {' '.join(cmd)} GOARCH={goarch}:\n{r.stdout}{r.stderr}"
    # The check mode agrees that what go generate wrote is current.
    assert cli.main(["generate", "-d", "plan9", "-o", str(pkg), "--go-package", "stubs", "--all", "--go-exported",
                     "--check"]) == 0
