"""What `stubgen crosscheck DIR` prints: a row per check, architecture and dialect, the
tools' versions, and the counts."""
from __future__ import annotations

from ..realtools import tools
from ..realtools.crosscheck import FAIL, PASS, SKIP, run


def table(results, versions: dict | None = None) -> str:
    rows = [("check", "arch", "dialect", "policy", "result", "detail")]
    for r in results:
        detail = f"missing tool: install {r.missing}" if r.status == SKIP and r.missing else r.detail
        rows.append((r.check, r.arch, r.dialect, r.policy, r.status, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5] for row in rows]
    if versions:
        lines.append("")
        lines += [f"{k}: {v}" for k, v in versions.items()]
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
    lines.append("")
    lines.append(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines)


def main(directory, tables=None, checks=None, jobs: int = 2) -> int:
    results = run(directory, tables=tables, checks=checks, jobs=jobs)
    print(table(results, tools.tool_versions(tables)))
    return 1 if any(r.status == FAIL for r in results) else 0
