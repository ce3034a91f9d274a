"""The QEMU engine (stubgen/verifier/qemu): our GDB remote-protocol client against a
fake stub, then qemu-user itself running the stubs Unicorn cannot (loong64, ppc64le, ppc64),
with broken stubs failing as they fail under Unicorn, the mutants killed, the two
engines agreeing where both run a stub, and the stubs staying "not emulated" where
qemu-user is not installed."""
import socket
import threading

import pytest
from conftest import check_text, need_tool

import stubgen
from stubgen.pipeline.mutants import run as run_mutants
from stubgen.verifier import Verifier, stub_specs
from stubgen.verifier.qemu import agree, gdbremote, machine

# ---------------------------------------------------------------- the protocol client

def test_packets_are_framed_escaped_and_checksummed():
    assert gdbremote.frame(b"g") == b"$g#67"
    assert gdbremote.checksum(b"OK") == 0x9A
    raw = b"a#b$c}d*e"
    assert gdbremote.unescape(gdbremote.escape(raw)) == raw
    assert b"#" not in gdbremote.escape(raw)[1:]
    assert gdbremote.unescape(b"0* ") == b"0000"  # run-length: ' ' is 32, three more
    assert gdbremote.signal_of(b"T05thread:1;") == 5 and gdbremote.signal_of(b"S0b") == 11
    assert gdbremote.signal_of(b"W00") is None


class FakeStub(threading.Thread):
    """A gdbstub with 4-byte registers r0..r3 and 64 bytes of memory at 0x1000; its
    first reply to a register read goes out with a bad checksum once."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.regs, self.mem = sock, [1, 2, 3, 4], bytearray(range(64))
        self.corrupt_once, self.seen, self.acked, self.nacked, self.last = True, [], 0, 0, b""

    def reply(self, payload: bytes):
        self.last = gdbremote.frame(payload)
        if self.corrupt_once and payload[:1] == b"0":
            self.corrupt_once = False
            self.sock.sendall(self.last[:-2] + b"00")  # the client must answer "-"
        else:
            self.sock.sendall(self.last)

    def run(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:  # the test closed its end
                return
            if not data:
                return
            buf += data
            while buf:
                if buf[:1] == b"+":
                    self.acked += 1
                    buf = buf[1:]
                elif buf[:1] == b"-":
                    self.nacked += 1
                    self.sock.sendall(self.last)
                    buf = buf[1:]
                elif b"#" in buf and len(buf) >= buf.index(b"#") + 3:
                    start, end = buf.index(b"$"), buf.index(b"#")
                    assert start == 0, buf
                    body, cc = buf[1:end], buf[end + 1:end + 3]
                    buf = buf[end + 3:]
                    assert int(cc, 16) == gdbremote.checksum(body)
                    self.sock.sendall(b"+")
                    cmd = gdbremote.unescape(body)
                    self.seen.append(cmd)
                    self.reply(self.answer(cmd))
                else:
                    break

    def answer(self, cmd: bytes) -> bytes:
        if cmd == b"QStartNoAckMode":
            return b""  # unsupported, as qemu 7.2 answers: acks stay on
        if cmd == b"g":
            return b"".join(r.to_bytes(4, "little").hex().encode() for r in self.regs)
        if cmd[:1] == b"p":
            return self.regs[int(cmd[1:], 16)].to_bytes(4, "little").hex().encode()
        if cmd[:1] == b"P":
            n, v = cmd[1:].split(b"=")
            self.regs[int(n, 16)] = int.from_bytes(bytes.fromhex(v.decode()), "little")
            return b"OK"
        if cmd[:1] in b"mM":
            where, _, data = cmd[1:].partition(b":")
            addr, size = (int(x, 16) for x in where.split(b","))
            if not 0x1000 <= addr and addr + size <= 0x1040:
                return b"E14"
            if cmd[:1] == b"m":
                return self.mem[addr - 0x1000:addr - 0x1000 + size].hex().encode()
            self.mem[addr - 0x1000:addr - 0x1000 + size] = bytes.fromhex(data.decode())
            return b"OK"
        if cmd == b"s":
            self.regs[0] += 4
            return b"T05thread:1;"
        if cmd.startswith(b"Z0,") or cmd.startswith(b"z0,"):
            return b"OK"
        if cmd.startswith(b"qXfer:features:read:target.xml:"):
            return b"l<target/>"
        return b""


@pytest.fixture
def fake():
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    stub = FakeStub(theirs)
    stub.start()
    client = gdbremote.Client(ours)
    assert client.request(b"QStartNoAckMode") == b""
    yield client, stub
    ours.close()
    theirs.close()


def test_the_client_reads_and_writes_registers_and_memory(fake):
    client, stub = fake
    assert client.read_register(2) == (3).to_bytes(4, "little")  # after one resend (bad checksum)
    assert stub.seen.count(b"p2") == 1 and stub.nacked == 1 and not stub.corrupt_once
    client.write_register(1, (0xDEADBEEF).to_bytes(4, "little"))
    assert stub.regs[1] == 0xDEADBEEF
    assert client.read_registers()[4:8] == (0xDEADBEEF).to_bytes(4, "little")
    client.write_memory(0x1004, b"#$}*")  # bytes the protocol escapes travel as hex
    assert client.read_memory(0x1000, 8) == bytes([0, 1, 2, 3]) + b"#$}*"
    with pytest.raises(gdbremote.ProtocolError):
        client.read_memory(0x2000, 4)
    assert gdbremote.signal_of(client.step()) == 5 and stub.regs[0] == 5
    client.insert_breakpoint(0x1000, 4)
    assert client.xfer("features", "target.xml") == b"<target/>"
    assert stub.acked == len(stub.seen) - 1  # every reply acknowledged, with the next request


# ---------------------------------------------------------------- qemu-user itself

@pytest.fixture(scope="module")
def verifier():
    need_tool("qemu-loongarch64", "qemu-user")
    need_tool("qemu-ppc64le", "qemu-user")
    need_tool("qemu-ppc64", "qemu-user")
    return Verifier()


def _stub(arch, dialect, syscall="pread64", policy="raw"):
    (s,) = stubgen.generate([syscall], [arch], [dialect], policy)
    return s


@pytest.mark.parametrize("arch, dialect, policy", [("loong64", "gnu", "raw"), ("loong64", "plan9", "raw"),
                                                   ("ppc64le", "plan9", "raw"), ("ppc64le", "gnu", "errno"),
                                                   ("ppc64", "plan9", "raw"), ("ppc64", "gnu", "errno")])
def test_stubs_unicorn_cannot_run_run_on_qemu(verifier, arch, dialect, policy):
    # (ppc64le and ppc64: Unicorn runs their raw C stubs; Go's use ld/std and the errno
    # policy's std, which it cannot run. ppc64 is big-endian: its harness is an ELF V1
    # big-endian ELF64, its gdbstub's register bytes big-endian.)
    for syscall in ("pread64", "mmap"):
        s = _stub(arch, dialect, syscall, policy)
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated and rep.runs == 7, rep.describe()
        assert not any("emulat" in n for n in rep.not_run), rep.not_run
        assert machine.QemuMachine.blind in rep.warnings  # what the engine could not observe is said
    assert (arch, "qemu") in verifier._machines


def test_the_ppc64le_global_entry_point_finds_r2_from_r12(verifier):
    # The errno policy's C stubs compute the TOC (r2) from their own address in r12 and
    # reach the handler through it; r2 is callee-saved, so a wrong r12 shows as its change.
    s = _stub("ppc64le", "gnu", "madvise", "errno")
    assert "r12" in s.text
    rep = check_text(verifier, s, s.text)
    assert rep.ok and rep.emulated, rep.describe()


def test_an_elf_v1_stub_is_entered_at_its_code_with_the_descriptors_toc_in_r2(verifier):
    # The descriptor hands the callee .TOC.@tocbase in r2: a stub that takes its number
    # relative to the TOC (where the verifier's linker puts .TOC.) makes the right
    # syscall only when the caller set r2 so; with r2 as any other register it does not.
    from stubgen.verifier.emulator import LINKER

    s = _stub("ppc64", "gnu", "madvise", "errno")
    assert ".quad\t.sys_madvise, .TOC.@tocbase" in s.text
    # (through r11: addi and addis read an rA of r0 as the number 0)
    assert LINKER & 0xFFFF == 0
    relative = f"\taddis\t%r11, %r2, {-(LINKER >> 16):#x}\n\taddi\t%r0, %r11, {s.number:#x}\n"
    rep = _broken(verifier, s, f"\tli\t%r0, {s.number:#x}\n", relative)
    assert rep.ok and rep.emulated, rep.describe()
    off = f"\taddis\t%r11, %r2, {-(LINKER >> 16) + 1:#x}\n\taddi\t%r0, %r11, {s.number:#x}\n"
    rep = _broken(verifier, s, f"\tli\t%r0, {s.number:#x}\n", off)
    assert rep.emulated and not rep.ok and any("number register r0" in p for p in rep.problems), rep.describe()


def _broken(verifier, s, old, new):
    assert old in s.text, s.text
    return check_text(verifier, s, s.text.replace(old, new, 1))


def test_a_clobbered_callee_saved_register_fails_on_qemu_as_on_unicorn(verifier):
    # loong64 under QEMU, riscv64 under Unicorn: the same break, the same verdict.
    lo = _broken(verifier, _stub("loong64", "gnu"), "\tsyscall\t0x0\n", "\tsyscall\t0x0\n\tli.d\t$s0, 1\n")
    rv = _broken(verifier, _stub("riscv64", "gnu"), "\tecall\n", "\tecall\n\tli\ts0, 1\n")
    for rep in (lo, rv):
        assert rep.emulated and not rep.ok
        assert any("callee-saved s0 = 0x1 after return" in p for p in rep.problems), rep.describe()


def test_a_wrong_number_fails_on_qemu(verifier):
    s = _stub("ppc64le", "gnu")
    number = s.number
    rep = _broken(verifier, s, f"%r0, {number:#x}", f"%r0, {number + 1:#x}")
    assert rep.emulated and not rep.ok
    assert any("number" in p for p in rep.problems), rep.describe()
    rep = _broken(verifier, _stub("loong64", "gnu"), "$a7, 0x43", "$a7, 0x44")
    assert rep.emulated and not rep.ok
    assert any("number" in p for p in rep.problems), rep.describe()


def test_a_stub_that_writes_into_the_callers_frame_fails_on_qemu(verifier):
    s = _stub("loong64", "gnu")
    rep = _broken(verifier, s, "\tsyscall\t0x0\n", "\tsyscall\t0x0\n\tst.d\t$zero, $sp, 8\n")
    assert not rep.ok and any("write of 8 bytes" in p and "caller's frame" in p for p in rep.problems), \
        rep.describe()


def test_mutants_of_loong64_and_ppc64le_stubs_are_all_killed_on_qemu(verifier):
    stubs = []
    for arch in ("loong64", "ppc64le"):
        for dialect, policy in (("gnu", "raw"), ("gnu", "errno"), ("plan9", "raw")):
            stubs += stubgen.generate(["pread64", "exit"], [arch], [dialect], policy)
    unemulated: list = []
    table, survivors = run_mutants(verifier, stubs, unemulated)
    assert not survivors, [(k, s.arch, s.dialect, s.policy, s.syscall) for k, s, _ in survivors]
    assert not unemulated
    killed = {k for (k, a, _), (n, _) in table.items() if n and a == "loong64"}
    assert {"number", "swap_args", "unbalanced", "wrong_trap"} <= killed


def test_without_qemu_user_the_stubs_stay_not_emulated(monkeypatch):
    real = machine.shutil.which
    monkeypatch.setattr(machine.shutil, "which", lambda name: None if name.startswith("qemu-") else real(name))
    v = Verifier()
    for arch in ("loong64", "ppc64le", "ppc64"):
        s = _stub(arch, "plan9")
        rep = check_text(v, s, s.text)
        assert rep.ok and not rep.emulated and rep.runs == 0
        why = " ".join(rep.not_run)
        assert "QEMU could run it" in why and "apt-get install qemu-user" in why, why
        assert "not emulated" in rep.describe()
    assert not any(engine == "qemu" for _, engine in v._machines)


def test_qemu_dies_with_its_parent(verifier):
    # A checker killed outright leaves no qemu behind (one stopped at its gdbstub would
    # wait forever; one let go spins a CPU).
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("from stubgen.verifier import Verifier; v = Verifier(); "
            "m = v.machine(v.tables.arch('loong64'), 'qemu'); print(m.proc.pid, flush=True); "
            "import time; time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid = int(parent.stdout.readline())
    assert "qemu" in open(f"/proc/{pid}/cmdline").read()
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(200):
        try:
            state = open(f"/proc/{pid}/status").read()
        except FileNotFoundError:
            break
        if "State:\tZ" in state:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("qemu outlived its parent")


def test_unicorn_and_qemu_agree_on_a_sample(verifier):
    need_tool("qemu-aarch64", "qemu-user")
    need_tool("qemu-riscv64", "qemu-user")
    checked = 0
    for arch in ("arm64", "riscv64"):
        stubs = stubgen.generate("all", [arch], ["gnu", "plan9"], "raw")
        for stub, (text, spec) in agree.sample(list(zip(stubs, stub_specs(stubs))), 6):
            a = verifier.tables.arch(arch)
            diff = agree.differences(a, agree.runs(verifier, text, spec, "unicorn"),
                                     agree.runs(verifier, text, spec, "qemu"))
            assert not diff, (spec.symbol, diff)
            checked += 1
    assert checked == 12


def test_unicorn_and_qemu_agree_on_ppc64s_big_endian_raw_c_stubs(verifier):
    # Unicorn runs ppc64's raw C stubs (no doubleword load or store), so they are where
    # the big-endian gdbstub's register bytes (the g packet's layout) meet a second engine.
    arch = verifier.tables.arch("ppc64")
    stubs = stubgen.generate("all", ["ppc64"], ["gnu"], "raw")
    for stub, (text, spec) in agree.sample(list(zip(stubs, stub_specs(stubs))), 6):
        mine = agree.runs(verifier, text, spec, "unicorn")
        assert all(r.returned and not r.fault for r in mine), spec.symbol  # Unicorn ran it
        diff = agree.differences(arch, mine, agree.runs(verifier, text, spec, "qemu"))
        assert not diff, (spec.symbol, diff)


def test_the_agreement_oracle_sees_a_disagreement(verifier):
    arch = verifier.tables.arch("arm64")
    s = _stub("arm64", "gnu")
    text, spec = stub_specs([s])[0]
    mine = agree.runs(verifier, text, spec, "unicorn")
    theirs = agree.runs(verifier, text, spec, "qemu")
    theirs[0].regs["x19"] ^= 1  # one register after one run
    theirs[1].traps[0].args = (0,) + theirs[1].traps[0].args[1:]
    diff = agree.differences(arch, mine, theirs)
    assert any("x19" in d for d in diff) and any("traps" in d for d in diff), diff


def test_a_qemu_that_does_not_come_up_leaves_the_stubs_not_emulated(monkeypatch):
    import dataclasses

    v = Verifier()
    arch = v.tables.arch("loong64")
    # (the loaded tables are shared: put the arch back after)
    monkeypatch.setitem(v.tables.arches, "loong64", dataclasses.replace(arch, qemu_user="false"))  # exits at once
    s = _stub("loong64", "gnu")
    rep = check_text(v, s, s.text)
    assert rep.ok and not rep.emulated, rep.describe()
    assert "false did not open its gdbstub" in " ".join(rep.not_run), rep.not_run


def test_an_instruction_that_would_make_a_real_syscall_is_never_stepped(verifier):
    # sc 1 (LEV 1) is not the kernel's trap (the fake kernel refuses it), and qemu-user
    # would make the syscall on this machine: the engine stops before it.
    s = _stub("ppc64le", "gnu", "getpid", "errno")  # (the errno policy's std: QEMU, not Unicorn)
    rep = _broken(verifier, s, "\tsc\n", "\tsc\t1\n")
    assert rep.emulated and not rep.ok
    assert any("enters the kernel but is not the syscall trap (sc)" in p for p in rep.problems), rep.describe()


def test_the_errno_handler_is_watched_on_each_engine_of_an_architecture():
    # ppc64le's raw C stubs run on Unicorn, its errno stubs on QEMU: the stand-ins
    # (the handler's hook) are each engine's own, whichever ran first.
    need_tool("qemu-ppc64le", "qemu-user")
    v = Verifier()
    raw = _stub("ppc64le", "gnu", "getpid")
    assert check_text(v, raw, raw.text).ok
    s = _stub("ppc64le", "gnu", "madvise", "errno")
    rep = check_text(v, s, s.text)
    assert rep.ok and rep.emulated, rep.describe()
    assert {engine for _, engine in v._machines} == {"unicorn", "qemu"}
    rep = _broken(v, s, "\tbl\tstubgen_errno\n", "\tnop\n")
    assert not rep.ok and any("stubgen_errno" in p or "handler" in p for p in rep.problems), rep.describe()


def test_an_isolated_child_starts_its_own_qemu(verifier):
    # Text stubgen did not render is checked in a forked child: it must not talk to the
    # parent's qemu (a child killed mid-packet would leave that conversation broken).
    import dataclasses

    s = _stub("loong64", "gnu")
    text, spec = stub_specs([s])[0]
    assert verifier.check(text, spec).emulated  # the parent's qemu
    parent = verifier._machines[("loong64", "qemu")]
    rep = verifier.check(text, dataclasses.replace(spec, rendered=False))
    assert rep.ok and rep.emulated, rep.describe()
    assert verifier._machines[("loong64", "qemu")] is parent and parent.proc.poll() is None
    assert verifier.check(text, spec).ok  # and the parent's still answers
