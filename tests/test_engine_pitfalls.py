"""Keystone 0.9.2 and Unicorn 2.1.4 pitfalls (shared GUIDE §5-6): each one is guarded,
and where it is cheap a subprocess shows that the pitfall is real."""
import subprocess
import sys

import pytest

import stubgen
from stubgen.verifier import Verifier
from stubgen.verifier.assembly import AssemblyError, check_keystone_safe
from stubgen.verifier.emulator import CODE
from stubgen.verifier.keystone import KeystoneAssembler


def _raw_keystone(code: str) -> subprocess.CompletedProcess:
    prog = "import keystone\nks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)\n" + code
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)


def test_decimal_is_read_as_hex_after_an_option_call():
    r = _raw_keystone("ks.syntax = keystone.KS_OPT_SYNTAX_INTEL\nprint(bytes(ks.asm('mov eax, 219')[0]).hex())")
    assert r.stdout.strip() == "b819020000"  # 0x219, not 219


def test_decimal_literals_never_reach_keystone():
    with pytest.raises(AssemblyError, match="decimal literal 219 .* write 0xdb"):
        check_keystone_safe(["mov eax, 219"])
    with pytest.raises(AssemblyError, match="decimal literal 12"):
        check_keystone_safe(["movl 12(%esp), %edx"])
    check_keystone_safe(["mov eax, 0xdb", "mov r10, r8", "ldr r0, [sp, #0x4]", "int 0x3"])


def test_text_directive_crashes_raw_keystone_but_not_us():
    r = _raw_keystone("ks.asm('.text\\nret')\nprint('alive')")
    assert r.returncode != 0 and "alive" not in r.stdout
    asm = KeystoneAssembler({"arch": "KS_ARCH_X86", "mode": "KS_MODE_32"})
    with pytest.raises(AssemblyError, match="directive '.text'"):
        asm.assemble([".text", "ret"], CODE)


def test_section_directive_returns_nothing_from_raw_keystone_but_is_refused():
    r = _raw_keystone("print(ks.asm('.section .data\\nret'))")
    assert r.stdout.strip() == "(None, 0)"
    asm = KeystoneAssembler({"arch": "KS_ARCH_X86", "mode": "KS_MODE_32"})
    with pytest.raises(AssemblyError, match="directive '.section'"):
        asm.assemble([".section .data", "ret"], CODE)


def test_unbalanced_cfi_exits_raw_keystone_but_is_refused():
    r = _raw_keystone("ks.asm('.cfi_startproc\\nret')\nprint('alive')")
    assert "alive" not in r.stdout
    with pytest.raises(AssemblyError, match="directive '.cfi_startproc'"):
        check_keystone_safe([".cfi_startproc", "ret"])


def test_numeric_labels_and_comments_are_refused():
    with pytest.raises(AssemblyError, match="numeric label"):
        check_keystone_safe(["1:", "jmp 1b"])
    with pytest.raises(AssemblyError, match="comment"):
        check_keystone_safe(["ret /* done */"])
    check_keystone_safe([".Lok:", "jmp .Lok"])


def test_nothing_assembled_is_an_error_not_an_empty_stub():
    asm = KeystoneAssembler({"arch": "KS_ARCH_X86", "mode": "KS_MODE_32"})
    with pytest.raises(AssemblyError, match="no code"):
        asm.assemble([""], CODE)


def _bytes(v, stub):
    arch = v.tables.arch(stub.arch)
    from stubgen import dialects

    reader, syntax, _ = v.reader(dialects.dialect(stub.dialect), arch)
    m = v.machine(arch)
    body = reader.read(stub.text, stub.symbol, m.symbols("stubgen_errno"))
    return v.assembler(arch, syntax).assemble(body.lines, CODE, m.symbols("stubgen_errno")).code.hex()


# Bytes from Go's assembler (go tool asm -S) and GNU as for madvise: shared GUIDE §4.
GO_BYTES = {
    "amd64": "488b7c2408488b7424108b542418b81c0000000f0589442420c3",
    "386": "b8db0000008b5c24048b4c24088b54240ccd8089442410c3",
    "arm": "04009de508109de50c209de5dc70a0e3000000ef10008de500f08ee2",
}
GNU_AS_BYTES = {
    "386": "538b5c24088b4c240c8b542410b8db000000cd805bc3",
    "amd64": "b81c0000000f05c3",
    "arm": "04702de5dc70a0e3000000ef04709de41eff2fe1",
}


@pytest.mark.parametrize("arch", sorted(GO_BYTES))
def test_plan9_lowering_encodes_as_go_does(arch):
    (stub,) = stubgen.generate(arches=[arch], dialects=["plan9"])
    assert _bytes(Verifier(), stub) == GO_BYTES[arch]


@pytest.mark.parametrize("arch", sorted(GNU_AS_BYTES))
def test_gnu_body_encodes_as_gnu_as_does(arch):
    (stub,) = stubgen.generate(arches=[arch], dialects=["gnu"])
    assert _bytes(Verifier(), stub) == GNU_AS_BYTES[arch]


def test_arm_literal_pool_is_placed_as_go_places_it():
    # Go: ldr r6, [pc, #0x10] ... add pc, lr, #0; b .; .word 0xfffff000 (shared research on go tool asm -S)
    (stub,) = stubgen.generate(arches=["arm"], dialects=["plan9"], policy="crash")
    code = _bytes(Verifier(), stub)
    assert code.endswith("00f08ee2" + "feffffea" + "00f0ffff")
    assert "10609fe5" in code


def test_stale_translation_is_real_in_a_reused_unicorn_engine():
    # mov eax, N; int 0x80; ret -- rewritten in place; only the third run drops the cache.
    prog = """
import unicorn
from unicorn import x86_const as x
uc = unicorn.Uc(unicorn.UC_ARCH_X86, unicorn.UC_MODE_32)
uc.mem_map(0x1000, 0x1000)
uc.mem_map(0x3000, 0x1000)
uc.hook_add(unicorn.UC_HOOK_INTR, lambda uc, intno, data: None)
ctx = uc.context_save()
def run(n, drop):
    code = bytes([0xb8, n, 0, 0, 0, 0xcd, 0x80, 0xc3])
    uc.context_restore(ctx)
    uc.mem_write(0x1000, code)
    if drop:
        uc.ctl_remove_cache(0x1000, 0x1000 + len(code))
    uc.reg_write(x.UC_X86_REG_ESP, 0x3800)
    uc.mem_write(0x3800, (0x3000).to_bytes(4, "little"))
    uc.emu_start(0x1000, 0x3000, count=100)
    return uc.reg_read(x.UC_X86_REG_EAX)
print(run(1, False), run(2, False), run(3, True))
"""
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["1", "1", "3"], r.stdout + r.stderr


def test_reused_machine_runs_the_code_it_was_given_last():
    v = Verifier()
    (good,) = stubgen.generate(arches=["386"], dialects=["gnu"])
    from stubgen.verifier import Spec

    spec = Spec("386", "gnu", good.symbol, "madvise", 219, "raw")
    assert v.check(good.text, spec).ok
    bad = good.text.replace("$0xdb", "$0xda")
    rep = v.check(bad, spec)
    assert not rep.ok and "eax = 0xda" in "\n".join(rep.problems)
    assert v.check(good.text, spec).ok
    assert len(v._machines) == 1  # one engine per architecture, reused


def test_public_register_calls_give_the_same_verdicts(monkeypatch):
    """The emulator reads registers in batches through the binding's C entry points and
    falls back to the public calls where the binding is laid out differently."""
    from stubgen.verifier import Spec, emulator

    original = emulator._Registers.__init__

    def public_only(self, *a, **kw):
        original(self, *a, **kw)
        self._read = None

    monkeypatch.setattr(emulator._Registers, "__init__", public_only)
    v = Verifier()
    for s in stubgen.generate(dialects=["gnu", "plan9"]):
        spec = Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap)
        assert v.check(s.text, spec).ok
        broken = v.check(s.text.replace("0xdb", "0xda").replace("$219", "$218"), spec)
        assert broken.ok == (s.number != 219)  # 386's and s390x's madvise


def test_hand_edited_text_is_assembled_in_a_child_with_a_time_limit(tmp_path, monkeypatch, capsys):
    """Keystone can hang inside C on malformed text the guards do not know; a file read
    from disk (whatever its hash) is checked in a forked child, which is killed."""
    import time

    from stubgen.pipeline.verify_dir import verify_dir
    from stubgen.verifier import isolate

    out = tmp_path / "out"
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["amd64"]), out)
    f = out / "gnu" / "stubs_linux_amd64.S"
    f.write_text(f.read_text().replace("syscall", "syscall\n\tnop"))
    assert verify_dir(out, real_tools=False) == 0  # edited, still right, verified through the child

    real = KeystoneAssembler._asm

    def hang(self, lines, address):
        if any("nop" in ln for ln in lines):
            time.sleep(60)
        return real(self, lines, address)

    monkeypatch.setattr(KeystoneAssembler, "_asm", hang)
    monkeypatch.setattr(isolate, "SECONDS", 1.0)
    monkeypatch.setattr(isolate, "SECONDS_PER_ITEM", 0.0)
    capsys.readouterr()
    t = time.monotonic()
    assert verify_dir(out, real_tools=False) == 1
    assert time.monotonic() - t < 10
    assert "did not finish within 1 s" in capsys.readouterr().out
