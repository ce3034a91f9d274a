"""What `stubgen verify DIR` prints: each failure with its reasons and disassembly, the
counts (a stub nothing emulated is named apart, never counted as passed), and notes."""
from __future__ import annotations

from pathlib import Path

from .formats import Outcome

RULE = ("stubgen.verify", "a stub passes every check of the verifier: read back, assembled (twice where two "
        "assemblers exist), decoded, emulated under a fake kernel, compared with the real assemblers")


def outcomes(reports, directory=None) -> list[Outcome]:
    """An Outcome per (report, the other assemblers it was compared with) of a stub;
    directory: where the specs' paths lie."""
    out = []
    for r, also in reports:
        s = r.spec
        path = str(Path(directory) / s.path) if directory is not None and s.path else (s.path or None)
        notes = [f"not emulated: {w}" for w in r.not_run]
        record = {"file": path, "symbol": s.symbol, "syscall": s.syscall, "arch": s.arch, "dialect": s.dialect,
                  "policy": s.policy, "verdict": "pass" if r.ok else "fail", "reasons": r.problems + r.unverified,
                  "line": r.line, "runs": r.runs, "emulated": r.emulated, "not_run": r.not_run,
                  "compared_with": list(also), "warnings": r.warnings}
        out.append(Outcome("stubgen verify", f"{s.arch}.{s.dialect}", f"{s.symbol} ({s.syscall}, policy {s.policy})",
                           "pass" if r.ok else "fail", *RULE, (r.problems or r.unverified or [""])[0],
                           "\n".join(r.problems[1:] + ([r.listing] if r.listing else []) + notes), path, r.line,
                           record))
    return out


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
    if s.cached:
        print(f"note: {s.cached} of {s.total} verdicts from the cache (unchanged stubs, tables, templates, "
              "stubgen and engines; --no-cache verifies them again)", file=out)
    for why, count in sorted(s.unemulated.items()):
        print(f"note: {count} stub{'s' if count > 1 else ''} {why}", file=out)
    for n in sorted(s.notes):
        print(f"note: {n}" if n.startswith("not assembled") else f"note: not compared with a real assembler: {n}",
              file=out)
    for line in s.renumbered:
        print(f"note: {line}", file=out)
