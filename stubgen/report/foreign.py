"""What `stubgen verify FILE...` prints: a line per checked function (pass, FAIL with
the reasons and the disassembly, unverified with the reason), the skipped functions
and notes per file, and the counts; or one JSON object per function."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .. import tables as tables_mod
from ..errors import StubgenError
from ..verifier.foreign.judge import VERDICTS, check_files
from ..verifier.foreign.preprocess import detect_dialect


def go_declarations(files, arch_name: str, dialect: str | None, go_decls: str | None,
                    tables: str | None = None) -> tuple[dict, list[str]]:
    """({file: {function: GoDecl}}, notes) for the Plan 9 files: Go's declarations read
    from the package beside each file, or from go_decls (--go-decls DIR), by Go's own
    parser. Without Go, none: the tables' signatures stand in, and a note says so."""
    from ..realtools import tools
    from ..realtools.godecls import go_decls as read_decls

    if go_decls is not None and not Path(go_decls).is_dir():
        raise StubgenError(f"--go-decls {go_decls}: not a directory (give the Go package's directory)")
    goarch = tables_mod.load(tables).arch(arch_name).goarch
    out: dict[str, dict] = {}
    notes: list[str] = []
    for f in files:
        path = Path(f)
        try:
            plan9 = (dialect or detect_dialect(path.read_text(encoding="utf-8", errors="replace"))) == "plan9"
        except OSError:
            continue
        directory = Path(go_decls) if go_decls is not None else path.parent
        if not plan9 or (go_decls is None and not any(directory.glob("*.go"))):
            continue
        try:
            out[str(f)] = read_decls(directory, goarch)
        except tools.ToolMissing as e:
            notes.append(f"{e}: Go's declarations not read; the tables' signatures and the FP references "
                         "stand in for them")
            break
        except tools.ToolFailed as e:
            notes.append(f"{path.name}: Go's declarations not read ({e}); the tables' signatures stand in")
    return out, notes


def verify_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                 tables: str | None = None, templates: str | None = None, as_json: bool = False,
                 out=None, go_decls: str | None = None, read_go: bool = True) -> int:
    """Verify the functions of files stubgen did not write. Exit code: 0 when every
    checked function passed, 1 when one failed or could not be verified. go_decls: the
    Go package whose declarations the Plan 9 files implement (default: the files'
    own directory); read_go False: do not run Go for them."""
    out = out or sys.stdout
    decls, notes = go_declarations(files, arch_name, dialect, go_decls, tables) if read_go else ({}, [])
    verdicts, sources = check_files(files, arch_name, dialect, stubs, includes, defines, tables, templates, decls)
    if as_json:
        for v in verdicts:
            print(json.dumps(v.as_json()), file=out)
    else:
        _print(verdicts, sources, out)
        for n in notes:
            print(f"note          {n}", file=out)
    checked = [v for v in verdicts if v.verdict != "skipped"]
    if not checked and not as_json:
        print("nothing checked: no function is named after a syscall in the tables "
              "(--stub SYMBOL=SYSCALL[:POLICY] picks one)", file=out)
    # A stub no emulator can run, which every other oracle accepted, fails nothing (as
    # in `verify DIR`); it is counted apart.
    return 0 if checked and all(v.verdict in ("pass", "not-emulated") for v in checked) else 1


def _print(verdicts, sources, out) -> None:
    for v in verdicts:
        if v.verdict == "skipped":
            continue
        head = f"{v.verdict.upper() if v.verdict == 'fail' else v.verdict:12}  {Path(v.file).name} {v.symbol} " \
               f"({v.syscall}, policy {v.policy}, {v.arch}/{v.dialect})"
        print(head + (f": {v.runs} runs" if v.verdict == "pass" else ""), file=out)
        for r in v.reasons[:12]:
            print(f"              {r}", file=out)
        if v.listing:
            print(v.listing, file=out)
    for s in sources:
        skipped = [v.symbol for v in verdicts if v.verdict == "skipped" and v.file == str(s.path)]
        if skipped:
            print(f"skipped       {s.path.name}: {', '.join(skipped)} (not syscalls in the tables; "
                  "--stub NAME=SYSCALL[:POLICY] checks one)", file=out)
        for n in s.notes:
            print(f"note          {s.path.name}: {n}", file=out)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}
    words = {"fail": "failed", "pass": "passed", "not-emulated": "not emulated"}
    print(", ".join(f"{counts[k]} {words.get(k, k)}" for k in VERDICTS), file=out)
