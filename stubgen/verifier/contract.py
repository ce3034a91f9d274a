"""Contracts: what another runtime's function promises beyond "this syscall, its own
arguments in order", as `--stub` states them (README: "The --stub grammar"):

    SYMBOL[(PARAMS)]=CALL[; CALL...][:POLICY]
    CALL   = SYSCALL[@WHERE][(ARG, ...)]
    ARG    = $N (the function's Nth parameter, from 0) | an integer (a constant) | _ (anything)
    WHERE  = a register the caller loads the number into | $N (a parameter holds it)
    PARAMS = _ (a value) | &V (a pointer to a word that holds V), for the first parameters
    POLICY = raw | errno | errno(HANDLER takes WHAT) | minus1 | crash | ignore | noreturn ...

A contract without calls in parentheses, `read`, is the syscall's own arguments in
order ($0, $1, ...), as before. The parser knows nothing of the tables: the caller
checks the names and counts (parse, then bind)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import StubgenError
from .body import mask

TAKES = ("errno", "raw", "raw_result", "errno_result")  # standins.py: what a handler reads


@dataclass(frozen=True)
class Expected:
    """One trap a contract expects: the syscall, the number the kernel must read, and
    where each argument must be (the kernel's placement, or why they do not fit)."""

    syscall: str
    number: int
    generic: bool  # the number is the caller's (a generic wrapper), not the syscall's own
    where: list | str
    sizes: tuple[int, ...]  # bytes of each argument, for messages


@dataclass(frozen=True)
class Arg:
    """What the kernel must see in one argument: a parameter of the function, or a constant."""

    param: int | None = None
    const: int | None = None
    any: bool = False  # whatever the function passes (musl's __unmapself exits with munmap's result)

    def __str__(self) -> str:
        return "_" if self.any else f"${self.param}" if self.param is not None else str(self.const)


@dataclass(frozen=True)
class Call:
    syscall: str
    args: tuple[Arg, ...] | None  # None: the syscall's own arguments, $0, $1, ... in order
    number_in: str = ""  # a register the caller loads the number into, or "$N"

    def __str__(self) -> str:
        where = f"@{self.number_in}" if self.number_in else ""
        return self.syscall + where + (f"({', '.join(map(str, self.args))})" if self.args is not None else "")


@dataclass(frozen=True)
class Contract:
    symbol: str
    calls: tuple[Call, ...]
    policy: str
    pointers: tuple[tuple[int, int], ...] = ()  # (parameter, the word it points to)
    handler: tuple[str, str] | None = None  # (errno handler, what it takes) for errno(...)
    text: str = ""

    @property
    def plain(self) -> bool:
        """The old form SYMBOL=SYSCALL[:POLICY]: one call, its own arguments, nothing more."""
        return (len(self.calls) == 1 and self.calls[0].args is None and not self.calls[0].number_in
                and not self.pointers and self.handler is None)

    @property
    def syscall(self) -> str:
        """The syscall whose result the function returns (the last one)."""
        return self.calls[-1].syscall

    def parameters(self, arities: list[int]) -> int:
        """How many parameters the function takes, given each call's syscall arity (its
        own arguments, or a generic call's number and arguments)."""
        used = [p for c in self.calls for p in _params(c)] + [p for p, _ in self.pointers]
        own = [n for c, n in zip(self.calls, arities) if c.args is None]
        return max([p + 1 for p in used] + own + [0])


def _params(c: Call) -> list[int]:
    out = [a.param for a in c.args or () if a.param is not None]
    if c.number_in.startswith("$"):
        out.append(int(c.number_in[1:]))
    return out


_NAME = r"[A-Za-z_][\w.$]*"
_HEAD = re.compile(rf"^\s*({_NAME})\s*(?:\(([^)]*)\))?\s*=\s*(.*)$")
_CALL = re.compile(rf"^\s*({_NAME})\s*(?:@\s*(\$\d+|[A-Za-z][\w]*))?\s*(?:\((.*)\))?\s*$")
_POLICY = re.compile(rf"^\s*([\w-]+)\s*(?:\(\s*({_NAME})\s+takes\s+(\w+)\s*\))?\s*$")
EXAMPLES = ("examples: write1=write, exit=exit_group:noreturn, 'open=openat(-100, $0, $1, $2)', "
            "'sbrk0=brk(0)', '__unmapself=munmap($0, $1); exit(0)', '__syscall_cp_asm(&0)=syscall6@$1($2, $3, "
            "$4, $5, $6, $7)'")


def _int(text: str, where: str) -> int:
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise StubgenError(f"--stub {where}: {text.strip()!r} is neither $N (a parameter) nor an integer; "
                           + EXAMPLES) from None


def parse(text: str, policies) -> Contract:
    """A --stub text as a Contract; one clear error naming what is wrong otherwise.
    policies: the valid policy names."""
    m = _HEAD.match(text)
    if not m or not m.group(3).strip():
        raise StubgenError(f"--stub {text!r}: expected SYMBOL=SYSCALL[(ARGS)][:POLICY]; " + EXAMPLES)
    symbol, params_text, rest = m.group(1), m.group(2), m.group(3)
    policy, handler = "raw", None
    if ":" in rest:
        rest, _, ptext = rest.rpartition(":")
        pm = _POLICY.match(ptext)
        if not pm or pm.group(1) not in policies:
            raise StubgenError(f"--stub {text!r}: unknown error policy {ptext.strip()!r}; valid: "
                               f"{', '.join(sorted(policies))}, or errno(HANDLER takes WHAT) with WHAT one of "
                               f"{', '.join(TAKES)}")
        policy = pm.group(1)
        if pm.group(2):
            if pm.group(3) not in TAKES:
                raise StubgenError(f"--stub {text!r}: a handler takes {', '.join(TAKES)}, not {pm.group(3)!r}")
            handler = (pm.group(2), pm.group(3))
    calls = []
    for part in rest.split(";"):
        cm = _CALL.match(part)
        if not cm:
            raise StubgenError(f"--stub {text!r}: {part.strip()!r} is not SYSCALL[@WHERE][(ARGS)]; " + EXAMPLES)
        args = None
        if cm.group(3) is not None:
            args = tuple(Arg(param=int(a.strip()[1:])) if re.fullmatch(r"\s*\$\d+\s*", a)
                         else Arg(any=True) if a.strip() == "_"
                         else Arg(const=_int(a, repr(text))) for a in cm.group(3).split(",") if a.strip())
        calls.append(Call(cm.group(1), args, cm.group(2) or ""))
    pointers = []
    if params_text is not None:
        items = [p.strip() for p in params_text.split(",")] if params_text.strip() else []
        for i, p in enumerate(items):
            if p.startswith("&"):
                pointers.append((i, _int(p[1:], repr(text))))
            elif p != "_":
                raise StubgenError(f"--stub {text!r}: parameter {p!r}: write _ (a value) or &V (a pointer to V)")
    return Contract(symbol, tuple(calls), policy, tuple(pointers), handler, text)


# ---------------------------------------------------------------- against the tables

def check(c: Contract, arch, tables) -> Contract:
    """c held to the tables: every syscall has a number and signature on arch, every call
    gives as many arguments as its syscall takes, every number register is one of arch's.
    A parameter passed as an argument wider than a register (a 64-bit offset on a 32-bit
    architecture) is that wide itself: the function takes it as C does (parameter_sizes;
    conventions.yaml's pairs), and the kernel must see it as its ABI's pair. A contract whose last call never returns (exit)
    is noreturn unless it says otherwise."""
    for call in c.calls:
        if not tables.available(arch, call.syscall):
            raise StubgenError(f"--stub {c.text!r}: {call.syscall!r} has no number and signature on {arch.name} in "
                               "the tables (stubgen list shows them)")
        sig = tables.signature(arch, call.syscall)
        kargs = [p for p in sig.args if p.role != "number"]
        if call.args is not None and len(call.args) != len(kargs):
            raise StubgenError(f"--stub {c.text!r}: {call.syscall} takes {len(kargs)} arguments "
                               f"({', '.join(p.name for p in kargs) or 'none'}), the contract gives {len(call.args)}")
        reg = call.number_in
        if reg and not reg.startswith("$") and reg not in arch.registers:
            raise StubgenError(f"--stub {c.text!r}: {reg!r} is not a {arch.name} register; valid: "
                               f"{', '.join(arch.registers)}")
    last = tables.signature(arch, c.syscall)
    if last.special == "noreturn" and c.policy == "raw" and ":" not in c.text:
        c = replace(c, policy="noreturn")
    return c


def arities(c: Contract, arch, tables) -> list[int]:
    """Each call's parameters when it gives no arguments: its own, with a generic
    syscall's number first unless the number comes from elsewhere (@)."""
    out = []
    for call in c.calls:
        sig = tables.signature(arch, call.syscall)
        n = len([p for p in sig.args if p.role != "number"])
        out.append(n + (1 if sig.generic and not call.number_in else 0))
    return out


def parameter_sizes(c: Contract, arch, tables) -> list[tuple]:
    """(bytes, role, bits[, signed]) of each parameter: the type of the first syscall
    argument it is passed as (an int stays 32 bits), a word where none says; signed for a
    word-sized type (C's long or a pointer)."""
    n = c.parameters(arities(c, arch, tables))
    out: list[tuple] = [(arch.word_bytes, None, 8 * arch.word_bytes)] * n
    seen: set[int] = set()
    for call in c.calls:
        sig = tables.signature(arch, call.syscall)
        kargs = [p for p in sig.args if p.role != "number"]
        first = 1 if sig.generic and not call.number_in else 0
        srcs = call.args if call.args is not None else [Arg(param=i + first) for i in range(len(kargs))]
        for a, p in zip(srcs, kargs):
            if a.param is not None and a.param < n and a.param not in seen:
                seen.add(a.param)
                # a word-sized type says whether it is signed (checker.py: where C's long is
                # narrower than the register, the kernel's long_args rule applies)
                out[a.param] = (p.type.bytes(arch), None, p.type.kernel_bits(arch), p.type.signed) \
                    if p.type.size == "word" else (p.type.bytes(arch), None, p.type.kernel_bits(arch))
    return out


POINTER_CELLS = 0x300  # above the entry stack pointer: where a &V parameter's word lies


def lay(c: Contract, s, setup, frame, tables):
    """(setup, expected traps) for a function held to contract c: the caller's state
    with pointer parameters and number registers set, and each trap's number and
    argument placement. s: the Subject; setup: the caller laid out for c's parameters
    (one word each, in order)."""
    arch, abi, word = s.arch, s.abi, s.arch.word_bytes
    values = [a[0] for a in setup.args]
    regs, memory = dict(setup.regs), list(setup.memory)
    end = setup.caller_frame[1]
    for k, (p, v) in enumerate(c.pointers):
        cell = setup.sp + POINTER_CELLS + word * k
        memory.append((cell, (v & mask(8 * word)).to_bytes(word, arch.endian)))
        end = max(end, cell + word)
        places = frame.args[p].places if p < len(frame.args) else ()
        if not places:
            raise StubgenError(f"--stub {c.text!r}: parameter {p} as a pointer needs the C calling convention")
        place = places[0]
        if place.reg is not None:
            regs[place.reg] = cell
        else:
            memory.append((setup.sp + place.stack, cell.to_bytes(word, arch.endian)))
        values[p] = cell
    expected = []
    for n, call in enumerate(c.calls):
        sig = tables.signature(arch, call.syscall)
        kargs = [p for p in sig.args if p.role != "number"]
        srcs = list(call.args) if call.args is not None else None
        generic = sig.generic
        if call.number_in.startswith("$"):
            number = values[int(call.number_in[1:])]
        elif generic and not call.number_in:
            number = values[0]
            srcs = srcs if srcs is not None else [Arg(param=i + 1) for i in range(len(kargs))]
        elif generic:
            number = 0x4D5E6F70 + n  # a distinct number the caller loads into the register
        else:
            number = arch.numbers[call.syscall]
        if call.number_in and not call.number_in.startswith("$"):
            regs[call.number_in] = number
        if srcs is None:
            srcs = [Arg(param=i) for i in range(len(kargs))]
        want = []
        for a, p in zip(srcs, kargs):
            size, bits = p.type.bytes(arch), 0 if a.any else p.type.kernel_bits(arch)
            v = values[a.param] if a.param is not None else (a.const or 0)
            want.append((v & mask(8 * size), size, bits))
        try:
            where: list | str = abi.placement(want, word, arch.endian)
        except ValueError as e:
            where = str(e)
        expected.append(Expected(call.syscall, number & mask(abi.number_bits), generic, where,
                                 tuple(w[1] for w in want)))
    lo = setup.caller_frame[0]
    return replace(setup, regs=regs, memory=memory, caller_frame=(lo, end), poisoned=dict(regs)), tuple(expected)
