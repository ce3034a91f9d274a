"""The stubs of a dialect whose files are C headers of inline assembly (the dialect.yaml
`verify: {reader: c_header}`): each header verified as a foreign header is, its
wrappers compiled into callers by the target's zig cc (plain callers, and callers that
keep live values in every register the asm does not declare clobbered, at each
optimisation level) and the callers verified as machine code. A stub's Report gathers
the verdicts of all its callers; where no compiler or emulator ran, it says so and is
never counted as passed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..dialects import dialect
from ..errors import StubgenError
from ..tables import inputs
from ..tables import load as load_tables
from ..verifier.spec import Report
from . import verify_rust
from .verify_files import check_files
from .verify_zig import zig_memory_problems

READER = "c_header"
# The readers whose files are compiled into callers: C headers, Zig source
# (zigfront.py) and Rust modules (verify_rust.py: rustc instead of zig cc, asm!'s
# nomem instead of "memory").
READERS = (READER, "zig_source", "rust_module")
# Wrappers per compiled unit: a unit of every syscall of an architecture would run
# past the isolated child's time limit; a few dozen keep each child short.
PER_UNIT = 48
_RUN_LIST = re.compile(r"cannot run [\w., ]+ \(")


def is_header_dialect(name: str, templates: str | None) -> bool:
    try:
        return dialect(name, templates).verify.get("reader") in READERS
    except StubgenError:
        return False  # an unknown dialect: the ordinary path reports it


def check_header_specs(directory, specs, tables: str | None = None, templates: str | None = None,
                       partial: bool = True, jobs: int | None = None, progress: bool = False):
    """(Report, compared-with) for every (text, Spec) of a header dialect, in order.
    partial: a stub of which some callers ran and others could not passes, the others
    said as warnings; False keeps them in not_run (a mutant: not proved to survive).
    jobs: processes (default: every core): the units (up to PER_UNIT wrappers of one
    header) go to parallel.py's workers, each unit whole, so a verdict is the same however
    many there are."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (_, spec) in enumerate(specs):
        groups.setdefault((spec.path, spec.arch), []).append(i)
    units, where = [], []
    for (path, arch), idx in groups.items():
        for start in range(0, len(idx), PER_UNIT):
            part = idx[start:start + PER_UNIT]
            units.append(HeaderUnit(str(Path(directory) / path), arch, tuple(specs[i][1] for i in part),
                                    tables, templates, partial))
            where.append(part)
    out: list = [None] * len(specs)
    for part, reports in zip(where, _run_units(units, tables, templates, jobs, progress)):
        for i, rep in zip(part, reports):
            out[i] = (rep, ())
    return out


def _run_units(units: list, tables, templates, jobs: int | None, progress: bool):
    """Each unit's reports, in order: in this process for one unit or one job, else on
    the pool's workers (which are no daemons: each compiles and forks its isolated child)."""
    from .parallel import default_jobs, run_chunks

    jobs = default_jobs() if jobs is None else max(1, jobs)
    if len(units) < 2 or jobs == 1:
        for u in units:
            yield u.reports()
        return
    # A unit takes seconds (a compile per variant, then its callers run): worth a
    # process from the first one.
    for o in run_chunks(units, tables, templates, jobs=jobs, progress=progress, min_per_job=1):
        yield o.reports


@dataclass(frozen=True)
class HeaderUnit:
    """One compiled unit of callers: up to PER_UNIT wrappers (their Specs) of the header
    at path, for arch. A chunk of parallel.py that checks itself (check)."""

    path: str
    arch: str
    specs: tuple
    tables: str | None = None
    templates: str | None = None
    partial: bool = True

    def __len__(self) -> int:
        return len(self.specs)

    def reports(self) -> list[Report]:
        return _check_unit(Path(self.path), self.arch, list(self.specs), self.tables, self.templates, self.partial)

    def check(self):
        """parallel.py's Outcome of this unit, in a worker."""
        import os

        from .parallel import Outcome

        reports = self.reports()
        return Outcome(reports, [()] * len(reports), set(), os.getpid())


def _choice(t, arch: str, spec) -> str:
    """The --stub text of a wrapper: a generic one takes the number first (as musl's
    __syscall3), any other the syscall's arguments alone (a 64-bit one on a 32-bit
    architecture as one parameter: the callers pass a long long, the contract's
    parameter_sizes)."""
    a = t.arch(arch)
    sig = t.signature(a, spec.syscall)
    policy = spec.policy
    if sig is None or sig.generic:
        return f"{spec.symbol}={spec.syscall}:{policy}"
    args = [p for p in sig.args if p.role != "number"]
    return f"{spec.symbol}={spec.syscall}({', '.join(f'${i}' for i in range(len(args)))}):{policy}"


def _check_unit(path: Path, arch: str, specs, tables, templates, partial: bool = True) -> list[Report]:
    t = load_tables(tables)
    stubs = [_choice(t, arch, s) for s in specs]
    rust = dialect(specs[0].dialect, templates).verify.get("reader") == verify_rust.READER
    try:
        if rust:
            target = verify_rust.target(specs[0].dialect, arch, templates)
            verdicts = verify_rust.check_module(path, arch, stubs, target, tables, templates) if stubs else []
        else:
            verdicts = check_files([path], arch, stubs=stubs, tables=tables, templates=templates,
                                   own=True)[0] if stubs else []
    except StubgenError as e:  # no compiler for the target, or it refused the header
        return [Report(s, unverified=[f"not verified: {e}"]) for s in specs]
    text = inputs.read_text(path, what="header")
    memory = verify_rust.memory_problems if rust else zig_memory_problems if path.suffix == ".zig" else _memory_problems
    reports = []
    for s in specs:
        mine = [v for v in verdicts if v.symbol == s.symbol]
        rep = Report(s)
        rep.problems += memory(text, s.symbol)
        if not mine:
            rep.unverified.append("not verified: no caller of it was checked")
        for v in mine:
            rep.runs += v.runs
            if v.verdict == "fail":
                rep.problems += [f"{v.file}: {r}" for r in v.reasons]
            elif v.verdict == "not-emulated":
                # one line per reason, not per caller and instruction list: the summary groups by it
                for r in v.reasons or ["not emulated"]:
                    r = _RUN_LIST.sub("cannot run some of the callers' instructions (", r)
                    if r not in rep.not_run:
                        rep.not_run.append(r)
            elif v.verdict != "pass":
                rep.unverified += [f"{v.file}: {v.verdict}: {r}" for r in v.reasons] or [f"{v.file}: {v.verdict}"]
            else:
                # a pass's warnings (what the engine could not observe, QemuMachine.blind_image), once each
                rep.warnings += [w for r in v.reasons if r.startswith("warning: ")
                                 and (w := r.removeprefix("warning: ")) not in rep.warnings]
        if rep.runs and rep.not_run and partial:
            # some callers ran, others could not: the ones that did not are said, not passed
            rep.warnings += rep.not_run
            rep.not_run = []
        reports.append(rep)
    return reports


# The verifier's own knowledge: a syscall may read and write any memory its arguments
# point to (and more), which the compiler cannot see; an asm statement that does not say
# so lets it keep a buffer's old contents in a register across the call. No caller run
# shows that (the fake kernel writes no buffers), so the statement is read.
_CLOBBERS = re.compile(r":[^:;]*:[^:;]*:([^:;]*)\)\s*;")


def _memory_problems(text: str, symbol: str) -> list[str]:
    m = re.search(r"\b" + re.escape(symbol) + r"\s*\([^)]*\)\s*\{", text)
    if m is None:
        return [f"{symbol}: no definition in the header"]
    end = text.find("\n}", m.end())
    body = text[m.end():end if end >= 0 else len(text)]
    # asm statements, not the register variables' asm("reg") labels
    asms = re.split(r"(?m)(?:^|[;{}])\s*(?:__asm__|asm)\b", body)[1:]
    lists = [c.group(1) for a in asms for c in [_CLOBBERS.search(a)] if c]
    if not asms or len(lists) < len(asms) or any('"memory"' not in c for c in lists):
        return [f"{symbol}: its asm statement does not declare \"memory\" clobbered: the kernel reads and writes "
                "memory the compiler does not see (a buffer read after the call may come from a stale register)"]
    return []


def check_mutant(stub, text: str) -> Report:
    """The Report of stub (a generated Stub) with its wrapper's text replaced by text:
    its files written to a temporary directory, the header edited, and verified."""
    import tempfile

    from ..generator.files import texts
    from ..generator.output import write_texts
    from ..verifier import manifest_specs

    files = texts([stub])
    header = next(rel for rel, body in files if stub.text in body)
    files = [(rel, body.replace(stub.text, text) if rel == header else body) for rel, body in files]
    with tempfile.TemporaryDirectory(prefix="stubgen-mutant-") as tmp:
        write_texts(files, tmp, force=True)
        specs = [x for x in manifest_specs(tmp) if x[1].symbol == stub.symbol]
        # a mutant that passes the callers that ran, with others not run, is not proved to
        # survive: its unrun callers stay in not_run for the mutator
        return check_header_specs(tmp, specs, stub.options.tables, stub.options.templates, partial=False,
                                  jobs=1)[0][0]
