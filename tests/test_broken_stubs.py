"""Checks that had no broken stub of their own: each stub here breaks one rule, and
the only problems reported are that rule's (so disabling the check makes it pass)."""
import pytest

import stubgen
from stubgen.verifier import Spec, Verifier


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


def _stub(arch, dialect, policy):
    (s,) = stubgen.generate(arches=[arch], dialects=[dialect], policy=policy)
    return s


def _only(rep, words):
    assert not rep.ok
    found = [p for p in rep.problems if not p.startswith("seen at the trap")]
    assert found and all(words in p for p in found), rep.describe()


CASES = {
    # errno handed over as the kernel returned it (-22), not as the positive errno
    "errno handler called with the wrong value": (
        "amd64", "gnu", "errno", lambda t: t.replace("\tneg\t%rax\n", ""), "errno handler called with"),
    # on an error the stub spins instead of crashing
    "crash policy still running at the step limit": (
        "amd64", "gnu", "crash", lambda t: t.replace("\tud2\n", ".Lspin:\n\tjmp\t.Lspin\n"),
        "instead of crashing"),
    "TEXT argument size mismatch": (
        "386", "plan9", "raw", lambda t: t.replace("$0-16", "$0-12"), "TEXT declares argument size 12"),
    # a lone prefix: Keystone merges it into the next instruction (repz ret), which runs fine
    "Capstone instruction count": (
        "amd64", "gnu", "raw", lambda t: t.replace("\tret\n", "\trep\n\tret\n"), "Capstone decodes"),
    # 0x101 does not fit a byte register: Keystone keeps 1, and r11 is scratch anyway
    "Capstone missing number": (
        "amd64", "gnu", "raw", lambda t: t.replace("\tsyscall\n", "\tadd\t$0x101, %r11b\n\tsyscall\n"),
        "0x101 missing"),
    # MIPS PIC: gp computed without the PC bal left in ra: the GOT load reads unmapped memory
    "MIPS gp without the PC": (
        "mips", "gnu", "errno", lambda t: t.replace("\taddu\t$gp, $gp, $ra\n", "\taddu\t$gp, $gp, $zero\n"),
        "fault"),
    # n64: a %lo that lands gp a slot off the fake GOT's first: the handler's address is not there
    "MIPS64 gp a slot off": (
        "mips64le", "gnu", "errno", lambda t: t.replace("\tld\t$t9, %call16(stubgen_errno)($gp)\n",
                                                         "\tld\t$t9, %call16(stubgen_errno)+0x8($gp)\n"),
        "fault"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_only_this_check_says_no(verifier, name):
    arch, dialect, policy, edit, words = CASES[name]
    s = _stub(arch, dialect, policy)
    text = edit(s.text + "\n")
    assert text != s.text + "\n"
    spec = Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy)
    assert verifier.check(s.text, spec).ok
    _only(verifier.check(text, spec), words)
