"""What `stubgen crosscheck DIR` prints: a row per check, architecture and dialect, the
tools' versions, and the counts."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..realtools import tools
from ..realtools.crosscheck import FAIL, PASS, SKIP, Result, run
from ..version import __version__
from .formats import Outcome, write


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


def required(results) -> list:
    """results with every skip for a tool that could be installed made a failure
    (--require-tools, STUBGEN_REQUIRE_TOOLS=1); a check that cannot exist for an
    architecture (no GNU tools for LoongArch, no six-argument mmap) stays a skip."""
    return [Result(r.check, r.arch, r.dialect, FAIL, f"required tool missing: install {r.missing}", r.policy)
            if r.status == SKIP and r.missing else r for r in results]


def outcomes(results, directory) -> list[Outcome]:
    """An Outcome per check row, about the file the check read (the architecture's
    assembly of the dialect, from the manifest)."""
    from ..realtools.crosscheck.generated import load

    files = {(f["arch"], f["dialect"]): str(Path(directory) / f["path"])
             for f in load(directory).files if f.get("arch") and f["symbols"]}
    status = {PASS: "pass", FAIL: "fail", SKIP: "skip"}
    out = []
    for r in results:
        detail = f"missing tool: install {r.missing}" if r.status == SKIP and r.missing else r.detail
        rule = "stubgen.crosscheck." + r.check.replace(" ", "-")
        out.append(Outcome("stubgen crosscheck", f"{r.arch}.{r.dialect}",
                           r.check + (f" (policy {r.policy})" if r.policy else ""), status[r.status], rule,
                           f"crosscheck {r.check}: a real tool agrees with the generated stubs (README: Cross-checks)",
                           detail, "", files.get((r.arch, r.dialect)), None,
                           {"check": r.check, "arch": r.arch, "dialect": r.dialect, "policy": r.policy,
                            "status": status[r.status], "detail": detail}))
    return out


def main(directory, tables=None, checks=None, jobs: int = 2, require_tools: bool = False, fmt: str = "text") -> int:
    results = run(directory, tables=tables, checks=checks, jobs=jobs)
    if require_tools or os.environ.get("STUBGEN_REQUIRE_TOOLS") == "1":
        results = required(results)
    if fmt == "text":
        print(table(results, tools.tool_versions(tables)))
        if results and all(r.status == SKIP for r in results):
            print("nothing was checked: every check skipped (--require-tools makes a missing tool a failure)")
    else:
        write(outcomes(results, directory), fmt, sys.stdout, __version__)
    return 1 if any(r.status == FAIL for r in results) else 0
