"""Error policies: what a stub does with the kernel's result. Each is implemented
by a macro `policy_<name>` in every template that offers it; the verifier checks
the contract written here."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    summary: str
    returns: bool  # the stub delivers a result
    crashes_on_error: bool = False
    calls_handler: bool = False  # hands the positive errno to a handler and returns -1
    never_returns: bool = False  # after the trap the stub stops itself; nothing after it runs normally
    chosen: bool = True  # a user picks it (--errors); False: the tables impose it on some calls


POLICIES = {p.name: p for p in (
    Policy("raw", "return the kernel's result (a negative errno on failure)", True),
    Policy("crash", "crash on a result in the error range, return nothing (the Go runtime of 2011)", False,
           crashes_on_error=True),
    Policy("ignore", "return nothing and do not look at the result", False),
    Policy("errno", "on error call the handler with the positive errno and return -1", True,
           calls_handler=True),
    # exit, exit_group, rt_sigreturn, sigreturn: should the kernel ever come back, the
    # stub crashes rather than return into a caller that did not expect it.
    Policy("noreturn", "the call never returns: trap, then crash should the kernel come back", False,
           never_returns=True, chosen=False),
)}
DEFAULT = "raw"
CHOSEN = [p.name for p in POLICIES.values() if p.chosen]


def for_signature(sig, policy: str) -> str:
    """The policy a stub of sig gets when the user asked for policy."""
    return "noreturn" if sig.special == "noreturn" else policy
