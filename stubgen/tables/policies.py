"""Error policies: what a stub does with the kernel's result. Each policy a template
offers is a macro `policy_<name>` in it; the verifier checks the contract written
here (also for stubs stubgen did not write: errno-return and noreturn describe
conventions of other runtimes that no template offers)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    summary: str
    returns: bool  # the stub delivers a result
    crashes_on_error: bool = False
    calls_handler: bool = False  # hands the positive errno to a handler on an error
    handler_result: bool = False  # ...and returns what the handler returns (-1), even by a tail call
    never_returns: bool = False  # after the trap the stub stops itself; nothing after it runs normally
    error_value: int | None = None  # on an error the stub returns this (no errno anywhere)
    verify_only: bool = False  # a convention of other runtimes' stubs: no template offers it
    chosen: bool = True  # a user picks it (--errors); False: the tables impose it, or no template offers it


POLICIES = {p.name: p for p in (
    Policy("raw", "return the kernel's result (a negative errno on failure)", True),
    Policy("crash", "crash on a result in the error range, return nothing (the Go runtime of 2011)", False,
           crashes_on_error=True),
    Policy("ignore", "return nothing and do not look at the result", False),
    Policy("errno", "on error call the handler with the positive errno and return -1", True,
           calls_handler=True),
    Policy("errno-return", "on error hand the positive errno to a handler that itself returns -1 "
           "(bionic's __set_errno_internal, also by a tail call)", True,
           calls_handler=True, handler_result=True, verify_only=True, chosen=False),
    # Results of -1 without errno: the Go runtime's open and closefd, a libc's wrappers
    # that drop the errno.
    Policy("minus1", "on error return -1 and leave errno alone (the Go runtime's open, closefd)", True,
           error_value=-1, verify_only=True, chosen=False),
    # exit, exit_group, rt_sigreturn, sigreturn: should the kernel ever come back, the
    # stub crashes rather than return into a caller that did not expect it.
    Policy("noreturn", "the call never returns: trap, then crash should the kernel come back", False,
           never_returns=True, chosen=False),
)}
DEFAULT = "raw"
GENERATED = {n: p for n, p in POLICIES.items() if p.chosen}  # what --errors offers
CHOSEN = list(GENERATED)


def for_signature(sig, policy: str) -> str:
    """The policy a stub of sig gets when the user asked for policy."""
    return "noreturn" if sig.special == "noreturn" else policy
