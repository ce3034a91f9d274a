"""What `stubgen list --coverage` prints: a row per architecture, then per architecture
each implemented syscall left out and why, and its reserved numbers."""
from __future__ import annotations

import textwrap

from ..pipeline.coverage import Row


def format_rows(rows: list[Row]) -> str:
    out = [f"{'arch':8} {'numbered':>8} {'typed':>6} {'verified':>9}   {'generic stubs':14} oracles"]
    for r in rows:
        oracles = ", ".join(r.oracles) + (f" ({r.not_emulated} stubs not emulated)" if r.not_emulated else "") \
            + ("; not run: " + "; ".join(r.missing_oracles) if r.missing_oracles else "")
        out.append(f"{r.arch:8} {r.numbered:>8} {r.typed:>6} {r.verified:>9}   "
                   f"{f'{r.generic} ({r.generic_verified} verified)':14} {oracles}")
    for r in rows:
        share = 100.0 * r.verified / r.implemented if r.implemented else 0.0
        out.append("")
        out.append(f"{r.arch}: {r.verified} of {r.implemented} implemented syscalls typed and verified "
                   f"({share:.1f}%; {r.numbered} numbered, {len(r.reserved)} of them reserved)"
                   + (f", by every oracle but emulation: {r.not_emulated} stubs were assembled and compared, "
                      "not emulated" if r.not_emulated else "") + f"; left out ({len(r.excluded)}):")
        out += [f"  {name}: {why}" for name, why in r.excluded.items()]
        if r.failed:
            out.append(f"  failed verification: {', '.join(r.failed)}")
        if r.reserved:
            out += textwrap.wrap(f"reserved ({r.reserved_reason}): {', '.join(r.reserved)}", WIDTH,
                                 initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False)
    return "\n".join(out)


WIDTH = 120  # the reserved names wrap here (after the reason, which takes ~100)
