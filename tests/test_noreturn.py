"""Calls that never return (exit, exit_group, rt_sigreturn, sigreturn): one stub
whatever the policy, which crashes should the kernel ever come back; the verifier's
fake kernel always comes back, and a stub that then returns to its caller fails."""
import pytest

import stubgen
from stubgen.pipeline.mutants import mutants
from stubgen.verifier import Spec, Verifier, verify

ARCHES = ["386", "amd64", "arm"]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


@pytest.mark.parametrize("policy", ["raw", "crash", "ignore"])
def test_exit_group_is_noreturn_under_every_policy(policy):
    stubs = stubgen.generate(["exit_group", "exit"], ARCHES, ["plan9"], policy)
    assert {s.policy for s in stubs} == {"noreturn"}
    for s in stubs:
        assert "ret+" not in s.text and not s._context.frame.result
    for rep in verify(stubs):
        assert rep.ok, rep.describe()


@pytest.mark.parametrize("dialect", ["plan9", "gnu"])
@pytest.mark.parametrize("arch", ARCHES)
def test_a_noreturn_stub_that_returns_is_rejected(verifier, arch, dialect):
    from stubgen.dialects import dialect as get_dialect
    from stubgen.generator.stubs import render_stub

    (s,) = stubgen.generate(["exit_group"], [arch], [dialect])
    # the same stub without the stop after the trap: it returns to its caller
    text = render_stub(get_dialect(dialect).module(arch), s._context, "ignore")
    rep = verifier.check(text, Spec(arch, dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
    assert any("never returns" in p for p in rep.problems), rep.problems


def test_noreturn_is_not_a_policy_users_pick():
    with pytest.raises(stubgen.errors.StubgenError, match="error policy 'noreturn'"):
        stubgen.generate(["madvise"], policy="noreturn")


def test_mutants_of_noreturn_stubs_are_killed(verifier):
    stubs = stubgen.generate(["exit_group", "rt_sigreturn"], ARCHES)
    seen = 0
    for s in stubs:
        for kind, text in mutants(s):
            seen += 1
            rep = verifier.check(text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))
            assert not rep.ok, f"{kind} survived: {s.arch}/{s.dialect} {s.syscall}\n{text}"
    assert seen >= 20
