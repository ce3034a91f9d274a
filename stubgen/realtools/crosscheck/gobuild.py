"""Go programs around the Plan 9 stubs: a module holding the generated package and a
test program, go vet (and proof that it catches a broken frame), and go build."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ...tables import inputs
from .. import tools
from .checks import FAIL, PASS, PROGRAMS

GO_MODULE = "crosscheck"
_WRAPPER = """// Added by stubgen crosscheck: an exported way in for the test program.

package {package}

import "unsafe"

func StubgenCrosscheckMadvise(addr unsafe.Pointer, n uintptr, flags int32) (int32, bool) {{
{body}
}}
"""


def go_module(plan9_dir: Path, work: Path, package: str, symbol: str | None, returns: bool) -> Path:
    """A module holding the generated package as ./stubs and, when the package has a
    madvise stub (symbol: its Go name, from the manifest), the kernel test program and
    the wrapper it calls; without one, the package alone (vet and asm still apply)."""
    mod = _fresh_module(plan9_dir, work / "gomod")
    pkg = mod / "stubs"
    if symbol is not None:
        call = f"{symbol}(addr, n, flags)"
        body = f"\treturn {call}, true" if returns else f"\t{call}\n\treturn 0, false"
        (pkg / "zz_crosscheck_export.go").write_text(_WRAPPER.format(package=package, body=body))
        shutil.copy(PROGRAMS / "madvise_main.go", mod / "main.go")
    return mod


def _fresh_module(plan9_dir: Path, mod: Path) -> Path:
    """mod, emptied, holding go.mod and the generated package as ./stubs."""
    if mod.exists():
        shutil.rmtree(mod)
    _copy_package(plan9_dir, mod / "stubs")
    (mod / "go.mod").write_text(f"module {GO_MODULE}\n\ngo 1.21\n")
    return mod


def _copy_package(src: Path, dst: Path):
    """The package's own files, read through the confined reader (regular files inside
    src, bounded in size), its assembly checked like any text a real tool is given:
    go vet and go build preprocess .s files, and #include could read any file."""
    import fnmatch

    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if any(fnmatch.fnmatch(f.name, pat) for pat in ("go.mod", "go.sum", "*_test.go")):
            continue
        if f.suffix not in (".go", ".s", ".h") or f.is_dir():
            continue
        data = inputs.read_bytes(f, [src], what="package file")
        if f.suffix == ".s":
            tools.check_go_source(data.decode("utf-8", errors="replace"), f.name)
        (dst / f.name).write_bytes(data)


_SHAPES_WRAPPER = """// Added by stubgen crosscheck: the stubs of other argument shapes, for the test program.

package {package}

func ShapeSix() any       {{ return {six} }}
func ShapePair() any      {{ return {pair} }}
func ShapeExitGroup() any {{ return {exit_group} }}
"""


def shapes_module(plan9_dir: Path, work: Path, package: str, goarch: str, names: dict) -> Path:
    """A module holding the generated package as ./stubs, the functions of each shape
    exported for goarch, and the shapes test program."""
    mod = _fresh_module(plan9_dir, work / "gomod-shapes")
    pkg = mod / "stubs"
    (pkg / f"zz_crosscheck_shapes_{goarch}.go").write_text(_SHAPES_WRAPPER.format(package=package, **names))
    shutil.copy(PROGRAMS / "shapes_main.go", mod / "main.go")
    return mod


def go(args, cwd: Path, goarch: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([tools.go_tool(), *args], cwd=cwd, env=tools.go_env(goarch),
                          capture_output=True, text=True, timeout=timeout)


def go_vet(pkg_dir: Path, goarch: str) -> subprocess.CompletedProcess:
    return go(["vet", "."], pkg_dir, goarch)


def vet_mutants(asm_text: str) -> dict[str, str]:
    """Two broken copies of a Plan 9 file: the first TEXT's argument size off by one
    word, and the first named FP slot's offset off by one word."""
    out = {}
    frame = re.compile(r"^(TEXT\s[^\n]*\$-?\d+-)(\d+)", re.M)
    m = frame.search(asm_text)
    if m:
        out["wrong frame size"] = asm_text[:m.start(2)] + str(int(m[2]) + 4) + asm_text[m.end(2):]
    slot = re.compile(r"\b([A-Za-z_]\w*)\+(\d+)\(FP\)")
    m = slot.search(asm_text)
    if m:
        out["wrong FP offset"] = asm_text[:m.start(2)] + str(int(m[2]) + 4) + asm_text[m.end(2):]
    return out


def vet_catches(pkg_dir: Path, asm_name: str, goarch: str, work: Path) -> tuple[str, str]:
    """(status, detail): does go vet report each mutant of asm_name?"""
    text = (pkg_dir / asm_name).read_text(encoding="utf-8")
    mutants = vet_mutants(text)
    if len(mutants) < 2:
        return FAIL, "no TEXT frame size or named FP slot to break"
    missed: list[str] = []
    seen: list[str] = []
    for what, mtext in mutants.items():
        d = work / f"vet-{goarch}-{what.replace(' ', '-')}"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(pkg_dir, d)
        (d / asm_name).write_text(mtext, encoding="utf-8")
        if not (d / "go.mod").exists():
            (d / "go.mod").write_text("module example.com/vetmutant\n\ngo 1.21\n")
        r = go_vet(d, goarch)
        msg = _vet_message(r.stdout + r.stderr, asm_name)
        (seen if r.returncode != 0 and msg else missed).append(f"{what}: {msg or 'not reported'}")
    return (FAIL, "; ".join(missed)) if missed else (PASS, "; ".join(seen))


def _vet_message(text: str, asm_name: str) -> str:
    for line in text.splitlines():
        if asm_name in line and ": " in line:
            return line.split(": ", 1)[1].strip()
    return ""


def build_go(module: Path, goarch: str, out: Path) -> Path:
    r = go(["build", "-o", str(out), "."], module, goarch)
    if r.returncode != 0:
        raise tools.ToolFailed(f"go build GOARCH={goarch}: {(r.stderr or r.stdout).strip()}")
    return out
