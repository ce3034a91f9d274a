"""Command line: stubgen generate | list | verify."""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import StubgenError, VerificationFailed


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _traps(values) -> dict:
    out = {}
    for v in values or ():
        arch, sep, trap = v.partition("=")
        if not sep or not arch or not trap:
            raise StubgenError(f"--trap {v!r}: expected ARCH=TRAP, for example 386=vdso")
        out[arch] = trap
    return out


def _add_generation_options(p):
    p.add_argument("-s", "--syscalls", type=_csv, metavar="LIST", help="comma-separated syscalls (default: madvise)")
    p.add_argument("--all", action="store_true", help="every syscall with a signature and, per architecture, "
                   "a number, and the generic stubs syscall0..syscall6")
    p.add_argument("-a", "--arch", type=_csv, metavar="LIST", help="comma-separated architectures (default: all)")
    p.add_argument("-d", "--dialect", type=_csv, metavar="LIST", help="plan9, gnu (default: both)")
    p.add_argument("-e", "--errors", default="raw", metavar="POLICY",
                   help="error policy: raw (default), crash, ignore, errno (GNU only)")
    p.add_argument("--trap", action="append", metavar="ARCH=TRAP", help="pick a trap, e.g. 386=vdso")
    p.add_argument("--go-package", default="stubs", metavar="NAME", help="Go package name and file prefix")
    p.add_argument("--symbol-prefix", default="sys_", metavar="PREFIX", help="prefix of the C symbols")
    p.add_argument("--errno-handler", default="stubgen_errno", metavar="SYMBOL",
                   help="C function the errno policy calls with the positive errno")
    _add_sources(p)


TABLES_HELP = ("your tables: each file in DIR (<arch>.yaml, numbers/<arch>.yaml, common/*.yaml) replaces the "
               "shipped file of the same path; the rest come from the shipped tables")
TEMPLATES_HELP = ("your templates: each file in DIR (<dialect>/dialect.yaml, <dialect>/*.j2, "
                  "<dialect>/<arch>.lower.yaml) replaces the shipped file of the same path")


def _add_sources(p, templates: bool = True):
    p.add_argument("--tables", metavar="DIR", help=TABLES_HELP)
    if templates:
        p.add_argument("--templates", metavar="DIR", help=TEMPLATES_HELP)


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line (exit code 2, as argparse's own)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="stubgen", description="Generate Linux syscall stubs in assembly from "
                                 "tables, and verify them under emulation.")
    ap.add_argument("--version", action="version", version=f"stubgen {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    g = sub.add_parser("generate", help="write stubs and a manifest into a directory")
    g.add_argument("-o", "--output", required=True, metavar="DIR")
    _add_generation_options(g)
    g.add_argument("--verify", action="store_true", help="verify the written stubs under emulation")
    g.add_argument("--force", action="store_true", help="overwrite files that stubgen did not generate")
    g.add_argument("--check", action="store_true", help="write nothing; exit 1 and print a unified diff if the "
                   "files in DIR differ from what would be generated, 0 if they match (for CI)")

    ls = sub.add_parser("list", help="architectures, syscalls, dialects and error policies")
    _add_sources(ls)
    ls.add_argument("--coverage", action="store_true", help="per architecture: numbered syscalls, typed ones, "
                    "those that pass every oracle (runs the verifier), and each one left out with its reason")
    ls.add_argument("--json", action="store_true", help="the tables as JSON for other runtimes: numbers, "
                    "argument types and kernel registers, special calls (README: Machine-readable tables)")
    ls.add_argument("--no-real-tools", action="store_true",
                    help="with --coverage: emulation only, not go tool asm or GNU as")

    v = sub.add_parser("verify", help="verify the stubs in a generated directory (reads its manifest)")
    v.add_argument("directory", metavar="DIR")
    v.add_argument("--mutants", action="store_true", help="also break every stub and show which breaks are caught")
    v.add_argument("--no-real-tools", action="store_true",
                   help="do not compare with go tool asm or GNU as even where they are installed")
    _add_sources(v)

    tb = sub.add_parser("tables", help="maintain the architecture tables")
    tsub = tb.add_subparsers(dest="tables_command", metavar="SUBCOMMAND")
    tsub.required = True
    ti = tsub.add_parser("import", help="rewrite arch/numbers/*.yaml and common/signatures.yaml from a Linux "
                         "source tree's syscall tables and C definitions")
    ti.add_argument("--kernel-src", required=True, metavar="DIR", help="top of a Linux source tree")
    ti.add_argument("--kernel-version", metavar="V", help="e.g. 7.1.5, when DIR has no top-level Makefile")
    ti.add_argument("--tables", metavar="DIR", help="write numbers/<arch>.yaml and common/signatures.yaml into "
                    "DIR instead of the shipped tables")

    cc = sub.add_parser("crosscheck", help="check the stubs in a generated directory with real tools "
                        "(go vet, go tool asm, GNU as, the running kernel, qemu-user)")
    cc.add_argument("directory", metavar="DIR")
    cc.add_argument("--check", type=_csv, metavar="LIST", help="only these checks (default: all)")
    cc.add_argument("-j", "--jobs", type=int, default=2, metavar="N", help="architectures checked at once")
    # The generated directory says everything the templates would; only the tables' tool names are needed.
    _add_sources(cc, templates=False)
    return ap


def _options(a):
    from .generator import Options

    return Options(go_package=a.go_package, symbol_prefix=a.symbol_prefix, errno_handler=a.errno_handler,
                   tables=a.tables, templates=a.templates)


def cmd_generate(a) -> int:
    from .generator import generate
    from .output import check, write

    if a.all and a.syscalls:
        raise StubgenError("--all and --syscalls: pick one")
    stubs = generate("all" if a.all else a.syscalls, a.arch, a.dialect, a.errors, _traps(a.trap),
                     options=_options(a))
    if a.check:
        diff = check(stubs, a.output)
        if diff:
            sys.stdout.write(diff)
            print(f"stubgen: {a.output} is not what stubgen generate would write (diff above)", file=sys.stderr)
            return 1
        print(f"{a.output}: up to date ({len(stubs)} stubs)")
    else:
        paths = write(stubs, a.output, force=a.force)
        print(f"wrote {len(paths)} files ({len(stubs)} stubs) to {a.output}")
    if a.verify:
        from .verifier import verify_dir

        return verify_dir(a.output, tables=a.tables, templates=a.templates)
    return 0


def cmd_list(a) -> int:
    from . import policies, render, tables

    t = tables.load(a.tables)
    if a.coverage and a.json:
        raise StubgenError("--coverage and --json: pick one")
    if a.json:
        import json

        from .tablesjson import document

        print(json.dumps(document(t), indent=1, sort_keys=False))
        return 0
    if a.coverage:
        from .coverage import coverage, format_rows

        rows = coverage(a.tables, a.templates, real_tools=not a.no_real_tools)
        print(format_rows(rows))
        return 1 if any(r.failed for r in rows) else 0
    print("architectures:")
    for arch in t.arches.values():
        print(f"  {arch.name:8} aliases: {', '.join(arch.aliases) or '-'}; goarch {arch.goarch}; "
              f"{len(arch.numbers)} syscall numbers")
    for arch in t.arches.values():
        names = t.names(arch)
        print(f"typed syscalls on {arch.name} ({len(names)}): " + ", ".join(names))
    print("dialects:")
    for d in render.dialects(a.templates).values():
        print(f"  {d.name:8} {d.summary}")
    print("error policies:")
    for p in policies.POLICIES.values():
        print(f"  {p.name:8} {p.summary}" + ("" if p.chosen else " (set by the tables, not chosen)"))
    return 0


def cmd_verify(a) -> int:
    from .verifier import verify_dir

    return verify_dir(a.directory, tables=a.tables, templates=a.templates, mutants=a.mutants,
                      real_tools=not a.no_real_tools)


def cmd_tables(a) -> int:
    from . import importer

    # Only "import" exists; argparse has already rejected anything else.
    for imp in importer.run(a.kernel_src, a.kernel_version, a.tables):
        print("\n".join(imp.summary()))
        print(f"  wrote {imp.path}")
    return 0


def cmd_crosscheck(a) -> int:
    from . import crosscheck

    return crosscheck.main(a.directory, tables=a.tables, checks=a.check, jobs=a.jobs)


def main(argv=None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    try:
        return {"generate": cmd_generate, "list": cmd_list, "verify": cmd_verify, "tables": cmd_tables,
                "crosscheck": cmd_crosscheck}[a.command](a)
    except (StubgenError, VerificationFailed) as e:
        if a.debug:
            raise
        print(f"stubgen: error: {e}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:
        # stdout closed early (stubgen list | head): nothing left to say to anyone.
        sys.stderr.close()
        return 0
    except OSError as e:
        if a.debug:
            raise
        print(f"stubgen: error: {e.filename + ': ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
