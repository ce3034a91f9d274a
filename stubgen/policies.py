"""Error policies: what a stub does with the kernel's result. Each is implemented
by a macro `policy_<name>` in every template that offers it; the verifier checks
the contract written here."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    name: str
    summary: str
    returns: bool  # the stub delivers a result


POLICIES = {p.name: p for p in (
    Policy("raw", "return the kernel's result (a negative errno on failure)", True),
    Policy("crash", "crash on a result in the error range, return nothing (the Go runtime of 2011)", False),
    Policy("ignore", "return nothing and do not look at the result", False),
    Policy("errno", "on error call the handler with the positive errno and return -1", True),
)}
DEFAULT = "raw"
