"""`stubgen verify FILE... --arch ARCH`: what each file is (machine code, GNU assembly,
Plan 9 assembly), its front end (none for ELF; a real preprocessor and assembler for a
.S or .s file), and a verdict for every function. Machine code is untrusted: reading,
linking and running it happens in an isolated child per file."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StubgenError
from ..realtools import frontend, tools, zigfront
from ..tables import inputs, policies
from ..verifier import Verifier, isolate
from ..verifier.contract import arities, check, parameter_sizes
from ..verifier.conventions import c_long_bytes
from ..verifier.elffile import is_machine_code
from ..verifier.foreign.choice import Choice, parse_choice
from ..verifier.foreign.judge import check_files as check_plan9
from ..verifier.foreign.objects import check_objects, choices_by_symbol, read_objects
from ..verifier.foreign.preprocess import detect_dialect

MAX_OBJECT_BYTES = 256 << 20  # a whole libc.a is a few MiB
SECONDS_PER_FUNCTION = 1.0  # a function --stub names (or a header's caller)
SECONDS_PER_MEMBER = 0.2  # glibc's libc.a (2,070 members, 281 syscall functions) takes about 10 s


@dataclass
class FileNotes:
    """A file as the report lists it: its path and notes about it."""

    path: Path
    notes: list[str] = field(default_factory=list)


def _kind(path: Path, head: bytes, dialect: str | None) -> str:
    if is_machine_code(head):
        return "elf"
    if path.suffix in (".h", ".zig"):
        return "header"  # wrappers compiled into callers: a C header, or Zig source (zigfront.py)
    if dialect:
        return dialect
    return detect_dialect(head.decode("utf-8", errors="replace"))


def check_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                force_includes=(), policy: str = policies.DEFAULT, tables: str | None = None,
                templates: str | None = None, assembler: str | None = None, decls=None, own: bool = False):
    """(verdicts, files as read) for files stubgen did not write. assembler: "gnu" or
    "llvm" to pick the real assembler of .S/.s files (default: GNU as where installed).
    decls: {path: {function: GoDecl}}, Go's declarations of the Plan 9 files' functions.
    own: the headers are stubgen's own (a generated C dialect's): their wrappers are held
    to stubgen's policies too, not only to Linux's ABI."""
    if policy not in policies.POLICIES:
        raise StubgenError(f"--policy {policy!r}: valid: {', '.join(sorted(policies.POLICIES))}")
    if dialect is not None and dialect not in ("plan9", "gnu"):
        raise StubgenError(f"--dialect {dialect!r}: valid: gnu, plan9")
    verifier = Verifier(tables, templates)
    arch = verifier.tables.arch(arch_name)
    choices = choices_by_symbol(stubs, arch, verifier.tables)
    plan9: list[Path] = []
    verdicts: list = []
    sources: list = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise StubgenError(f"{path}: not a file (a directory is verified by its manifest.json, alone)")
        head = inputs.read_bytes(path, limit=MAX_OBJECT_BYTES, what="input file", head=4096)
        kind = _kind(path, head, dialect)
        if kind == "plan9":
            plan9.append(path)
            continue
        notes = FileNotes(path)
        sources.append(notes)
        if kind == "header":
            verdicts += _header(verifier, path, arch, stubs, includes, defines, force_includes, notes, own)
            continue
        if kind == "elf":
            data = inputs.read_bytes(path, limit=MAX_OBJECT_BYTES, what="object file")
        else:
            try:
                data, which = frontend.assemble_file(path, arch, includes, defines, force_includes, assembler)
            except tools.ToolFailed as e:  # the assembler's refusal: the usual causes help
                raise StubgenError(f"{e}{_likely_cause(head, arch, dialect)}") from None
            notes.notes.append(f"assembled by {which}")
        verdicts += _machine_code(verifier, path, data, arch, choices, policy, "elf" if kind == "elf" else "gnu")
    if any(_kind(Path(f), b"", dialect) == "header" for f in files):
        choices = {}  # a header's --stub names its wrappers, checked by _header
    if plan9:
        pv, ps = check_plan9(plan9, arch_name, "plan9", [s for s in stubs], includes, defines, tables,
                                   templates, strict=False, decls=decls)
        verdicts += pv
        sources += ps
    found = {n for v in verdicts for n in [v.symbol, *v.aliases]}
    missing = sorted(set(choices) - found)
    for name in missing:
        if choices[name].problem:  # read as a Go function's arguments, and no Go function took it
            raise StubgenError(choices[name].problem)
    if missing:
        raise StubgenError(f"--stub {missing[0]}: no function {missing[0]} in {', '.join(map(str, files))}; "
                           f"functions: {', '.join(sorted(found)) or '(none)'}")
    return verdicts, sources


def _likely_cause(head: bytes, arch, dialect: str | None) -> str:
    """What a user most often got wrong when the assembler refuses a whole file: a Go
    file read as GNU syntax, or a file for another architecture than --arch."""
    if detect_dialect(head.decode("utf-8", errors="replace")) == "plan9":
        return f"; is it a Plan 9 file? (--dialect plan9{', or no --dialect' if dialect else ''})"
    return f"; is the file for {arch.name}? --arch names the architecture it is for"


def _machine_code(verifier, path: Path, data: bytes, arch, choices, policy, dialect: str):
    def run():
        objs = read_objects(path.name, data, arch)
        return check_objects(verifier, objs, arch, choices, policy, label=str(path), dialect=dialect)

    members = max(1, data.count(b"\x7fELF"))
    # and a second per function to check: a unit of header callers (144 functions) runs
    # on QEMU where Unicorn cannot (ppc64le, loong64), a gdbstub round trip per step
    return isolate.run(run, seconds=isolate.SECONDS + 60 + SECONDS_PER_MEMBER * members + SECONDS_PER_FUNCTION * len(choices),
                       what=path.name)


# The callers of each header wrapper (programs/callers.c.j2), as reports name them; the
# ok caller exists only for wrappers that return a value and call a function on error
# (frontend.Wrapper.error_call; elsewhere its choice finds no code).
_CALLERS = {"plain": "plain", "kept": "kept registers", "ok": "kept registers, checked on success"}


def header_wrappers(verifier, arch, stubs, own: bool = False) -> tuple[list, dict]:
    """The wrappers that --stub texts name (frontend.Wrapper, in order) and the Choice of
    each of their callers (stubgen_<kind>_<k>), for a unit of callers in any language."""
    wrappers, choices = [], {}
    for k, text in enumerate(stubs):
        c = parse_choice(text)
        if c.contract is not None:
            # FUNCTION=SYSCALL(ARGS): the wrapper takes the parameters the contract names
            bound = check(c.contract, arch, verifier.tables)
            n = bound.parameters(arities(bound, arch, verifier.tables))
            pol = policies.POLICIES[bound.policy]
            # a parameter passed as a 64-bit argument of a 32-bit architecture is 64-bit itself
            # (wider than the callers' C long: a long long; n32's long is 4 bytes in 64-bit registers)
            pairs = tuple(i for i, (size, *_) in enumerate(parameter_sizes(bound, arch, verifier.tables))
                          if size > c_long_bytes(arch))
            wrappers.append(frontend.Wrapper(c.symbol, None, n, number_first=False, returns=pol.returns,
                                             error_call=pol.calls_handler, wide=pairs))
            for kind in _CALLERS:
                choices[f"stubgen_{kind}_{k}"] = Choice(f"stubgen_{kind}_{k}", c.syscall, bound.policy,
                                                             contract=bound, own=own)
            continue
        sig = verifier.tables.signature(arch, c.syscall)
        if sig is None or not verifier.tables.available(arch, c.syscall):
            raise StubgenError(f"--stub {text!r}: {c.syscall!r} has no number and signature on {arch.name} "
                               "in the tables (stubgen list shows them)")
        args = [p for p in sig.args if p.role != "number"]
        wide = [p.name for p in args if p.type.bytes(arch) > arch.word_bytes]
        if wide:
            raise StubgenError(f"--stub {text!r}: {c.syscall}'s {wide[0]} is wider than one {arch.name} register; a "
                               "wrapper that takes the number first takes one word per argument, and the split is the "
                               f"caller's (a wrapper of its own arguments: --stub '{c.symbol}={c.syscall}($0, ...)')")
        number = None if sig.generic else arch.numbers[c.syscall]
        pol = policies.POLICIES[c.policy or policies.DEFAULT]
        wrappers.append(frontend.Wrapper(c.symbol, number, len(args), returns=pol.returns, error_call=pol.calls_handler))
        for kind in _CALLERS:
            choices[f"stubgen_{kind}_{k}"] = Choice(f"stubgen_{kind}_{k}", c.syscall, c.policy, own=own)
    return wrappers, choices


def _header(verifier, path: Path, arch, stubs, includes, defines, force_includes, notes: FileNotes,
            own: bool = False):
    """Verdicts for the wrappers of a header (--stub FUNCTION=SYSCALL): callers compiled
    by the target's compiler at each optimisation level and variant, each verified as
    machine code and reported under the wrapper's name."""
    if not stubs:
        raise StubgenError(f"{path}: a header is verified by its wrappers: --stub FUNCTION=SYSCALL (e.g. "
                           "__syscall3=read, or __syscall3=syscall3 for a wrapper that takes the number)")
    wrappers, choices = header_wrappers(verifier, arch, stubs, own)
    fe: Any = zigfront if path.suffix == ".zig" else frontend  # the callers' language: the wrappers'
    unit = fe.callers_unit(path, wrappers, arch)
    out = []
    for flags in fe.variants(arch):
        data = fe.compile_callers(unit, arch, flags, [path.parent, *includes], defines, force_includes)
        how = " ".join(flags)
        for v in _machine_code(verifier, path, data, arch, choices, policies.DEFAULT,
                               "zig" if fe is zigfront else "c"):
            if not v.symbol.startswith("stubgen_"):
                continue  # the wrappers themselves, out of line at -O0: reached through the callers
            kind, k = v.symbol.split("_")[1], int(v.symbol.rsplit("_", 1)[1])
            v.symbol, v.aliases = wrappers[k].function, []
            v.file = f"{path} ({how}, {_CALLERS[kind]} caller)"
            out.append(v)
    notes.notes.append(zigfront.note(arch) if fe is zigfront else f"callers compiled by zig cc for "
                       f"{arch.engines.cc['target']}: " + ", ".join(" ".join(f) for f in frontend.variants(arch)))
    return out
