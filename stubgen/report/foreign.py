"""What `stubgen verify FILE...` prints: a line per checked function (pass, FAIL with
the reasons and the disassembly, unverified with the reason), the skipped functions
and notes per file, and the counts; or one JSON object per function."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..pipeline.verify_files import check_files
from ..tables import policies
from ..verifier.foreign.judge import VERDICTS


def verify_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                 tables: str | None = None, templates: str | None = None, as_json: bool = False,
                 out=None, force_includes=(), policy: str = policies.DEFAULT, assembler: str | None = None) -> int:
    """Verify the functions of files stubgen did not write. Exit code: 0 when every
    checked function passed, 1 when one failed or could not be verified."""
    out = out or sys.stdout
    verdicts, sources = check_files(files, arch_name, dialect, stubs, includes, defines, force_includes, policy,
                                    tables, templates, assembler)
    if as_json:
        for v in verdicts:
            print(json.dumps(v.as_json()), file=out)
    else:
        _print(verdicts, sources, out)
    checked = [v for v in verdicts if v.verdict != "skipped"]
    if not checked and not as_json:
        print("nothing checked: no function is named after a syscall in the tables "
              "(--stub SYMBOL=SYSCALL[:POLICY] picks one)", file=out)
    return 0 if checked and all(v.verdict == "pass" for v in checked) else 1


def _print(verdicts, sources, out) -> None:
    for v in verdicts:
        if v.verdict == "skipped":
            continue
        also = f" (also {', '.join(v.aliases)})" if v.aliases else ""
        head = f"{v.verdict.upper() if v.verdict == 'fail' else v.verdict:10}  {Path(v.file).name} {v.symbol}{also} " \
               f"({v.syscall}, policy {v.policy}, {v.arch}/{v.dialect})"
        print(head + (f": {v.runs} runs" if v.verdict == "pass" else ""), file=out)
        for r in v.reasons[:12]:
            print(f"            {r}", file=out)
        if v.listing:
            print(v.listing, file=out)
    for s in sources:
        skipped = [v.symbol for v in verdicts if v.verdict == "skipped" and v.file.startswith(str(s.path))]
        if skipped:
            print(f"skipped     {s.path.name}: {', '.join(skipped)} (not syscalls in the tables; "
                  "--stub NAME=SYSCALL[:POLICY] checks one)", file=out)
        for n in s.notes:
            print(f"note        {s.path.name}: {n}", file=out)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}
    print(", ".join(f"{counts[k]} {'failed' if k == 'fail' else 'passed' if k == 'pass' else k}" for k in VERDICTS),
          file=out)
