"""`pip install stubgen` on aarch64 Linux and macOS arm64 compiles nothing: every
dependency the wheel asks for there (with the llvm extra) has a binary wheel. pip
evaluates environment markers for the running interpreter even with --platform, so
the markers are evaluated here for the target (packaging), and pip resolves the result
with --only-binary=:all: for that platform. Skips when PyPI cannot be reached."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_LINUX = {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"}
_MAC = {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"}
# name -> (environment, pip platform tags, extras). ziglang's macOS arm64 wheels are
# tagged macosx_13_0 (0.17.1): the llvm extra needs macOS 13, the base install macOS 11.
TARGETS = {
    "aarch64 Linux": (_LINUX, ["manylinux2014_aarch64", "manylinux_2_28_aarch64"], ("llvm",)),
    "macOS 11 arm64": (_MAC, ["macosx_11_0_arm64"], ()),
    "macOS 13 arm64, llvm": (_MAC, ["macosx_13_0_arm64", "macosx_11_0_arm64"], ("llvm",)),
}


def _pypi_reachable() -> bool:
    import urllib.request

    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not _pypi_reachable():
        pytest.skip("the package registry (pypi.org) cannot be reached")
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("stubgen-*.whl")
    return whl


def requirements(whl: Path, env: dict, extras=("llvm",)) -> list[str]:
    """The wheel's Requires-Dist for a target environment, markers evaluated there."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(whl) as z:
        meta = next(z.read(n).decode() for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    out = []
    for line in meta.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.split(":", 1)[1].strip())
        # extra="" selects the unconditional requirements, extra="llvm" the extra's.
        if req.name != "stubgen" and (req.marker is None or any(req.marker.evaluate(dict(env, extra=e))
                                                                 for e in ("", *extras))):
            req.marker = None
            out.append(str(req))
    return out


def test_keystone_only_where_it_has_wheels(wheel):
    linux_x86 = {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"}
    assert any(r.startswith("keystone-engine") for r in requirements(wheel, linux_x86))
    for env, _, _ in TARGETS.values():
        reqs = requirements(wheel, env)
        assert not any(r.startswith("keystone-engine") for r in reqs)
        assert any(r.startswith("ziglang") for r in reqs) and any(r.startswith("pyelftools") for r in reqs)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_dependencies_resolve_to_binary_wheels(wheel, tmp_path, target):
    env, platforms, extras = TARGETS[target]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--only-binary=:all:", "--python-version", "3.11",
           "--target", str(tmp_path / "t"), *(a for p in platforms for a in ("--platform", p)),
           *requirements(wheel, env, extras)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and ("NewConnectionError" in r.stderr or "Network is unreachable" in r.stderr):
        pytest.skip("the package registry cannot be reached")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Would install" in r.stdout and "keystone" not in r.stdout.lower()


def test_the_wheel_ships_py_typed(wheel):
    """Users' type checkers read the library's annotations only from a package that says so."""
    with zipfile.ZipFile(wheel) as z:
        assert "stubgen/py.typed" in z.namelist()
