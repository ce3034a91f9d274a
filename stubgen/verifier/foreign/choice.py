"""`--stub SYMBOL=CONTRACT`: which function of a file is checked as which syscall (or
syscalls, with which arguments: contract.py), under which error policy."""
from __future__ import annotations

from dataclasses import dataclass

from ...tables import policies
from ..contract import Contract, parse


@dataclass(frozen=True)
class Choice:
    """--stub SYMBOL=SYSCALL[:POLICY], or a fuller contract."""

    symbol: str
    syscall: str
    policy: str = policies.DEFAULT
    contract: Contract | None = None  # None: SYSCALL with its own arguments in order


def parse_choice(text: str) -> Choice:
    c = parse(text, policies.POLICIES)
    return Choice(c.symbol, c.syscall, c.policy, None if c.plain else c)
