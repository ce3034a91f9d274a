"""What `stubgen verify FILE...` prints: a line per checked function (pass, FAIL with
the reasons and the disassembly, unverified with the reason), the skipped functions
and notes per file, and the counts; or one JSON object per function."""
from __future__ import annotations

import sys
from pathlib import Path

from .. import tables as tables_mod
from ..errors import StubgenError
from ..pipeline.verify_files import check_files
from ..tables import inputs, policies
from ..verifier.foreign.judge import VERDICTS
from ..verifier.foreign.preprocess import detect_dialect
from ..version import __version__
from .formats import Outcome, write
from .verify import RULE

UNVERIFIED = ("stubgen.unverified", "a function the verifier cannot model (a call into other code, TLS, Go's "
              "register ABI, two results) is reported, never passed")


def outcomes(verdicts) -> list[Outcome]:
    """An Outcome per function of foreign files. The text checked went through the
    preprocessor and the translation, so no line is given: the file is."""
    status = {"pass": "pass", "not-emulated": "unverified", "fail": "fail", "unverified": "unverified",
              "skipped": "skip"}
    return [Outcome("stubgen verify", f"{v.arch}.{v.dialect}", f"{v.symbol} ({v.syscall or '-'}, policy {v.policy or '-'})",
                    status[v.verdict], *(UNVERIFIED if status[v.verdict] == "unverified" else RULE), (v.reasons or [""])[0],
                    "\n".join(v.reasons[1:] + ([v.listing] if v.listing else [])), v.file, None, v.as_json())
            for v in verdicts]


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
            # Bounded (a 3 GB file was read whole here): one too big is refused by the reader later.
            head = inputs.read_bytes(path, what="input file", head=inputs.MAX_BYTES)
            plan9 = (dialect or detect_dialect(head.decode("utf-8", "replace"))) == "plan9"
        except StubgenError:
            continue
        directory = Path(go_decls) if go_decls is not None else path.parent
        if not plan9 or (go_decls is None and not any(directory.glob("*.go"))):
            continue
        try:
            out[str(path)] = read_decls(directory, goarch)
        except tools.ToolMissing as e:
            notes.append(f"{e}: Go's declarations not read; the tables' signatures and the FP references "
                         "stand in for them")
            break
        except tools.ToolFailed as e:
            notes.append(f"{path.name}: Go's declarations not read ({e}); the tables' signatures stand in")
    return out, notes


def verify_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                 tables: str | None = None, templates: str | None = None, fmt: str = "text",
                 out=None, force_includes=(), policy: str = policies.DEFAULT, assembler: str | None = None,
                 go_decls: str | None = None, read_go: bool = True) -> int:
    """Verify the functions of files stubgen did not write. Exit code: 0 when every
    checked function passed, 1 when one failed or could not be verified. fmt: text, or
    a format of formats.py (json: the objects `--json` has always printed). go_decls:
    the Go package whose declarations the Plan 9 files implement (default: the files'
    own directory); read_go False: do not run Go for them."""
    out = out or sys.stdout
    decls, notes = go_declarations(files, arch_name, dialect, go_decls, tables) if read_go else ({}, [])
    verdicts, sources = check_files(files, arch_name, dialect, stubs, includes, defines, force_includes, policy,
                                    tables, templates, assembler, decls)
    if fmt == "text":
        _print(verdicts, sources, out)
        for n in notes:
            print(f"note          {n}", file=out)
    else:
        write(outcomes(verdicts), fmt, out, __version__)
    checked = [v for v in verdicts if v.verdict != "skipped"]
    if not checked and fmt == "text":
        print("nothing checked: no function is named after a syscall in the tables "
              "(--stub SYMBOL=SYSCALL[:POLICY] picks one)", file=out)
    # A stub no emulator can run, which every other oracle accepted, fails nothing (as
    # in `verify DIR`); it is counted apart.
    return 0 if checked and all(v.verdict in ("pass", "not-emulated") for v in checked) else 1


def _print(verdicts, sources, out) -> None:
    for v in verdicts:
        if v.verdict == "skipped":
            continue
        also = f" (also {', '.join(v.aliases)})" if v.aliases else ""
        head = f"{v.verdict.upper() if v.verdict == 'fail' else v.verdict:12}  {Path(v.file).name} {v.symbol}{also} " \
               f"({v.syscall}, policy {v.policy}, {v.arch}/{v.dialect})"
        print(head + (f": {v.runs} runs" if v.verdict == "pass" else ""), file=out)
        for r in v.reasons[:12]:
            print(f"              {r}", file=out)
        if v.listing:
            print(v.listing, file=out)
    for s in sources:
        skipped = [v.symbol for v in verdicts if v.verdict == "skipped" and v.file.startswith(str(s.path))]
        if skipped:
            print(f"skipped       {s.path.name}: {', '.join(skipped)} (not syscalls in the tables; "
                  "--stub NAME=SYSCALL[:POLICY] checks one)", file=out)
        for n in s.notes:
            print(f"note          {s.path.name}: {n}", file=out)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}
    words = {"fail": "failed", "pass": "passed", "not-emulated": "not emulated"}
    print(", ".join(f"{counts[k]} {words.get(k, k)}" for k in VERDICTS), file=out)
