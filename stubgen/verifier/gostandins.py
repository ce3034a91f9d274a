"""Go's stand-ins: functions a Go stub calls or jumps to that are not in its input (Go's
runtime·entersyscall and runtime·exitsyscall, the target of a tail jump such as
x/sys's `JMP syscall·RawSyscall6(SB)`), each placed at an address of its own in the
emulator's stand-in page. A "call" stand-in returns at once; a "tail" stand-in ends the
run, as the function it stands for would take over. Every arrival is recorded with the
frame at that moment, so the checks can say whether a stand-in was reached, in which
order around the trap, and with the stack as its callee expects it. (The C world's
stand-ins, which do a libc helper's work, are standins.py's.)

API (one table per stub, one watch per engine):
- `place([(name, kind), ...]) -> tuple[StandIn, ...]`: addresses for the stub's stand-ins;
- `StandInWatch(machine, return_address, word)`: hooks every slot once; `watch.table`
  is set per stub, `watch.arrivals` is cleared per run;
- `order_problems(arrivals, hooks)`, `tail_problems(run, arrival, setup, ...)`: the checks.
"""
from __future__ import annotations

from dataclasses import dataclass

from .emulator import SENTINEL, STANDINS, STANDINS_SIZE

BASE = STANDINS
STEP = 0x40
SLOTS = STANDINS_SIZE // STEP
KINDS = ("call", "tail")


@dataclass(frozen=True)
class StandIn:
    name: str  # the symbol as the code names it (runtime·entersyscall)
    kind: str  # "call": returns to its caller; "tail": takes over, the run ends there
    address: int


@dataclass(frozen=True)
class Arrival:
    """One arrival at a stand-in: the stack pointer as the caller left it (before a call
    pushed its return address), the return address it will use, and how many syscalls
    the stub had made by then."""

    name: str
    kind: str
    sp: int
    return_address: int
    traps: int


def place(wanted) -> tuple[StandIn, ...]:
    """StandIns at fixed slots for (name, kind) pairs, in order (at most SLOTS)."""
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > SLOTS:
        raise ValueError(f"{len(wanted)} stand-ins, more than the {SLOTS} slots")
    for _, kind in wanted:
        if kind not in KINDS:
            raise ValueError(f"stand-in kind {kind!r}; valid: {', '.join(KINDS)}")
    return tuple(StandIn(name, kind, BASE + STEP * i) for i, (name, kind) in enumerate(wanted))


class StandInWatch:
    """A hook on every stand-in slot of one engine. The code at each slot is the
    errno handler's return (copied from it); arriving at a "tail" slot stops the run."""

    def __init__(self, machine, handler: int, return_address: str):
        import unicorn

        self.machine = machine
        self.table: dict[int, StandIn] = {}
        self.arrivals: list[Arrival] = []
        self._ra = return_address  # "stack" or the register holding it (Go ABI0's)
        ret = bytes(machine.uc.mem_read(handler, 16))
        for i in range(SLOTS):
            machine.uc.mem_write(BASE + STEP * i, ret)
        machine.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_arrival, None, BASE, BASE + STEP * SLOTS - 1)

    def _on_arrival(self, uc, address, size, _):
        s = self.table.get(address)
        if s is None:  # somewhere in the page that no stand-in is: not an arrival (the return's own code)
            if (address - BASE) % STEP == 0:
                self.machine._stop(fault=f"jumped to an empty stand-in slot at {address:#x}", pc=address)
            return
        m = self.machine
        sp = m.reg(m.sp)
        if self._ra == "stack":
            ra = int.from_bytes(uc.mem_read(sp, m.word), m.arch.endian)
            sp_at = sp + m.word if s.kind == "call" else sp  # a tail jump pushed nothing
        else:
            ra, sp_at = m.reg(self._ra), sp
        assert m.run is not None
        self.arrivals.append(Arrival(s.name, s.kind, sp_at, ra, len(m.run.traps)))
        if s.kind == "tail":
            m.run.tail = s.name
            m._stop(pc=address)


def order_problems(arrivals, hooks: dict, traps: int, align: int) -> list[str]:
    """The Go runtime's hooks (conventions.yaml go_hooks: name -> "before" or "after"
    the trap) each reached exactly once, on the right side of the trap, with the stack
    pointer aligned as Go's calls keep it."""
    p = []
    calls = [a for a in arrivals if a.kind == "call"]
    for name, when in hooks.items():
        seen = [a for a in calls if a.name == name]
        if len(seen) != 1:
            p.append(f"called {name} {len(seen)} times, expected once {when} the syscall")
            continue
        a = seen[0]
        if (when == "before" and a.traps != 0) or (when == "after" and a.traps != traps):
            p.append(f"called {name} {'after' if when == 'before' else 'before'} the syscall; Go calls it {when}")
    for a in calls:
        if a.sp % align:
            p.append(f"calls {a.name} with the stack pointer at {a.sp:#x}, not a multiple of {align}")
    return p


def tail_problems(run, arrival: Arrival, entry_sp: int) -> list[str]:
    """A tail jump hands the callee the frame the stub was given: the stack pointer and
    return address as they were at entry, and no syscall of its own on the way."""
    p = []
    if run.traps:
        p.append(f"{len(run.traps)} syscalls before the jump to {arrival.name}, expected none")
    if arrival.sp != entry_sp:
        p.append(f"jumps to {arrival.name} with the stack pointer at {arrival.sp:#x}, expected {entry_sp:#x} "
                 f"({arrival.sp - entry_sp:+d} bytes): the callee would not find its arguments")
    if arrival.return_address != SENTINEL:
        p.append(f"jumps to {arrival.name} with the return address {arrival.return_address:#x}, expected "
                 f"{SENTINEL:#x} (the caller's): the callee would not return to the caller")
    return p
