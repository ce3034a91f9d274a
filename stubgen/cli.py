"""Command line: stubgen generate | list | verify."""
from __future__ import annotations

import argparse
import sys

from .errors import StubgenError, VerificationFailed
from .version import __version__


def _csv(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",")]
    if not all(items):
        # -s '' must not quietly mean the default list.
        raise argparse.ArgumentTypeError(f"{value!r}: an empty name in a comma-separated list")
    return items


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
    p.add_argument("--go-exported", action="store_true",
                   help="Go: exported function names (Madvise, ClockGettime) instead of the syscall's name")
    p.add_argument("--builtins", choices=("warn", "rename", "keep"), default="warn",
                   help="a Go function named like a builtin (close): warn (default), rename it (close_), or keep "
                   "the name without a warning")
    p.add_argument("--sysnum-prefix", default="STUBGEN_SYS_", metavar="PREFIX",
                   help="C: prefix of the syscall number macros (default STUBGEN_SYS_, as in STUBGEN_SYS_madvise; "
                   "SYS_ gives glibc's names, which collide with <sys/syscall.h>)")
    p.add_argument("--visibility", choices=("default", "hidden", "protected"), default="default",
                   help="C: ELF visibility of the stub symbols (hidden: as a libc links its own)")
    p.add_argument("--weak", action="store_true", help="C: weak stub symbols (a definition of your own wins)")
    _add_sources(p)


TABLES_HELP = ("your tables: each file in DIR (<arch>.yaml, numbers/<arch>.yaml, common/*.yaml) replaces the "
               "shipped file of the same path; the rest come from the shipped tables")
KERNEL_ABI_HELP = ("your statement of the kernel's syscall ABI for architectures the verifier does not know "
                   "(the form of stubgen/verifier/linux_abi.yaml); it may add architectures, not restate one")
TEMPLATES_HELP = ("your templates: each file in DIR (<dialect>/dialect.yaml, <dialect>/*.j2, "
                  "<dialect>/<arch>.lower.yaml) replaces the shipped file of the same path")


def _add_sources(p, templates: bool = True):
    p.add_argument("--tables", metavar="DIR", help=TABLES_HELP)
    if templates:
        p.add_argument("--templates", metavar="DIR", help=TEMPLATES_HELP)


def _jobs(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a number of processes, 1 or more")
    return int(value)


FORMATS = ("text", "json", "sarif", "junit")
FORMAT_HELP = ("how to print the results: text (default), json (an object a line), sarif (SARIF 2.1.0: a result "
               "per failure at its file and line, for code scanning) or junit (JUnit XML: a testcase per stub or check)")


def _add_format(p):
    p.add_argument("--format", choices=FORMATS, default="text", help=FORMAT_HELP)


def _add_no_cache(p):
    p.add_argument("--no-cache", action="store_true", help="verify every stub again, not taking a verdict from "
                   "the cache (as STUBGEN_NO_CACHE=1 does for every cache)")


def _add_jobs(p):
    p.add_argument("-j", "--jobs", type=_jobs, metavar="N", help="verify in N processes (default: every core)")


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
    g.add_argument("--kernel-abi", metavar="FILE", help=KERNEL_ABI_HELP)
    _add_no_cache(g)
    _add_format(g)
    _add_jobs(g)
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

    v = sub.add_parser("verify", help="verify the stubs in a generated directory (reads its manifest), or "
                       "the syscall stubs in assembly files stubgen did not write")
    v.add_argument("paths", nargs="+", metavar="DIR|FILE",
                   help="a directory stubgen generated, or with --arch: ELF objects, archives (libc.a), or "
                   "assembly files (Go's .s, GNU .S/.s)")
    v.add_argument("--arch", metavar="ARCH", help="files: their architecture (a name or alias)")
    v.add_argument("--dialect", choices=("plan9", "gnu"), help="files: the syntax (default: Plan 9 where a "
                   "TEXT ...(SB) line is, GNU otherwise)")
    v.add_argument("--stub", action="append", default=[], metavar="SYMBOL=SYSCALL[:POLICY]",
                   help="files: check SYMBOL as SYSCALL under POLICY (default raw); without it a function is "
                   "checked when its name (less a sys_ prefix) is a syscall in the tables")
    v.add_argument("-I", dest="includes", action="append", default=[], metavar="DIR",
                   help="files: a header directory (cpp for GNU .S, #include for Plan 9)")
    v.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME[=VALUE]",
                   help="files: a macro for the preprocessor")
    v.add_argument("-include", dest="force_includes", action="append", default=[], metavar="FILE",
                   help="files: a header the preprocessor reads before a .S file (glibc's libc-symbols.h)")
    v.add_argument("--policy", default="raw", metavar="POLICY",
                   help="files: the error policy of functions checked by their name (default raw; errno: a "
                   "libc's -1 and errno)")
    v.add_argument("--assembler", choices=("gnu", "llvm"),
                   help="files: assemble .S/.s with GNU as or LLVM (default: GNU as where installed, else LLVM)")
    v.add_argument("--go-decls", metavar="DIR", help="files: the Go package whose declarations the Plan 9 "
                   "files implement (default: the .go files beside each file), read with Go's own parser")
    v.add_argument("--json", action="store_true", help="one JSON object per stub or function (--format json)")
    _add_format(v)
    v.add_argument("--mutants", action="store_true", help="also break every stub and show which breaks are caught")
    v.add_argument("--no-real-tools", action="store_true",
                   help="do not compare with go tool asm or GNU as even where they are installed")
    v.add_argument("--kernel-abi", metavar="FILE", help=KERNEL_ABI_HELP)
    _add_no_cache(v)
    _add_jobs(v)
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
    cc.add_argument("--require-tools", action="store_true", help="a check skipped for a missing tool fails "
                    "(as STUBGEN_REQUIRE_TOOLS=1 does); one that cannot exist for an architecture stays a skip")
    _add_format(cc)
    # The generated directory says everything the templates would; only the tables' tool names are needed.
    _add_sources(cc, templates=False)
    return ap


def _options(a):
    from .generator.stubs import Options

    return Options(go_package=a.go_package, symbol_prefix=a.symbol_prefix, errno_handler=a.errno_handler,
                   tables=a.tables, templates=a.templates, go_exported=a.go_exported, builtins=a.builtins,
                   sysnum_prefix=a.sysnum_prefix, visibility=a.visibility, weak=a.weak)


def _generated(a) -> tuple[list[tuple[str, str]], int]:
    """(path, text) of every file the run makes, and its number of stubs: from the
    cache (outcache.py) when a run with the same inputs made them before."""
    import warnings

    from . import resources
    from .errors import StubgenWarning
    from .generator import outcache

    roots = [resources.tables_dir(), resources.templates_dir(), resources.code_dir(), a.tables, a.templates]
    k = outcache.key(vars(a), roots)
    found = outcache.load(k)
    if found is None:
        from .generator.files import texts
        from .generator.stubs import generate

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stubs = generate("all" if a.all else a.syscalls, a.arch, a.dialect, a.errors, a.trap,
                             options=_options(a))
            files = texts(stubs)
        said = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, StubgenWarning)))
        for w in caught:  # anything else, as it came
            if not issubclass(w.category, StubgenWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        found = (files, len(stubs), said)
        outcache.store(k, *found)
    files, count, said = found
    for message in said:
        warnings.warn(message, StubgenWarning, stacklevel=1)
    return files, count


def cmd_generate(a) -> int:
    from .generator.output import check_texts, write_texts

    if a.all and a.syscalls:
        raise StubgenError("--all and --syscalls: pick one")
    if a.format != "text" and not a.verify:
        raise StubgenError(f"--format {a.format}: the format of --verify's results; add --verify")
    # With a format for machines, stdout holds the document alone.
    said = sys.stdout if a.format == "text" else sys.stderr
    files, count = _generated(a)
    if a.check:
        diff = check_texts(files, a.output)
        if diff:
            sys.stdout.write(diff)
            print(f"stubgen: {a.output} is not what stubgen generate would write (diff above)", file=sys.stderr)
            return 1
        print(f"{a.output}: up to date ({count} stubs)", file=said)
    else:
        paths = write_texts(files, a.output, force=a.force)
        print(f"wrote {len(paths)} files ({count} stubs) to {a.output}", file=said)
    if a.verify:
        from .pipeline.verify_dir import verify_dir

        return verify_dir(a.output, tables=a.tables, templates=a.templates, kernel_abi=a.kernel_abi, jobs=a.jobs,
                          fmt=a.format, use_cache=not a.no_cache)
    return 0


def cmd_list(a) -> int:
    from . import dialects, tables
    from .tables import policies

    t = tables.load(a.tables)
    if a.coverage and a.json:
        raise StubgenError("--coverage and --json: pick one")
    if a.json:
        import json

        from .tables.export import document

        print(json.dumps(document(t), indent=1, sort_keys=False))
        return 0
    if a.coverage:
        from .pipeline.coverage import coverage
        from .report.coverage import format_rows

        rows = coverage(a.tables, a.templates, real_tools=not a.no_real_tools)
        print(format_rows(rows))
        return 1 if any(r.failed for r in rows) else 0
    print("architectures:")
    for arch in t.arches.values():
        go = f"goarch {arch.goarch}" if arch.goarch else "no Go port"
        print(f"  {arch.name:8} aliases: {', '.join(arch.aliases) or '-'}; {go}; {len(arch.numbers)} syscall numbers")
    for arch in t.arches.values():
        names = t.names(arch)
        print(f"typed syscalls on {arch.name} ({len(names)}): " + ", ".join(names))
    print("dialects:")
    for d in dialects.dialects(a.templates).values():
        print(f"  {d.name:8} {d.summary}")
        print(f"  {'':8} traps: " + "; ".join(_traps_of(d, name) for name in t.arches if d.has_arch(name)))
        # What a template says its architecture's output cannot do (templates/rust: an
        # architecture whose inline assembly is unstable, a clobber it cannot name)
        for name in t.arches:
            for line in (getattr(d.module(name), "limits", None) or []) if d.has_arch(name) else []:
                print(f"  {'':8} {name}: {line}")
        for name, why in d.absent.items():  # not written there at all
            print(f"  {'':8} {name}: not written: {why}")
    print("error policies:")
    for p in policies.POLICIES.values():
        print(f"  {p.name:12} {p.summary}" + (" (verify only)" if p.verify_only else
                                               "" if p.chosen else " (set by the tables, not chosen)"))
    return 0


def _traps_of(dialect, arch: str) -> str:
    """'386 int80 (default), vdso (note)': the traps a dialect offers on an architecture."""
    mod = dialect.module(arch)
    default, notes = getattr(mod, "default_trap", None), getattr(mod, "about_traps", {})
    names = [n + (" (default)" if n == default else f" ({notes[n]})" if n in notes else "")
             for n in dialect.offers(arch, "trap")]
    return f"{arch} {', '.join(names)}"


def cmd_verify(a) -> int:
    from pathlib import Path

    if a.json and a.format not in ("text", "json"):
        raise StubgenError(f"--json and --format {a.format}: pick one")
    fmt = "json" if a.json else a.format
    if a.mutants and fmt != "text":
        raise StubgenError(f"--mutants prints a kill table, in text only (not --format {fmt})")
    files = [p for p in a.paths if Path(p).is_file()]
    if not files and not a.arch:
        if len(a.paths) > 1:
            raise StubgenError("verify: one generated directory at a time (files need --arch)")
        from .pipeline.verify_dir import verify_dir

        return verify_dir(a.paths[0], tables=a.tables, templates=a.templates, mutants=a.mutants,
                          real_tools=not a.no_real_tools, kernel_abi=a.kernel_abi, jobs=a.jobs, fmt=fmt,
                          use_cache=not a.no_cache)
    if not a.arch:
        raise StubgenError("verify FILE...: --arch is required (a name or alias, e.g. amd64, i386, arm)")
    from .report.foreign import verify_files

    return verify_files(a.paths, a.arch, a.dialect, a.stub, a.includes, a.defines, tables=a.tables,
                        templates=a.templates, fmt=fmt, force_includes=a.force_includes, policy=a.policy,
                        assembler=a.assembler, go_decls=a.go_decls)


def cmd_tables(a) -> int:
    from .kernelsrc import importer

    # Only "import" exists; argparse has already rejected anything else.
    for imp in importer.run(a.kernel_src, a.kernel_version, a.tables):
        print("\n".join(imp.summary()))
        print(f"  wrote {imp.path}")
    return 0


def cmd_crosscheck(a) -> int:
    from .report.crosscheck import main

    return main(a.directory, tables=a.tables, checks=a.check, jobs=a.jobs, require_tools=a.require_tools,
                fmt=a.format)


def _warn(message, category, filename, lineno, file=None, line=None):
    # A warning is one line for the user, like an error, not Python's file:line form.
    print(f"stubgen: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    import warnings

    ap = _parser()
    a = ap.parse_args(argv)
    warnings.showwarning = _warn
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
