"""The verifier passes every generated stub and says no to broken ones."""
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

import stubgen
import stubgen.cli  # noqa: F401  (the CLI module, for main)
from stubgen import tables
from stubgen.pipeline.mutants import HEADER_KINDS, KINDS
from stubgen.pipeline.mutants import run as run_mutants
from stubgen.pipeline.verify_dir import verify_dir
from stubgen.verifier import Spec, Verifier, verify
from stubgen.verifier.kernel import linux_abi

MATRIX = [("plan9", p) for p in ("raw", "crash", "ignore")] + [("gnu", p) for p in ("raw", "crash", "ignore", "errno")]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_stub_passes(verifier, dialect, policy):
    for s in stubgen.generate(dialects=[dialect], policy=policy):
        rep = verifier.check(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
        assert rep.ok, rep.describe()
        # seven injected results, and the errors an ABI's kernel may return already negated;
        # a stub the emulator cannot run (ppc64le's Go stubs; every loong64 stub: no emulator) says why and has no runs
        if not rep.emulated:  # (loong64 runs on QEMU with a note that it has no decoder)
            assert rep.not_run and rep.runs == 0 and "not emulated" in rep.describe()
        else:
            assert rep.runs == 7 + len(linux_abi(s.arch).negated_errors)


def test_vdso_trap_passes(verifier):
    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], policy="crash", traps={"386": "vdso"},
                            go_package="runtime")
    assert verify([s])[0].ok


def test_every_mutant_is_killed(verifier):
    stubs = []
    for dialect, policy in MATRIX:
        stubs += stubgen.generate(dialects=[dialect], policy=policy)
    table, survivors = run_mutants(verifier, stubs)
    assert not survivors, [(k, s.arch, s.dialect, s.policy) for k, s, _ in survivors]
    kinds_seen = {k for k, _, _ in table}
    assert kinds_seen == set(KINDS) - set(HEADER_KINDS)  # no assembly stub has a clobber list
    # every architecture meets every kind of break that its conventions allow somewhere
    assert sum(c[1] for c in table.values()) >= 140


def _generated(tmp_path, *args):
    out = tmp_path / "out"
    assert stubgen.cli.main(["generate", "-o", str(out), *args]) == 0
    return out


def test_verify_dir_reads_files_on_disk(tmp_path, capsys):
    out = _generated(tmp_path)
    assert verify_dir(out) == 0
    f = out / "plan9" / "stubs_linux_386.s"
    f.write_text(f.read_text().replace("$219", "$218"))
    capsys.readouterr()
    assert verify_dir(out) == 1
    msg = capsys.readouterr().out
    assert "FAIL  386/plan9 madvise" in msg
    assert "number register eax = 0xda (mincore) at the trap, expected madvise 219 (0xdb)" in msg
    assert "mov eax, 0xda" in msg  # the disassembly is shown
    assert "1 failed" in msg


def test_cli_verify_exit_codes(tmp_path):
    out = _generated(tmp_path, "-d", "gnu")
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(out)], capture_output=True, text=True)
    arches = tables.load().arches.values()
    # the others are named apart, not passed: no Unicorn, and no qemu-user installed for QEMU
    run = sum(a.engines.unicorn is not None or (a.engines.qemu is not None and shutil.which(a.qemu_user) is not None)
              for a in arches)
    assert r.returncode == 0 and f"{run} passed, " in r.stdout and ", 0 failed" in r.stdout, r.stdout
    if run < len(arches):
        assert f"{len(arches) - run} not emulated" in r.stdout
    f = out / "gnu" / "stubs_linux_386.S"
    f.write_text(f.read_text().replace("\tpop\t%ebx\n", ""))  # forget to restore ebx
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(out)], capture_output=True, text=True)
    assert r.returncode == 1
    # the saved ebx is now the return address
    assert "FAIL  386/gnu sys_madvise" in r.stdout and "Invalid memory fetch" in r.stdout
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(tmp_path / "nowhere")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no manifest.json" in r.stderr


def test_generate_verify_mutants_cli(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "stubgen", "generate", "-o", str(out), "-e", "crash"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    r = subprocess.run([sys.executable, "-m", "stubgen", "verify", str(out), "--mutants"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    assert "check_inverted" in r.stdout and "SURVIVED" not in r.stdout
    killed = re.search(r"mutants: (\d+)/(\d+) killed", r.stdout)
    assert killed and killed.group(1) == killed.group(2) and int(killed.group(2)) >= 45


# Hand-written broken stubs: each check must be able to say no on its own.
def _spec(arch, dialect, policy="raw", symbol="sys_madvise"):
    number = {"386": 219, "amd64": 28, "arm": 220}[arch]
    return Spec(arch, dialect, symbol if dialect == "gnu" else "madvise", "madvise", number, policy)


BROKEN = {
    "loses the result": ("amd64", "mov $0x1c, %eax\nsyscall\nxor %eax, %eax\nret", "result register rax"),
    "calls the errno handler under raw": ("amd64", "mov $0x1c, %eax\nsyscall\npush %rax\ncall stubgen_errno\n"
                                          "pop %rax\nret", "called the errno handler"),
    "crashes on success": ("amd64", "mov $0x1c, %eax\nsyscall\nint3\nret", "crashed (interrupt 3)"),
    "loops": ("amd64", "mov $0x1c, %eax\nsyscall\n.Lspin:\njmp .Lspin\nret", "did not return within"),
    "two syscalls": ("amd64", "mov $0x1c, %eax\nsyscall\nsyscall\nret", "2 syscalls"),
    "no syscall": ("amd64", "mov $0x1c, %eax\nret", "0 syscalls"),
    "jumps to unmapped memory": ("amd64", "mov $0x1c, %eax\nsyscall\nmov $0xdead000, %rcx\njmp *%rcx",
                                 "UNMAPPED"),
    "illegal instruction": ("amd64", "mov $0x1c, %eax\nsyscall\nud2\nret", "fault"),
    "writes into the caller's frame": ("amd64", "mov $0x1c, %eax\nsyscall\nmov %rax, 0x8(%rsp)\nret",
                                       "into the caller's frame"),
    "reads outside the stack": ("amd64", "mov $0x1c, %eax\nsyscall\nmov 0x800(%rsp), %rcx\nret",
                                "outside the caller's frame and stack"),
    "stack overrun": ("amd64", "mov $0x1c, %eax\nsyscall\nsub $0x9000, %rsp\npush %rax\nret", "fault"),
    "truncated pointer": ("amd64", "mov %edi, %edi\nmov $0x1c, %eax\nsyscall\nret", "argument 1 (64-bit)"),
    "clobbers ebx": ("386", "mov 0x4(%esp), %ebx\nmov 0x8(%esp), %ecx\nmov 0xc(%esp), %edx\nmov $0xdb, %eax\n"
                            "int $0x80\nret", "callee-saved ebx"),
    "sysenter in 32-bit code": ("386", "push %ebx\nmov 0x8(%esp), %ebx\nmov 0xc(%esp), %ecx\n"
                                       "mov 0x10(%esp), %edx\nmov $0xdb, %eax\nsysenter\npop %ebx\nret",
                                "sysenter at"),
    "oabi trap": ("arm", "str r7, [sp, #-0x4]!\nmov r7, #0xdc\nsvc #0x9000dc\nldr r7, [sp], #0x4\nbx lr",
                  "not the EABI syscall trap"),
    "clobbers r7": ("arm", "mov r7, #0xdc\nsvc #0x0\nbx lr", "callee-saved r7"),
}


# The emulator reports only accesses that may leave the memory a stub may touch (its
# hooks have address ranges): one that starts inside and ends outside still counts.
BROKEN["write straddling the own frame's top"] = ("amd64", "mov $0x1c, %eax\nsyscall\nmov %rax, -0x4(%rsp)\nret",
                                                 "write of 8 bytes")
BROKEN["write below the own frame"] = ("amd64", "mov $0x1c, %eax\nsyscall\nmov %rax, -0x108(%rsp)\nret",
                                       "write of 8 bytes")

BROKEN["read straddling the caller frame's end"] = ("amd64", "mov 0x4(%rsp), %rcx\nmov $0x1c, %eax\nsyscall\nret",
                                                    "read of 8 bytes")


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_stub_is_rejected(verifier, name):
    arch, body, words = BROKEN[name]
    text = "\t.globl\tsys_madvise\nsys_madvise:\n" + "\n".join("\t" + ln if not ln.endswith(":") else ln
                                                               for ln in body.split("\n")) + "\n"
    rep = verifier.check(text, _spec(arch, "gnu"))
    assert not rep.ok
    assert words in "\n".join(rep.problems), rep.describe()


def test_the_seeds_exact_check_takes_minus_4095_for_success(verifier):
    """The 2011 stubs compared with 0xfffff001: the verifier catches the off-by-one."""
    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], policy="crash")
    seed = s.text.replace("$0xfffff000", "$0xfffff001")
    rep = verifier.check(seed, _spec("386", "plan9", "crash"))
    assert any("kernel result -4095: returned on an error result" in p for p in rep.problems), rep.describe()


def test_failure_report_shows_failing_pc(verifier):
    arch, body, _ = BROKEN["jumps to unmapped memory"]
    text = "sys_madvise:\n" + "\n".join("\t" + ln for ln in body.split("\n"))
    rep = verifier.check(text, _spec(arch, "gnu"))
    assert "=>" not in rep.listing or "0xdead000" in rep.describe()
    out = rep.describe()
    assert out.startswith("FAIL  amd64/gnu sys_madvise (madvise, policy raw)")
    assert "0x100000:" in out


def test_wrong_table_is_caught_by_the_independent_kernel_picture(tmp_path):
    """A table that routes the fourth argument to rcx (the C register, which syscall
    clobbers) generates stubs that the verifier, reading linux_abi.yaml, rejects."""
    from stubgen import resources

    tables = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), tables)
    doc = yaml.safe_load((tables / "amd64.yaml").read_text())
    doc["kernel"]["args"] = ["rdi", "rdx", "rsi", "r10", "r8", "r9"]
    (tables / "amd64.yaml").write_text(yaml.safe_dump(doc))
    stubs = stubgen.generate(arches=["amd64"], dialects=["plan9"], tables=str(tables))
    (rep,) = verify(stubs)
    assert not rep.ok
    assert any("argument 2 (64-bit) in rsi" in p for p in rep.problems), rep.describe()


def test_kernel_statement_agrees_with_the_tables():
    from stubgen import tables
    from stubgen.verifier.kernel import known_arches, linux_abi

    t = tables.load()
    assert sorted(t.arches) == known_arches()
    for arch in t.arches.values():
        abi = linux_abi(arch.name)
        assert arch.kernel.number == abi.number
        assert arch.kernel.args[:6] == abi.args
        assert arch.kernel.result == abi.result
        assert tuple(arch.kernel.error_range) == abi.error_range


def test_manifest_lists_what_verify_reads(tmp_path):
    out = _generated(tmp_path)
    man = json.loads((out / "manifest.json").read_text())
    n = sum(len(f["symbols"]) for f in man["files"] if f["arch"])
    # both dialects on every architecture with a Go port, the C one alone elsewhere (ppc)
    assert n == sum(2 if a.goarch else 1 for a in tables.load().arches.values())


def test_plan9_branch_past_the_end_is_a_read_error(verifier):
    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], policy="crash")
    rep = verifier.check(s.text.replace("JLS\t2(PC)", "JLS\t9(PC)"), _spec("386", "plan9", "crash"))
    assert any("points past the last instruction" in p for p in rep.problems), rep.describe()


def test_the_gnu_reader_ends_a_body_at_its_own_size_directive(verifier):
    """`.size sym` ends sym's body even where no label follows; another symbol's `.size`
    (one whose name starts with sym's) does not."""
    from stubgen import dialects

    reader = verifier.reader(dialects.dialect("gnu"), tables.load().arch("amd64"))[0]
    text = ("sys_madvise:\n\tmov $0x1c, %eax\n\t.size sys_madvise_other, 4\n\tsyscall\n\tret\n"
            "\t.size sys_madvise, .-sys_madvise\n\tud2\n")
    assert reader.read(text, "sys_madvise", {}).source == ["mov $0x1c, %eax", "syscall", "ret"]


def test_the_plan9_reader_keeps_each_lines_own_slot_names(verifier):
    """Lines that differ only in an FP slot's name lower once; each keeps its own names."""
    from stubgen import dialects

    reader = verifier.reader(dialects.dialect("plan9"), tables.load().arch("amd64"))[0]
    body = "\tMOVQ\t{0}+0(FP), DI\n\tMOVQ\t$28, AX\n\tSYSCALL\n\tMOVQ\tAX, {1}+8(FP)\n\tRET\n"
    first = reader.read("TEXT ·a(SB),NOSPLIT,$0-16\n" + body.format("addr", "ret"), "a", {})
    second = reader.read("TEXT ·b(SB),NOSPLIT,$0-16\n" + body.format("fd", "r1"), "b", {})
    assert [s[0] for s in first.slots] == ["addr", "ret"] and [s[0] for s in second.slots] == ["fd", "r1"]
    assert first.lines == second.lines
