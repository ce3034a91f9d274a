"""Stand-ins: the code and data a stub reaches outside itself (an errno handler, errno
itself, the vDSO, a libc's helpers), placed at known addresses in the emulator so that
the stub's relocations resolve to them. Each does what its real one is documented to
do (standins.yaml) and records every call: which stand-in, the stack pointer at the
call, the arguments and the result register. A check that needs another runtime's
helper (Go's runtime·entersyscall, say: called, in order, around the trap) adds a
stand-in by name with `Catalog.add` and reads `StandIns.calls` after the run.

API:
- `catalog()`: the shipped catalog; `Catalog.function(name)`, `.datum(name)`,
  `.tls(name)` look a name up; `Catalog.add(StandIn)` adds one of the caller's own.
- `StandIns(machine, c, error_range, catalog)`: placed on one emulator; `.address(name)`
  where a function or datum stands (for the linker); `.hook(address, standin)` puts a
  function stand-in at an address of the caller's (the generated stubs' errno handler);
  `.start_run()` clears the calls and writes every datum's value; `.calls` after a run;
  `.errno()` what the run left in errno (None: untouched); `.results[name] = value`
  overrides what a function stand-in returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .emulator import ERRNO_POISON, STANDIN_CODE, STANDIN_DATA, STANDIN_SLOT, VDSO

TAKES = ("", "errno", "raw", "raw_result", "errno_result")
RETURNS_WORDS = ("raw_or_-1", "errno_address", "thread_pointer", "vdso")


@dataclass(frozen=True)
class StandIn:
    name: str
    kind: str  # function, data or tls
    takes: str = ""  # TAKES: what a function reads
    returns: int | str | None = None  # a function's result: an integer or one of RETURNS_WORDS
    holds: int | str | None = None  # a datum's value: an integer, "errno" or "vdso"
    size: int = 0  # a datum's bytes (0: a word)
    source: str = ""  # the real one's documentation or source

    @property
    def is_errno(self) -> bool:
        return self.holds == "errno"


class Catalog:
    """Stand-ins by name, per kind."""

    def __init__(self, items=()):
        self._by: dict[tuple[str, str], StandIn] = {}
        for s in items:
            self.add(s)

    def add(self, s: StandIn) -> None:
        if s.kind == "function" and s.takes not in TAKES:
            raise ValueError(f"stand-in {s.name}: takes {s.takes!r}; valid: {', '.join(TAKES)}")
        if s.kind == "function" and isinstance(s.returns, str) and s.returns not in RETURNS_WORDS:
            raise ValueError(f"stand-in {s.name}: returns {s.returns!r}; valid: an integer, "
                             f"{', '.join(RETURNS_WORDS)}")
        self._by[(s.kind, s.name)] = s

    def function(self, name: str) -> StandIn | None:
        return self._by.get(("function", name))

    def datum(self, name: str) -> StandIn | None:
        return self._by.get(("data", name))

    def tls(self, name: str) -> StandIn | None:
        return self._by.get(("tls", name))

    def of_kind(self, kind: str) -> list[StandIn]:
        return [s for (k, _), s in self._by.items() if k == kind]

    def copy(self) -> Catalog:
        return Catalog(self._by.values())


@lru_cache(maxsize=1)
def _document() -> dict:
    return yaml.safe_load((Path(__file__).parent / "standins.yaml").read_text(encoding="utf-8"))


def thread_words(arch_name: str) -> dict[int, int | str]:
    """offset from the thread pointer -> what the word there holds (standins.yaml thread)."""
    return {int(k): v for k, v in ((_document().get("thread") or {}).get(arch_name) or {}).items()}


@lru_cache(maxsize=16)
def _shipped(arch_name: str) -> tuple[StandIn, ...]:
    d = _document()
    out = []
    for kind, key in (("function", "functions"), ("data", "data"), ("tls", "tls")):
        for name, e in (d.get(key) or {}).items():
            e = {**e, **(e.get("arches") or {}).get(arch_name, {})}
            out.append(StandIn(name, kind, e.get("takes", ""), e.get("returns"), e.get("holds"), e.get("size", 0),
                               e.get("source", "")))
    return tuple(out)


def catalog(arch_name: str = "") -> Catalog:
    """The shipped catalog for an architecture (a copy: add to it freely)."""
    return Catalog(_shipped(arch_name))


@dataclass(frozen=True)
class Call:
    name: str
    target: int
    sp: int  # at the call instruction, before a pushed return address
    args: tuple[int, ...]  # the first C arguments, as words
    result_in: int  # the C result register at the call

    @property
    def first_arg(self) -> int:
        return self.args[0]


@dataclass
class _Placed:
    standin: StandIn
    address: int


@dataclass
class StandIns:
    """The stand-ins of one catalog placed on one machine: functions (the ABI's return
    instruction at their address, a hook that records the call and does the work) and
    data cells, rewritten before every run."""

    machine: Any  # emulator.Machine
    c: Any  # conventions.CConvention
    error_range: tuple[int, int]
    cat: Catalog = field(default_factory=catalog)  # the architecture's: pass catalog(arch.name)
    thread_pointer: int = 0
    calls: list[Call] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=dict)
    tls_cells: list[tuple[int, StandIn]] = field(default_factory=list)  # (address, stand-in) in the TLS block
    thread: dict[int, int | str] = field(default_factory=dict)  # the thread control block: offset -> value
    takes: dict[str, str] = field(default_factory=dict)  # what a function stand-in takes, where a contract says

    def __post_init__(self):
        self._functions: dict[str, _Placed] = {}
        self._data: dict[str, _Placed] = {}
        self._ret = self.machine.return_code()
        self._placed = False
        for i, s in enumerate(sorted(self.cat.of_kind("data"), key=lambda s: s.name)):
            self._data[s.name] = _Placed(s, STANDIN_DATA + STANDIN_SLOT * i)

    def place(self) -> None:
        """Hook the catalog's functions at their addresses; on first need only (each code
        hook costs the emulator a check per instruction it translates)."""
        if self._placed:
            return
        self._placed = True
        for i, s in enumerate(sorted(self.cat.of_kind("function"), key=lambda s: s.name)):
            self.hook(STANDIN_CODE + STANDIN_SLOT * i, s)
        helpers = self.machine.abi.kernel_helpers
        if helpers:
            self.machine.uc.mem_map(helpers["page"], 0x1000)
            for address, h in helpers["functions"].items():
                source = helpers.get("source", "")
                self.hook(address, StandIn(h["name"], "function", returns=h.get("returns"), source=source),
                          kernel=True)

    def addresses(self) -> dict[tuple[str, str], int]:
        """(kind, name) -> address of every catalog stand-in, placed or not."""
        out = {("function", s.name): STANDIN_CODE + STANDIN_SLOT * i
               for i, s in enumerate(sorted(self.cat.of_kind("function"), key=lambda s: s.name))}
        out.update({("data", n): p.address for n, p in self._data.items()})
        return out

    def hook(self, address: int, s: StandIn, kernel: bool = False) -> None:
        """kernel: the kernel's own page (linux_abi.yaml kernel_helpers), not special memory."""
        import unicorn

        m = self.machine
        if not kernel and not (m.special_lo <= address < m.special_hi):
            raise ValueError(f"stand-in {s.name} at {address:#x}: outside the emulator's special memory")
        m.uc.mem_write(address, self._ret)
        m.uc.hook_add(unicorn.UC_HOOK_CODE, self._on_call, s, address, address)
        self._functions[s.name] = _Placed(s, address)

    def address(self, name: str) -> int | None:
        """Where the catalog's function or datum name stands, or None."""
        found = self.addresses()
        return found.get(("function", name), found.get(("data", name)))

    @property
    def errno_cell(self) -> int:
        """Where errno is for a stand-in that hands out its address, or sets it."""
        return STANDIN_DATA + STANDIN_SLOT * len(self._data)

    def initial(self) -> list[tuple[int, bytes]]:
        """(address, bytes) to write before every run, after the image and its TLS block:
        each datum's value, errno poisoned wherever it lives."""
        m, word = self.machine, self.machine.word
        cells = [(self.errno_cell, 4, ERRNO_POISON)]
        for p in self._data.values():
            v = p.standin.holds
            value = ERRNO_POISON if v == "errno" else VDSO if v == "vdso" else int(v or 0)
            cells.append((p.address, p.standin.size or (4 if v == "errno" else word), value))  # errno: a C int
        cells += [(at, 4, ERRNO_POISON) for at, s in self.tls_cells if s.is_errno]
        for off, v in self.thread.items():
            value = self.thread_pointer if v == "self" else VDSO if v == "vdso" else int(v)
            cells.append((self.thread_pointer + off, word, value))
        return [(at, (value & ((1 << (8 * size)) - 1)).to_bytes(size, m.arch.endian)) for at, size, value in cells]

    def thread_ranges(self) -> list[tuple[int, int]]:
        """The thread control block's words that stand in, as address ranges."""
        w = self.machine.word
        return [(self.thread_pointer + off, self.thread_pointer + off + w) for off in self.thread]

    def errno_addresses(self) -> list[int]:
        out = [self.errno_cell] + [p.address for p in self._data.values() if p.standin.is_errno]
        return out + [at for at, s in self.tls_cells if s.is_errno]

    def errno(self) -> int | None:
        """errno after the run (the int at each errno cell); None when no cell changed."""
        m = self.machine
        for at in self.errno_addresses():
            v = int.from_bytes(m.uc.mem_read(at, 4), m.arch.endian)
            if v != ERRNO_POISON:
                return v - (1 << 32) if v >> 31 else v
        return None

    def _arg(self, sp: int, i: int) -> int:
        m, c = self.machine, self.c
        if i < len(c.args):
            return m.reg(c.args[i])
        at = sp + c.stack_args + (i - len(c.args)) * c.stack_slot
        return int.from_bytes(m.uc.mem_read(at, m.word), m.arch.endian)

    def _on_call(self, uc, address, size, s: StandIn):
        m, c = self.machine, self.c
        sp = m.reg(m.sp)
        pushed = m.word if c.return_address == "stack" else 0
        call = Call(s.name, address, sp + pushed, (self._arg(sp, 0), self._arg(sp, 1)), m.reg(c.result))
        self.calls.append(call)
        signed = call.first_arg - (1 << (8 * m.word)) if call.first_arg >> (8 * m.word - 1) else call.first_arg
        takes = self.takes.get(s.name, s.takes)
        raw = signed if takes == "raw" else None
        if takes == "raw_result":
            r = call.result_in
            raw = r - (1 << (8 * m.word)) if r >> (8 * m.word - 1) else r
        lo, hi = self.error_range
        err = None
        if takes == "errno":
            err = call.first_arg & 0xFFFFFFFF
        elif takes == "errno_result":
            err = call.result_in & 0xFFFFFFFF
        elif raw is not None and lo <= raw <= hi:
            err = -raw
        if err is not None:
            uc.mem_write(self.errno_cell, (err & 0xFFFFFFFF).to_bytes(4, m.arch.endian))
        value = self.results.get(s.name, s.returns)
        if value == "raw_or_-1":
            value = -1 if err is not None else raw
        elif value == "errno_address":
            value = self.errno_cell
        elif value == "thread_pointer":
            value = self.thread_pointer
        elif value == "vdso":
            value = VDSO
        if value is not None:
            m.set_reg(c.result, int(value) & m.mask)
