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


POLICIES = {p.name: p for p in (
    Policy("raw", "return the kernel's result (a negative errno on failure)", True),
    Policy("crash", "crash on a result in the error range, return nothing (the Go runtime of 2011)", False,
           crashes_on_error=True),
    Policy("ignore", "return nothing and do not look at the result", False),
    Policy("errno", "on error call the handler with the positive errno and return -1", True,
           calls_handler=True),
)}
DEFAULT = "raw"
