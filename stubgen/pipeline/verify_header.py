"""The stubs of a dialect whose files are C headers of inline assembly (the dialect.yaml
`verify: {reader: c_header}`): each header verified as a foreign header is, its
wrappers compiled into callers by the target's zig cc (plain callers, and callers that
keep live values in every register the asm does not declare clobbered, at each
optimisation level) and the callers verified as machine code. A stub's Report gathers
the verdicts of all its callers; where no compiler or emulator ran, it says so and is
never counted as passed."""
from __future__ import annotations

from pathlib import Path

from ..dialects import dialect
from ..errors import StubgenError
from ..tables import load as load_tables
from ..verifier.spec import Report
from .verify_files import check_files

READER = "c_header"
# Wrappers per compiled unit: a unit of every syscall of an architecture would run
# past the isolated child's time limit; a few dozen keep each child short.
PER_UNIT = 48


def is_header_dialect(name: str, templates: str | None) -> bool:
    try:
        return dialect(name, templates).verify.get("reader") == READER
    except StubgenError:
        return False  # an unknown dialect: the ordinary path reports it


def check_header_specs(directory, specs, tables: str | None = None, templates: str | None = None):
    """(Report, compared-with) for every (text, Spec) of a header dialect, in order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (_, spec) in enumerate(specs):
        groups.setdefault((spec.path, spec.arch), []).append(i)
    out: list = [None] * len(specs)
    for (path, arch), idx in groups.items():
        for start in range(0, len(idx), PER_UNIT):
            part = idx[start:start + PER_UNIT]
            for i, rep in zip(part, _check_unit(Path(directory) / path, arch, [specs[i][1] for i in part],
                                                tables, templates)):
                out[i] = (rep, ())
    return out


def _choice(t, arch: str, spec) -> str | None:
    """The --stub text of a wrapper: a generic one takes the number first (as musl's
    __syscall3), any other the syscall's arguments alone; None where an argument is wider
    than a register (the callers pass one word per parameter)."""
    a = t.arch(arch)
    sig = t.signature(a, spec.syscall)
    # errno: the wrapper hands the positive errno to the run's handler and returns -1
    policy = f"errno({spec.errno_handler} takes errno)" if spec.policy == "errno" else spec.policy
    if sig is None or sig.generic:
        return f"{spec.symbol}={spec.syscall}:{policy}"
    args = [p for p in sig.args if p.role != "number"]
    if any(p.type.bytes(a) > a.word_bytes for p in args):
        return None
    return f"{spec.symbol}={spec.syscall}({', '.join(f'${i}' for i in range(len(args)))}):{policy}"


def _check_unit(path: Path, arch: str, specs, tables, templates) -> list[Report]:
    t = load_tables(tables)
    chosen = {s.symbol: _choice(t, arch, s) for s in specs}
    stubs = [c for c in chosen.values() if c]
    try:
        verdicts = check_files([path], arch, stubs=stubs, tables=tables, templates=templates)[0] if stubs else []
    except StubgenError as e:  # no compiler for the target, or it refused the header
        return [Report(s, unverified=[f"not verified: {e}"]) for s in specs]
    reports = []
    for s in specs:
        if chosen[s.symbol] is None:
            reports.append(Report(s, unverified=["not verified: an argument wider than a register; the header's "
                                                  "callers pass one word per parameter"]))
            continue
        mine = [v for v in verdicts if v.symbol == s.symbol]
        rep = Report(s)
        if not mine:
            rep.unverified.append("not verified: no caller of it was checked")
        for v in mine:
            rep.runs += v.runs
            if v.verdict == "fail":
                rep.problems += [f"{v.file}: {r}" for r in v.reasons]
            elif v.verdict == "not-emulated":
                rep.not_run += [f"{v.file}: {r}" for r in v.reasons] or [f"{v.file}: not emulated"]
            elif v.verdict != "pass":
                rep.unverified += [f"{v.file}: {v.verdict}: {r}" for r in v.reasons] or [f"{v.file}: {v.verdict}"]
        if rep.runs and rep.not_run:
            # some callers ran, others could not: the ones that did not are said, not passed
            rep.warnings += rep.not_run
            rep.not_run = []
        reports.append(rep)
    return reports
