"""`--stub`: which function of a file is checked as which syscall, under which error
policy, and with which arguments. One grammar (README, "The --stub grammar"), read two
ways:

- contract.py's: SYMBOL[(PARAMS)]=CALL[; CALL...][:POLICY], the contracts of machine
  code (several syscalls in order, the number in a register, pointer parameters, an
  errno handler's convention);
- a Go function's arguments, `SYMBOL=SYSCALL[(ARG, ...)][:POLICY]`, where an ARG may
  also name what only a Go frame has:
  - `$N`: the function's parameter N (from 0), as its Go declaration orders them;
    `$N>>K`: that parameter shifted right by K bits (mmap2 takes the offset in
    4096-byte pages: Go's 386 mmap is `mmap=mmap2($0, $1, $2, $3, $4, $5>>12)`);
  - a number (`-100`, `0x0`): a constant the function supplies itself (Go's `open`
    calls `openat(AT_FDCWD, ...)`: `open=openat(-100, $0, $1, $2)`);
  - `&NAME`: the address of the Go frame slot NAME, a parameter or a result (Go's
    `pipe2` hands the kernel the address of its result r: `pipe2=pipe2(&r, $0)`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...errors import StubgenError
from ...tables import policies
from ..contract import Contract, parse

_CALL = re.compile(r"^(?P<syscall>\w+)(?:\((?P<args>[^()]*)\))?$")
_PARAM = re.compile(r"^\$(\d+)(?:\s*>>\s*(\d+))?$")
_SLOT = re.compile(r"^&([A-Za-z_]\w*)$")
_CONST = re.compile(r"^-?(?:0[xX][0-9a-fA-F]+|\d+)$")
MAX_ARGS = 8
_GO_SYMBOL = re.compile(r"^\s*[\w.$·]+\s*$")  # a Go function's name: no parameter list (machine code's PARAMS)


@dataclass(frozen=True)
class ArgSource:
    """Where the kernel's argument comes from: kind "param" (value: the parameter's
    index), "const" (value: the number) or "slot" (name: the Go frame slot whose address it is)."""

    kind: str
    value: int = 0
    name: str = ""
    shift: int = 0  # a parameter shifted right by this many bits

    def __str__(self) -> str:
        param = f"${self.value}" + (f">>{self.shift}" if self.shift else "")
        return {"param": param, "const": str(self.value), "slot": f"&{self.name}"}[self.kind]


@dataclass(frozen=True)
class Choice:
    """One --stub. policy None: the syscall's default (noreturn for exit_group, else raw).
    args: a Go function's arguments (None: its parameters, one for one); contract: what
    machine code promises beyond one syscall with its own arguments (None: nothing more);
    a choice has either or both, as the text allows."""

    symbol: str
    syscall: str
    policy: str | None = None
    args: tuple[ArgSource, ...] | None = None
    contract: Contract | None = None
    # Why the text is no contract of machine code, where it reads as a Go function's
    # arguments only ($N>>K, &NAME, a generic call's number as $0): bad input there.
    problem: str = ""
    # Machine code compiled from stubgen's own wrappers (a generated C header's): held to
    # stubgen's policy as well as Linux's ABI (Spec.own_policy). Never set from --stub text.
    own: bool = False


def parse_choice(text: str) -> Choice:
    """A --stub text read both ways; an error only where neither reads it."""
    try:
        go: Choice | None = _go_choice(text) if _GO_SYMBOL.match(text.partition("=")[0]) else None
        go_error = None
    except StubgenError as e:
        go, go_error = None, e
    try:
        c = parse(text, policies.POLICIES)
    except StubgenError as e:
        if go is not None:
            return Choice(go.symbol, go.syscall, go.policy, go.args, None, str(e))
        rest = text.partition("=")[2]
        if go_error is not None and (">>" in rest or "&" in rest):
            raise go_error from None  # what only a Go function's arguments have: their reading says what is wrong
        raise
    contract = None if c.plain else c
    if go is not None:
        return Choice(go.symbol, go.syscall, go.policy, go.args, contract)
    return Choice(c.symbol, c.syscall, c.policy, None, contract)


def _source(text: str, where: str) -> ArgSource:
    t = text.strip()
    if m := _PARAM.match(t):
        shift = int(m.group(2) or 0)
        if shift > 63:
            raise StubgenError(f"--stub {where!r}: {t!r} shifts by more than 63 bits")
        return ArgSource("param", int(m.group(1)), shift=shift)
    if m := _SLOT.match(t):
        return ArgSource("slot", name=m.group(1))
    if _CONST.match(t):
        return ArgSource("const", int(t, 0) if not re.match(r"^-?0\d", t) else int(t, 8))
    raise StubgenError(f"--stub {where!r}: argument {t!r} is neither $N (parameter N; $N>>K shifted), a number, "
                       "nor &NAME (the address of the Go frame slot NAME)")


def _go_choice(text: str) -> Choice:
    symbol, sep, rest = text.partition("=")
    if ")" in rest:
        end = rest.rindex(")") + 1
        call, tail = rest[:end], rest[end:]
        policy = tail[1:] if tail.startswith(":") else ("\0" if tail else "")
    else:
        call, _, policy = rest.partition(":")
    m = _CALL.match(call.strip()) if sep and symbol and policy != "\0" else None
    if m is None:
        raise StubgenError(f"--stub {text!r}: expected SYMBOL=SYSCALL[(ARG, ...)][:POLICY], for example "
                           "write1=write, exit=exit_group:noreturn or open=openat(-100, $0, $1, $2)")
    if policy and policy not in policies.POLICIES:
        raise StubgenError(f"--stub {text!r}: unknown error policy {policy!r}; valid: "
                           f"{', '.join(sorted(policies.POLICIES))}")
    args = None
    if m.group("args") is not None:
        parts = m.group("args").split(",") if m.group("args").strip() else []
        if len(parts) > MAX_ARGS:
            raise StubgenError(f"--stub {text!r}: more than {MAX_ARGS} arguments")
        args = tuple(_source(a, text) for a in parts)
    return Choice(symbol, m.group("syscall"), policy or None, args=args)
