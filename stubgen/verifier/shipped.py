"""What a user's tables change against the kernel tables stubgen ships: a syscall
renumbered in an overlay is legal (another kernel, a fork) but must never be silent."""
from __future__ import annotations

from .. import tables as tables_mod


def renumbered(specs) -> list[str]:
    """One line per (architecture, syscall) whose number differs from the shipped table's."""
    shipped = tables_mod.load(None).arches
    seen, out = set(), []
    for s in specs:
        arch = shipped.get(s.arch)
        if arch is None or s.number is None or (s.arch, s.syscall) in seen:
            continue
        seen.add((s.arch, s.syscall))
        theirs = arch.numbers.get(s.syscall)
        if theirs is not None and theirs != s.number:
            kernel = arch.provenance.get("kernel", "?")
            out.append(f"{s.arch} {s.syscall} is number {s.number} here, {theirs} in the kernel tables stubgen "
                       f"ships (Linux {kernel}): renumbered by your tables")
    return out
