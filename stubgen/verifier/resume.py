"""One stub's runs, one per injected result, each the run a fresh start would give.

Everything before the first trap is the same whatever the result will be, so the first
run keeps the state at its trap (Machine.first_run) and every other result resumes
from that state (Machine.resume). Where that cannot be shown to give exactly the runs
from the start, the runs start from the entry, as they always did:
- a stand-in (the errno handler, Go's runtime hooks) was called before the trap: its
  record of calls belongs to each run;
- no trap within half the step limit (a resumed run's limit must leave room for what
  came before the trap); a first run longer than that runs again from the entry;
- a resumed run used up its steps (it had less than a whole run would), or ended on an
  address fault the engine does not place (a run from the entry places it);
- a run wrote memory that the code read before the trap, outside what is rewritten
  before every run (the next run would read what this one left there);
- the architecture's table says its engine does not resume (engines.unicorn.resumes).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .emulator import Machine, Paused, Prepared, Run


@dataclass
class Tally:
    """How the runs were made (for tests and the benchmark): resumed from a trap, or
    from the entry, and why the shortcut was not taken."""

    resumed: int = 0
    full: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)

    def fell_back(self, why: str) -> None:
        self.fallbacks[why] = self.fallbacks.get(why, 0) + 1


def _overlaps(spans, lo: int, hi: int) -> bool:
    return any(a < hi and lo < b for a, b in spans)


class Runs:
    """The runs of one stub's code on machine, in the order of the results asked for."""

    def __init__(self, machine: Machine, prep: Prepared, entry: int, steps: int, pausable: Callable[[], bool],
                 tally: Tally, full: bool = False, always_written=()):
        self.m, self.prep, self.entry, self.steps = machine, prep, entry, steps
        self.pausable, self.tally = pausable, tally
        self.mode = "full" if full or not machine.resumes else "first"
        self.paused: Paused | None = None
        self._rewritten = [(a, a + len(d)) for a, d in prep.writes]
        self._always = [(a, a + n) for a, n in always_written]  # what stand-ins write from outside the engine
        self._watched: list[tuple[int, int]] = []  # read before the trap, and not rewritten before a run

    def _full(self, inject: int) -> Run:
        self.tally.full += 1
        return self.m.run_prepared(self.prep, inject, self.entry, self.steps)

    def _stop_resuming(self, why: str) -> None:
        self.mode = "full"
        self.tally.fell_back(why)

    def run(self, inject: int) -> Run:
        if self.mode == "full":
            return self._full(inject)
        if self.mode == "first":
            return self._first(inject)
        assert self.paused is not None
        run = self.m.resume(self.prep, self.paused, inject)
        if run.steps_exhausted:
            # It had less than a whole run: the run from the entry may still finish.
            self._stop_resuming("a resumed run ran out of steps")
            return self._full(inject)
        if self.m.unlocated(run):
            # An address fault the engine does not place: a run from the entry places it.
            self._stop_resuming("an address fault to place")
            return self._full(inject)
        self.tally.resumed += 1
        self._check_writes(run)
        return run

    def _first(self, inject: int) -> Run:
        run, paused = self.m.first_run(self.prep, inject, self.entry, self.steps, self.pausable)
        if paused is None:
            if run.steps_exhausted:
                self._stop_resuming("no trap within half the step limit")
                return self._full(inject)
            # Finished within half the limit: the whole run.
            self._stop_resuming("a stand-in called before the trap" if run.traps else "no trap")
            self.tally.full += 1
            return run
        self.paused, self.mode = paused, "resume"
        self._watched = [(a, a + n) for a, n, _ in paused.reads
                         if not any(lo <= a and a + n <= hi for lo, hi in self._rewritten)]
        if run.steps_exhausted:
            # The trap came within half the limit, the run went on past it: this run
            # again from the entry; the others resume.
            self.tally.fell_back("a first run longer than half the step limit")
            run = self._full(inject)
        else:
            self.tally.full += 1
        self._check_writes(run)
        return run

    def _check_writes(self, run: Run) -> None:
        if self.mode == "resume" and self._watched and (
                any(_overlaps(self._watched, a, a + n) for a, n, _, _ in run.writes)
                or any(_overlaps(self._watched, a, b) for a, b in self._always)):
            # The next run from the entry would read, before its trap, what this one left.
            self._stop_resuming("a read before the trap of memory a run writes")
