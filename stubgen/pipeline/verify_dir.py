"""`stubgen verify DIR` and `generate --verify`: every stub of a generated directory as it
is on disk, checked on every core, against the real assemblers where installed, and
optionally broken every way by the mutator."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .. import tables as tables_mod
from ..report.formats import write
from ..report.verify import outcomes, print_summary
from ..verifier import Report, Verifier, manifest_specs
from ..verifier.assembler import backends, missing_note
from ..verifier.shipped import renumbered
from ..version import __version__
from .mutants import kill_table
from .parallel import verify_specs
from .verdicts import Verdicts, cached_verify
from .verify_header import check_header_specs, is_header_dialect


@dataclass
class Summary:
    """What a directory's verification gave, for the report."""

    total: int = 0
    runs: int = 0  # emulated calls
    compared: dict = field(default_factory=dict)  # other assembler -> stubs compared with it
    failed: list[Report] = field(default_factory=list)
    reports: list[tuple[Report, tuple]] = field(default_factory=list)  # every stub's, and what it was compared with
    unemulated: dict = field(default_factory=dict)  # why -> stubs that passed every other oracle but were not run
    notes: set = field(default_factory=set)
    renumbered: list[str] = field(default_factory=list)
    cached: int = 0  # verdicts that came from the cache (verdicts.py)


def summarise(specs, tables: str | None = None, templates: str | None = None, real_tools: bool = True,
              kernel_abi: str | None = None, jobs: int | None = None, use_cache: bool = True,
              directory=".") -> Summary:
    """Check (text, Spec) pairs of a directory; jobs: processes (default: every core);
    use_cache: take each verdict from the cache where it is there (verdicts.py)."""
    out = Summary()

    def verify(todo):
        # A header dialect's stubs are compiled into callers and checked as objects
        # (verify_header.py); every other stub is assembled and checked on every core.
        headers = [i for i, (_, s) in enumerate(todo) if is_header_dialect(s.dialect, templates)]
        if not headers:
            return verify_specs(todo, tables, templates, kernel_abi, jobs=jobs, real_tools=real_tools,
                                notes=out.notes, progress=True)
        made = dict(zip(headers, check_header_specs(directory, [todo[i] for i in headers], tables, templates,
                                                    jobs=jobs, progress=True)))
        rest = [i for i in range(len(todo)) if i not in made]
        made.update(zip(rest, verify_specs([todo[i] for i in rest], tables, templates, kernel_abi, jobs=jobs,
                                           real_tools=real_tools, notes=out.notes, progress=True)))
        return [made[i] for i in range(len(todo))]

    if use_cache:
        made = cached_verify(specs, verify, Verdicts(specs, tables, templates, kernel_abi, real_tools), out.notes)
    else:
        made = ((rep, tools, False) for rep, tools in verify(specs))
    for rep, tools, hit in made:
        out.cached += hit
        out.total, out.runs = out.total + 1, out.runs + rep.runs
        out.reports.append((rep, tuple(tools)))
        for tool in tools:
            out.compared[tool] = out.compared.get(tool, 0) + 1
        if not rep.ok:
            out.failed.append(rep)
        elif not rep.emulated:
            why = f"{rep.spec.arch}/{rep.spec.dialect}: " + "; ".join(rep.not_run)
            out.unemulated[why] = out.unemulated.get(why, 0) + 1
    t = tables_mod.load(tables)
    for name in sorted({s.arch for _, s in specs}):
        arch = t.arch(name)
        note = missing_note(arch)
        # Where no assembler is installed at all, every stub failed saying so.
        if note and any(backends(arch).values()):
            out.notes.add(f"not assembled twice: {note}")
    out.renumbered = renumbered(s for _, s in specs)
    return out


def verify_dir(directory, tables: str | None = None, templates: str | None = None, mutants: bool = False,
               real_tools: bool = True, out=None, kernel_abi: str | None = None, jobs: int | None = None,
               fmt: str = "text", use_cache: bool = True) -> int:
    """Verify the stubs of a generated directory as they are on disk; where Go's
    assembler or GNU as is installed, their bytes must agree with ours too. jobs:
    processes (default: every core); fmt: text, or a format of report/formats.py;
    use_cache: False verifies every stub again (--no-cache).
    Exit code: 1 when a stub failed (or a mutant survived)."""
    out = out or sys.stdout
    specs = manifest_specs(directory)
    summary = summarise(specs, tables, templates, real_tools, kernel_abi, jobs, use_cache, directory)
    if fmt == "text":
        print_summary(summary, out)
    else:
        write(outcomes(summary.reports, directory), fmt, out, __version__)
    code = 1 if summary.failed else 0
    if mutants:
        code = max(code, kill_table(Verifier(tables, templates), specs, out=out))
    return code
