"""What `stubgen verify FILE...` prints: a line per checked function (pass, FAIL with
the reasons and the disassembly, unverified with the reason), the skipped functions
and notes per file, and the counts; or one JSON object per function."""
from __future__ import annotations

import sys
from pathlib import Path

from ..pipeline.verify_files import check_files
from ..tables import policies
from ..verifier.foreign.judge import VERDICTS
from ..version import __version__
from .formats import Outcome, write
from .verify import RULE

UNVERIFIED = ("stubgen.unverified", "a function the verifier cannot model (a call into other code, TLS, Go's "
              "register ABI, two results) is reported, never passed")


def outcomes(verdicts) -> list[Outcome]:
    """An Outcome per function of foreign files. The text checked went through the
    preprocessor and the translation, so no line is given: the file is."""
    status = {"pass": "pass", "fail": "fail", "unverified": "unverified", "skipped": "skip"}
    return [Outcome("stubgen verify", f"{v.arch}.{v.dialect}", f"{v.symbol} ({v.syscall or '-'}, policy {v.policy or '-'})",
                    status[v.verdict], *(UNVERIFIED if v.verdict == "unverified" else RULE), (v.reasons or [""])[0],
                    "\n".join(v.reasons[1:] + ([v.listing] if v.listing else [])), v.file, None, v.as_json())
            for v in verdicts]


def verify_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                 tables: str | None = None, templates: str | None = None, fmt: str = "text",
                 out=None, force_includes=(), policy: str = policies.DEFAULT, assembler: str | None = None) -> int:
    """Verify the functions of files stubgen did not write. Exit code: 0 when every
    checked function passed, 1 when one failed or could not be verified. fmt: text, or
    a format of formats.py (json: the objects `--json` has always printed)."""
    out = out or sys.stdout
    verdicts, sources = check_files(files, arch_name, dialect, stubs, includes, defines, force_includes, policy,
                                    tables, templates, assembler)
    if fmt == "text":
        _print(verdicts, sources, out)
    else:
        write(outcomes(verdicts), fmt, out, __version__)
    checked = [v for v in verdicts if v.verdict != "skipped"]
    if not checked and fmt == "text":
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
