"""What `stubgen verify DIR` prints: each failure with its reasons and disassembly, the
counts (a stub nothing emulated is named apart, never counted as passed), and notes."""
from __future__ import annotations


def print_summary(s, out) -> None:
    """s: a pipeline.verify_dir.Summary."""
    for r in s.failed:
        print(r.describe(), file=out)
    also = "; ".join(f"{n} also against {tool}" for tool, n in sorted(s.compared.items()))
    shy = sum(s.unemulated.values())
    print(f"verified {s.total} stubs ({s.runs} emulated calls{'; ' + also if also else ''}): "
          f"{s.total - len(s.failed) - shy} passed, "
          + (f"{shy} not emulated (assembled and compared only), " if shy else "")
          + f"{len(s.failed)} failed", file=out)
    for why, count in sorted(s.unemulated.items()):
        print(f"note: {count} stub{'s' if count > 1 else ''} {why}", file=out)
    for n in sorted(s.notes):
        print(f"note: {n}" if n.startswith("not assembled") else f"note: not compared with a real assembler: {n}",
              file=out)
    for line in s.renumbered:
        print(f"note: {line}", file=out)
