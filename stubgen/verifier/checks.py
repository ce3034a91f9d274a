"""What must hold after one emulated call: the kernel saw the right number and
arguments exactly once, and the caller got back what its convention and the
error policy promise."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..tables.model import Arch
from ..tables.policies import Policy
from . import gostandins
from .body import mask
from .caller import OWN_FRAME, Setup, bad_accesses
from .contract import Contract, Expected
from .conventions import CallFrame, Conventions, go_hooks
from .emulator import STEP_LIMIT
from .kernel import LinuxABI

INJECTED = (0, 1, -1, -22, -4095, -4096, 0x7FFFFFFF)
HANDLER_POISON = 0x5A5A5A5A5A5A5A5A  # what a C errno handler leaves in the result register


def negated(abi) -> tuple[int, ...]:
    """Results a stub is also run with: the errors this ABI's kernel may return already
    negated with its error flag set."""
    from .emulator import Negated

    return tuple(Negated(-abi.errno[name]) for name in abi.negated_errors)


@dataclass(frozen=True)
class Subject:
    """Everything one stub is held to: its architecture, the kernel ABI, the caller's
    convention and frame, the error policy and the syscall number."""

    arch: Arch  # register names, word size, endianness
    abi: LinuxABI
    conv: Conventions
    kind: str  # "go_abi0", "go_internal" (Go's register ABI) or "c_abi": which of conv the caller uses
    frame: CallFrame
    policy: Policy
    syscall: str
    number: int | None  # the table's number (None: a generic stub's comes from its caller)
    handler: str  # the errno handler's symbol
    own: bool = True  # text stubgen wrote, held to stubgen's own promises as well as Linux's
    # Machine code compiled from stubgen's own inline wrappers (the C dialect's callers):
    # held to Linux's ABI as other machine code is, and to what stubgen's policies promise
    # as well (the stop after a never-returning trap, an error path even where the kernel
    # cannot fail), since stubgen wrote that much of it.
    own_policy: bool = False
    contract: Contract | None = None  # (--stub) the traps and arguments it promises
    standins: tuple = ()  # standins.StandIn: what the stub calls or jumps to outside its input
    indirect: int = 0  # the entry point reads this many words of arguments through its one pointer

    @property
    def held(self) -> bool:
        """Held to stubgen's policy promises, beyond Linux's."""
        return self.own or self.own_policy

    @property
    def word_mask(self) -> int:
        return mask(8 * self.arch.word_bytes)

    @property
    def go(self) -> bool:
        return self.kind in ("go_abi0", "go_internal")


@dataclass(frozen=True)
class Stage:
    """What is the same for every run of one stub's code."""

    setup: Setup
    where: list | str  # the kernel's placement of the arguments, or why they do not fit
    code_len: int
    readable: tuple = ()  # more (start, end) ranges the stub may read: an image, stand-in data
    writable: tuple = ()  # ranges it may write: errno
    named: object = None  # address -> what lies there (an image's symbol), for messages
    expected: tuple = ()  # Expected traps in order (a contract's); () for the one trap of s
    own_frame: int = OWN_FRAME  # bytes below the entry stack pointer the code may use
    steps: int = STEP_LIMIT  # instructions a run may take
    # What the checks at the trap found, kept for the runs resumed from the same trap
    # (resume.py): they check it once, whatever result each is then given.
    memo: dict = field(default_factory=dict, compare=False, hash=False)


class Unobserved:
    """errno where nothing can observe it (a stub stubgen wrote: its handler's calls say it)."""


UNOBSERVED = Unobserved()


def placement(s: Subject, setup: Setup):
    """Where the kernel reads each argument, or why the arguments do not fit."""
    try:
        return s.abi.placement(setup.args, s.arch.word_bytes, s.arch.endian)
    except ValueError as e:
        return str(e)


def evaluate(run, calls, s: Subject, st: Stage, inject: int, read_memory,
             errno=UNOBSERVED, arrivals=()) -> tuple[list[str], list[str]]:
    """(problems, warnings) of one run. calls: the stand-ins' calls of this run;
    read_memory(address, size): the emulator's memory after it; errno: what the run
    left in errno (None: untouched), where stand-ins observe it; arrivals: the run's
    arrivals at Go's stand-ins (gostandins.py)."""
    p: list[str] = []
    narrow: list[str] = []  # warnings of a result right in its int's bits only
    abi, arch, policy, setup = s.abi, s.arch, s.policy, st.setup
    is_error = abi.error_range[0] <= inject <= abi.error_range[1]
    if run.tail is not None:
        # A tail jump: the function it reached does the rest, with the frame as it was.
        tail = next(a for a in reversed(arrivals) if a.kind == "tail")
        p += gostandins.tail_problems(run, tail, setup.sp)
        bad, warnings = bad_accesses(run, setup, st.code_len, False)
        return p + bad, warnings
    # A stub that calls one of Go's runtime hooks must call each, in order (they pair up).
    hooks = go_hooks()
    if any(x.name in hooks for x in s.standins):
        p += gostandins.order_problems(arrivals, hooks, len(run.traps),
                                     (s.conv.go_abi0.call_align if s.conv.go_abi0 else 0) or arch.word_bytes)
    # After a call that never returns nothing runs on Linux, so another runtime's stub may
    # do anything there; stubgen's own promise to crash should the kernel come back
    # rules out a second trap too.
    expected = st.expected
    if not expected:
        expected = st.memo.get("one") or st.memo.setdefault("one", (_one(s, st),))
    traps = run.traps[:len(expected)] if policy.never_returns and not s.held else run.traps
    if len(traps) != len(expected):
        p.append(f"{len(traps)} syscalls, expected " + ("exactly one" if len(expected) == 1 else
                 f"{len(expected)} ({', '.join(e.syscall for e in expected)}, in this order)"))
    else:
        for k, (t, e) in enumerate(zip(traps, expected)):
            seen = st.memo.get(("trap", k))
            if seen is None or seen[0] is not t:  # another run's trap (each run from the entry has its own)
                seen = st.memo[("trap", k)] = (t, _trap(t, s, e, setup, len(expected) > 1))
            p += seen[1]
    if policy.never_returns:
        # Nothing after the trap runs on Linux: what the emulator did there is moot.
        if traps:
            after = traps[0].pc
            run.reads[:] = [r for r in run.reads if r[2] < after]
            run.writes[:] = [w for w in run.writes if w[3] < after]
        # stubgen's own never-returning stubs promise more: should the kernel come back
        # (the fake kernel always does), they stop there rather than return into a
        # caller that did not expect it. Other runtimes' stubs (Go's exit: SYSCALL; RET)
        # are held only to the trap.
        if s.held and run.returned:
            p.append("returned from a call that never returns; nothing after the trap may return")
        elif s.held and run.steps_exhausted:
            p.append(f"still running after {st.steps} instructions instead of stopping after the trap")
    elif policy.crashes_on_error and is_error:
        if run.returned:
            p.append("returned on an error result; the crash policy must crash")
        elif run.steps_exhausted:
            p.append(f"still running after {st.steps} instructions instead of crashing")
    elif run.fault:
        p.append(f"fault: {run.fault} at pc {run.pc:#x}")
    elif run.crash:
        p.append(f"crashed ({run.crash}) at pc {run.pc:#x}; policy {policy.name} does not crash")
    elif run.steps_exhausted:
        p.append(f"did not return within {st.steps} instructions (pc {run.pc:#x})")
    else:
        sp = run.regs[arch.stack_pointer]
        if sp != setup.sp_after:
            p.append(f"stack pointer {sp:#x} after return, expected {setup.sp_after:#x} "
                     f"({sp - setup.sp_after:+d} bytes unbalanced)")
        if s.go and s.conv.go_abi0 is not None:
            p += [f"{r} = {run.regs[r]:#x} after return; Go takes it as zero at every instruction"
                  for r in s.conv.go_abi0.zero if run.regs[r] != 0]
        if s.kind == "go_internal" and s.conv.go_internal:
            p += [f"{r} = {run.regs[r]:#x} after return, expected {setup.poisoned[r]:#x}: Go's register ABI "
                  "keeps the current goroutine there" for r in s.conv.go_internal.fixed
                  if run.regs[r] != setup.poisoned[r]]
        if s.kind == "c_abi":
            for r in s.conv.c.callee_saved:
                if run.regs[r] != setup.poisoned[r]:
                    p.append(f"callee-saved {r} = {run.regs[r]:#x} after return, expected {setup.poisoned[r]:#x}")
        p += _result(run, calls, s, setup, inject, is_error, read_memory, errno, narrow)
    p += _alignment(calls, s)
    # The access that crashed the stub on purpose is not a stray one.
    stops = policy.never_returns or (policy.crashes_on_error and is_error)
    skip_pc = _crash_pc(run) if stops and (run.fault or run.crash) else None
    # A C function owns its stack arguments (every psABI lets the callee write them);
    # stubgen's own stubs promise to leave the caller's frame alone.
    writable = st.writable if s.own else st.writable + (setup.args_area,)
    bad, warnings = bad_accesses(run, setup, st.code_len, policy.returns, skip_pc, st.readable, writable,
                                 st.named, st.own_frame)
    return p + bad, narrow + warnings


def _crash_pc(run) -> int:
    """Where the run crashed: the last write to the unmapped address it stopped on, where
    the engine names one (Unicorn reports the PC after a faulting store that is
    conditional in a Thumb IT block), else the PC it stopped at."""
    if run.unmapped is not None:
        for addr, _, _, pc in reversed(run.writes):
            if addr == run.unmapped:
                return pc
    return run.pc


def _one(s: Subject, st: Stage) -> Expected:
    """The one trap of a stub without a contract: its syscall, its own arguments."""
    setup = st.setup
    # A generic stub's number is whatever its caller passed; the kernel reads a C int.
    generic = setup.number is not None
    number = (setup.number if generic else s.number) or 0
    return Expected(s.syscall, number & mask(s.abi.number_bits), generic, st.where,
                    tuple(a[1] for a in setup.args))


def _trap(t, s: Subject, e: Expected, setup: Setup, several: bool = False) -> list[str]:
    p, abi, where = [], s.abi, e.where
    number = e.number
    seen = t.number & mask(abi.number_bits)
    which = f"{e.syscall}: " if several else ""
    if seen != number:
        names = {v: k for k, v in s.arch.numbers.items()}
        what = f" ({names[seen]})" if seen in names else ""
        want = "" if e.generic else f"{e.syscall} "
        p.append(f"{which}number register {abi.number} = {t.number:#x}{what} at the trap, expected {want}{number} "
                 f"({number:#x})")
    if s.indirect and not several:
        return p + _indirect(t, s, setup)
    if isinstance(where, str):
        return p + [where]
    for i, r, want, bits in where:
        got = t.args[r] & mask(bits)
        if got != want:
            size = e.sizes[i]
            what = f"{8 * size}-bit" if bits == 8 * size else (
                f"{bits}-bit part of a {8 * size}-bit value" if size > s.arch.word_bytes else
                f"{bits} bits the kernel reads of a {8 * size}-bit value")
            p.append(f"{which}argument {i + 1} ({what}) in {abi.arg_name(r)} = {got:#x} at the trap, "
                     f"expected {want:#x}")
    return p


def _indirect(t, s: Subject, setup: Setup) -> list[str]:
    """The arguments of an entry point that reads them through its one pointer (s390x's
    old_mmap): each a word of the memory it points at."""
    word, arg = s.arch.word_bytes, s.abi.arg_name(0)
    if t.memory is None:
        return [f"argument 1 in {arg} = {t.args[0]:#x} at the trap: the kernel reads the arguments there, and "
                "nothing is mapped"]
    p = []
    for i, (want, size, bits) in enumerate(setup.args):
        got = int.from_bytes(t.memory[i * word:(i + 1) * word], s.arch.endian) & mask(bits)
        if got != want & mask(bits):
            p.append(f"argument {i + 1} at {t.args[0] + i * word:#x} (word {i} of what {arg} points at) = "
                     f"{got:#x} at the trap, expected {want & mask(bits):#x}")
    return p


def _alignment(calls, s: Subject) -> list[str]:
    align = s.conv.c.call_align
    return [f"calls {s.handler if s.own else c.name} with the stack pointer at {c.sp:#x}, not a multiple of "
            f"{align} (the C ABI's alignment at a call)" for c in calls if c.sp % align]


def _result(run, calls, s: Subject, setup: Setup, inject, is_error, read_memory, errno=UNOBSERVED,
            warnings=None) -> list[str]:
    p, policy, arch = [], s.policy, s.arch
    if not isinstance(errno, Unobserved):
        # Whatever sets it (a helper, a store through __errno_location, TLS): errno is E
        # after an error, and untouched otherwise.
        want = (-inject) if is_error and policy.calls_handler else None
        if errno != want:
            said = "untouched" if errno is None else f"{errno}"
            p.append(f"errno {said} after the call, expected " + (f"{want}" if want is not None else "it untouched"))
        expected = -1 if is_error and (policy.calls_handler or policy.error_value == -1) else inject
    elif policy.calls_handler:
        want_calls = [(-inject) & 0xFFFFFFFF] if is_error else []
        got_calls = [c.first_arg & 0xFFFFFFFF for c in calls]
        if got_calls != want_calls:
            p.append(f"errno handler called with {got_calls}, expected {want_calls}")
        expected = -1 if is_error else inject
    else:
        expected = policy.error_value if is_error and policy.error_value is not None else inject
        if calls:
            p.append("called the errno handler")
    if not policy.returns:
        return p
    if setup.results:
        return p + _go_results(run, s, setup, inject, is_error, expected, read_memory)
    if s.go:
        if setup.result_slot is None:
            return p
        addr, size = setup.result_slot
        got = int.from_bytes(read_memory(addr, size), arch.endian)
        if got != expected & mask(8 * size):
            p.append(f"result slot ret at {addr:#x} holds {got:#x}, expected {expected & mask(8 * size):#x}")
    else:
        r = s.conv.c.result
        got = run.regs[r]
        low = mask(32)
        if got == expected & s.word_mask:
            pass
        elif (not s.own and warnings is not None and s.arch.word_bytes > 4 and got & low == expected & low
              and -(1 << 31) <= expected < (1 << 31)):
            # A C function declared to return int (a libc's rename) leaves the upper half
            # as it likes; the kernel's type is long, the prototype is not at hand.
            w = (f"the result is right in the low 32 bits of {r} only ({got:#x}): right for a function "
                 "declared to return int, wrong for one that returns long")
            if w not in warnings:
                warnings.append(w)
        else:
            p.append(f"result register {r} = {got:#x}, expected {expected & s.word_mask:#x}")
    return p


def _go_results(run, s: Subject, setup: Setup, inject, is_error, policy_value, read_memory) -> list[str]:
    """A foreign Go function's results (frame or registers) against what each must hold
    (conventions.ResultSlot)."""
    p = []
    trap = run.traps[0] if run.traps else None
    for slot, addr in setup.results:
        role = slot.error if is_error else slot.success
        if role is None:
            continue
        if role == "policy":
            want = policy_value
        elif role == "result":
            want = inject
        elif role == "errno":
            want = -inject
        elif role == "result2":
            if trap is None or trap.result2 is None:
                continue
            want = trap.result2
        else:
            want = int(role)
        size = slot.size
        if addr is not None:
            got = int.from_bytes(read_memory(addr, size), s.arch.endian)
            where = f"result {slot.name} at {addr:#x}"
        else:
            got = run.regs[slot.reg] & mask(8 * size)
            where = f"result {slot.name} in {slot.reg}"
        if got != want & mask(8 * size):
            what = {"result2": f" (what {s.abi.result2} held after the trap)", "errno": " (the positive errno)"}
            p.append(f"{where} holds {got:#x}, expected {want & mask(8 * size):#x}{what.get(str(role), '')}")
    return p
