"""`--stub SYMBOL=SYSCALL[:POLICY]`: which function of a file is checked as which syscall,
under which error policy."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import StubgenError
from ...tables import policies


@dataclass(frozen=True)
class Choice:
    """--stub SYMBOL=SYSCALL[:POLICY]"""

    symbol: str
    syscall: str
    policy: str = policies.DEFAULT


def parse_choice(text: str) -> Choice:
    symbol, sep, rest = text.partition("=")
    syscall, _, policy = rest.partition(":")
    if not sep or not symbol or not syscall:
        raise StubgenError(f"--stub {text!r}: expected SYMBOL=SYSCALL[:POLICY], for example "
                           "write1=write or exit=exit_group:noreturn")
    policy = policy or policies.DEFAULT
    if policy not in policies.POLICIES:
        raise StubgenError(f"--stub {text!r}: unknown error policy {policy!r}; valid: "
                           f"{', '.join(sorted(policies.POLICIES))}")
    return Choice(symbol, syscall, policy)
