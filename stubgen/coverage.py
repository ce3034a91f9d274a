"""`stubgen list --coverage`: per architecture, how many syscalls have numbers, how
many of those have signatures, and how many of those pass verification in every
dialect (verified here, in-process)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    arch: str
    numbers: int
    signatures: int
    verified: int
    generic: int
    generic_verified: int
    failed: list[str]


def coverage(tables: str | None = None, templates: str | None = None, policy: str = "raw") -> list[Row]:
    from . import generator, render
    from . import tables as tables_mod
    from .verifier import Verifier, stub_specs

    t = tables_mod.load(tables)
    v = Verifier(tables, templates)
    dialects = list(render.dialects(templates))
    rows = []
    for arch in t.arches.values():
        stubs = generator.generate(generator.ALL, [arch.name], dialects, policy, tables=tables, templates=templates)
        specs = stub_specs(stubs)
        failed = {spec.syscall for (_, spec), rep in zip(specs, v.check_many(specs)) if not rep.ok}
        made = {s.syscall for s in stubs}
        generic = {n for n in made if t.signature(arch, n).generic}
        named = made - generic
        rows.append(Row(arch.name, len(arch.numbers), len(named), len(named - failed), len(generic),
                        len(generic - failed), sorted(failed)))
    return rows


def format_rows(rows: list[Row]) -> str:
    out = [f"{'arch':8} {'numbers':>8} {'signatures':>11} {'verified':>9}   generic stubs (verified)"]
    for r in rows:
        out.append(f"{r.arch:8} {r.numbers:>8} {r.signatures:>11} {r.verified:>9}   "
                   f"{r.generic} ({r.generic_verified})")
        if r.failed:
            out.append(f"  failed verification: {', '.join(r.failed)}")
    return "\n".join(out)
