"""The library's front door: turn (syscalls x architectures x dialects) into stubs."""
from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass, field

from .. import dialects as dialects_mod
from .. import tables as tables_mod
from ..dialects import naming
from ..dialects.sandbox import call
from ..errors import StubgenError, StubgenWarning, choices  # noqa: F401  (StubgenWarning: also public here)
from ..tables import policies
from ..tables.model import Arch
from . import layout

DEFAULT_SYSCALLS = ("madvise",)


@dataclass(frozen=True)
class Options:
    """Settings that shape names and files, shared by every stub of one run."""

    go_package: str = "stubs"
    symbol_prefix: str = "sys_"
    errno_handler: str = "stubgen_errno"
    tables: str | None = None
    templates: str | None = None
    # Exported names where a dialect has them (Go: Madvise, ClockGettime).
    go_exported: bool = False
    # A function named like a predeclared identifier of its language (Go's close):
    # "warn" (a StubgenWarning), "rename" (a trailing "_": close_) or "keep" (no warning).
    builtins: str = "warn"
    # The C macros of the syscall numbers: STUBGEN_SYS_madvise, not glibc's SYS_madvise,
    # so that the headers can sit beside <sys/syscall.h>.
    sysnum_prefix: str = "STUBGEN_SYS_"
    # ELF symbol visibility of the C stubs (a libc links its own stubs hidden), and weak
    # binding (a program's own definition wins).
    visibility: str = "default"
    weak: bool = False


BUILTIN_CHOICES = ("warn", "rename", "keep")
VISIBILITIES = ("default", "hidden", "protected")


@dataclass(frozen=True)
class Context:
    """What a stub template sees as `s`."""

    arch: Arch
    syscall: str
    symbol: str
    number: int | None  # None: a generic stub, the caller passes the number
    policy: str
    trap: str
    frame: layout.Frame
    go_decl: str
    c_decl: str
    errno_handler: str
    policy_summary: str
    options: Options

    def reg(self, name: str) -> str:
        """The Go assembler's name of a register."""
        return self.arch.registers[name]


@dataclass(frozen=True)
class Stub:
    """One stub, rendered: a function in one dialect for one architecture.

    arch: the architecture's name (amd64); dialect: "plan9" or "gnu"; syscall: the
    kernel's name of the call (madvise); symbol: the function's name in its file
    (madvise, Madvise, sys_madvise); number: the syscall number (None for a generic stub
    syscall0..syscall6, whose caller passes it); policy: its error policy (raw, crash,
    ignore, errno; noreturn for a call that never returns); trap: the trap instruction's
    name in the template (syscall, int80, svc...); text: the stub's assembly, without the
    file around it; go_decl and c_decl: its Go and C declarations; options: the
    settings it was made with. write() puts stubs into files, verify() checks them."""

    arch: str
    dialect: str
    syscall: str
    symbol: str
    number: int | None
    policy: str
    trap: str
    text: str
    # What the templates saw (frame layout, registers): stubgen's own, not the API.
    _context: Context = field(repr=False, compare=False)
    options: Options = field(repr=False, compare=False)

    @property
    def go_decl(self) -> str:
        """The Go declaration, without func: madvise(addr unsafe.Pointer, n uintptr, flags int32) int32."""
        return self._context.go_decl

    @property
    def c_decl(self) -> str:
        """The C prototype, without its semicolon: long sys_madvise(void *addr, unsigned long len, int advice)."""
        return self._context.c_decl


# Go's keywords (the language specification): a syscall named like one (select) is
# declared with _ appended, and the Plan 9 dialect's symbol is that name ({ident}).
def _decls(arch: Arch, name: str, frame: layout.Frame, symbol: str) -> tuple[str, str]:
    go_args = ", ".join(f"{a.go_name} {a.go_type}" for a in frame.args)
    go = f"{symbol}({go_args})" + (f" {frame.result.go_type}" if frame.result else "")
    c_args = ", ".join(f"{a.c_type}{'' if a.c_type.endswith('*') else ' '}{a.name}" for a in frame.args) or "void"
    c = f"{'long' if frame.result else 'void'} {symbol}({c_args})"
    return go, c


def _pick(kind: str, wanted, valid: list[str], listed_by: str = "") -> list[str]:
    if wanted is None:
        return list(valid)
    for w in wanted:
        if w not in valid:
            raise choices(kind, w, valid, listed_by)
    return list(dict.fromkeys(wanted))


def names(what: str, value) -> list[str] | None:
    """value as a list of names: a str is one name or a comma-separated list (as on the
    command line), a list or tuple holds names; None stays None. Anything else, or an
    empty name, is a StubgenError."""
    if value is None:
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise StubgenError(f"{what} must be a name, a comma-separated string of names or a list of names, "
                           f"not {type(value).__name__} {_short(value)}")
    if not items or not all(items):
        raise StubgenError(f"{what} {_short(value)}: an empty name")
    return items


def traps_of(value) -> dict[str, str]:
    """value as {arch: trap}: a dict, or ARCH=TRAP as a str (comma-separated, as --trap
    takes them one at a time) or a list of such strs."""
    if value is None:
        return {}
    if isinstance(value, dict):
        if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()):
            raise StubgenError(f"traps {_short(value)}: expected architecture names mapped to trap names")
        return dict(value)
    out = {}
    for item in names("traps", value) or ():
        arch, sep, trap = item.partition("=")
        if not sep or not arch.strip() or not trap.strip():
            raise StubgenError(f"trap {item!r}: expected ARCH=TRAP, for example 386=vdso")
        out[arch.strip()] = trap.strip()
    return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Options' types: a wrong one is the caller's mistake, said as such. Directories may
# also be paths (pathlib), and become str.
_FLAGS, _DIRECTORIES = ("go_exported", "weak"), ("tables", "templates")
_OPTION_TYPES = {f.name: (bool,) if f.name in _FLAGS else (str, os.PathLike, type(None)) if f.name in _DIRECTORIES
                 else (str,) for f in dataclasses.fields(Options)}


def _options(options, option_kw: dict) -> Options:
    if options is not None and not isinstance(options, Options):
        raise StubgenError(f"options must be a stubgen.Options, not {type(options).__name__}")
    unknown = sorted(set(option_kw) - set(_OPTION_TYPES))
    if unknown:
        raise choices("option", unknown[0], _OPTION_TYPES)
    opts = options or Options(**option_kw)
    if options is not None and option_kw:
        opts = dataclasses.replace(options, **option_kw)
    for name, types in _OPTION_TYPES.items():
        value = getattr(opts, name)
        if not isinstance(value, types):
            raise StubgenError(f"option {name}={_short(value)}: expected "
                               f"{' or '.join('None' if t is type(None) else t.__name__ for t in types)}")
    paths = {n: os.fspath(getattr(opts, n)) for n in _DIRECTORIES if isinstance(getattr(opts, n), os.PathLike)}
    return dataclasses.replace(opts, **paths) if paths else opts


def _left_out(t, arch_names: list[str], name: str) -> str | None:
    """The warning for a syscall that some of the selected architectures get no stub of
    (their files leave it out), naming them, why, and what they have instead; None
    where every one has it."""
    import re

    gaps: dict[str, list[str]] = {}
    for a in arch_names:
        arch = t.arches[a]
        if t.available(arch, name):
            continue
        if name in arch.numbers:
            why = t.exclusion(arch, name) or "no typed stub"
        else:
            # mmap -> mmap2, fstat -> fstat64, getuid -> getuid32: the call the architecture has in its place
            instead = [n for n in arch.numbers if re.fullmatch(re.escape(name) + r"_?\d+", n) and t.available(arch, n)]
            why = "no such syscall there" + (f"; it has {', '.join(instead)}" if instead else "")
        gaps.setdefault(why, []).append(a)
    if not gaps:
        return None
    where = "; ".join(f"{', '.join(arches)} ({why})" for why, arches in gaps.items())
    return f"syscall {name!r} has no stub on {where}: their files leave it out"


def _trap_elsewhere(dname: str, aname: str, trap: str, valid: list[str], templates) -> StubgenError:
    """The error for a trap a dialect does not have: if another dialect has it, say that
    the trap belongs to that dialect, so it must be selected alone."""
    owners = [o.name for o in dialects_mod.dialects(templates).values()
              if o.name != dname and o.has_arch(aname) and trap in o.offers(aname, "trap")]
    if not owners:
        return choices(f"trap for {aname} in dialect {dname}", trap, valid)
    return StubgenError(f"trap {trap!r} for {aname} is a trap of dialect {', '.join(owners)} only; dialect "
                        f"{dname} has {', '.join(valid)}; a trap applies to every selected dialect, so select "
                        f"{' or '.join(owners)} alone (-d {owners[0]})")


def render_stub(module, ctx: Context, policy_macro: str | None = None) -> str:
    """A stub's text from its template module; policy_macro overrides the policy's
    macro (the mutator uses it to render a stub that breaks its contract)."""
    return call(module, "stub", ctx, getattr(module, "trap_" + ctx.trap),
                       getattr(module, "policy_" + (policy_macro or ctx.policy)))


ALL = "all"


def generate(syscalls=None, arches=None, dialects=None, policy: str = policies.DEFAULT, traps=None,
             options: Options | None = None, **option_kw) -> list[Stub]:
    """Render stubs. syscalls, arches and dialects default to madvise, every table
    and every dialect; syscalls=ALL ("all") means, per architecture, every numbered
    syscall with a typed stub (and the generic stubs). A syscall is made only for the
    architectures whose numbers table has it. traps maps an architecture to a trap name
    (default: the template's first). Option keywords (go_package, symbol_prefix,
    errno_handler, tables, templates) set the Options."""
    opts = _options(options, option_kw)
    naming.identifier("Go package name", opts.go_package)
    naming.identifier("errno handler", opts.errno_handler)
    naming.identifier("syscall number macro prefix", opts.sysnum_prefix)
    if opts.symbol_prefix:
        naming.identifier("symbol prefix", opts.symbol_prefix)
    if opts.builtins not in BUILTIN_CHOICES:
        raise choices("builtins choice", opts.builtins, BUILTIN_CHOICES)
    if opts.visibility not in VISIBILITIES:
        raise choices("visibility", opts.visibility, VISIBILITIES)
    syscalls = names("syscalls", syscalls)
    arches, dialects = names("arches", arches), names("dialects", dialects)
    if not isinstance(policy, str):
        raise StubgenError(f"policy must be a str, one of {', '.join(policies.GENERATED)}; not {_short(policy)}")
    t = tables_mod.load(opts.tables)
    if policy not in policies.GENERATED:
        raise choices("error policy", policy, policies.GENERATED)
    arch_names = [t.arch(a).name for a in (arches or t.arches)]
    arch_names = list(dict.fromkeys(arch_names))
    known = dialects_mod.dialects(opts.templates)
    # Without a choice, the dialects that say default (a dialect may be written only on request).
    dnames = _pick("dialect", dialects, list(known)) if dialects else [n for n, d in known.items() if d.default]
    every = syscalls == [ALL]
    if every:
        wanted = list(dict.fromkeys(n for a in arch_names for n in t.names(t.arches[a])))
    else:
        # Every name with a number somewhere, and the generic stubs (which have none).
        generic = {n for n, s in t.signatures.items() if s.generic}
        numbered = sorted(set().union(*(a.numbers for a in t.arches.values())) | generic)
        wanted = _pick("syscall", syscalls or DEFAULT_SYSCALLS, numbered,
                       "`stubgen list` (or stubgen.tables_document())")
        for name in wanted:
            if not any(t.available(t.arches[a], name) for a in arch_names):
                excluded = [f"{a}: {t.exclusion(t.arches[a], name)}" for a in arch_names
                            if name in t.arches[a].numbers]
                if excluded:
                    raise StubgenError(f"syscall {name!r} has no typed stub ({'; '.join(excluded)}); "
                                       "the generic stubs syscall0..syscall6 reach it")
                where = [a for a in t.arches if name in t.arches[a].numbers]
                raise StubgenError(f"syscall {name!r} has no number on {', '.join(arch_names)}"
                                   + (f" (it has one on {', '.join(where)})" if where else ""))
            gap = _left_out(t, arch_names, name)
            if gap:
                warnings.warn(StubgenWarning(gap), stacklevel=2)
    traps = {t.arch(k).name: v for k, v in traps_of(traps).items()}
    naming.check_package(opts, [dialects_mod.dialect(n, opts.templates) for n in dnames])

    stubs = []
    for dname in dnames:
        d = dialects_mod.dialect(dname, opts.templates)
        for aname in arch_names:
            arch = t.arches[aname]
            cannot = d.cannot_write(arch)
            if cannot:
                if dialects and arches:  # both asked for by name: refused
                    raise StubgenError(cannot)
                # The architecture named with every dialect: a note. Every architecture (none
                # named), or the dialect named alone: the architectures it has, as `stubgen list` says.
                if arches and not dialects:
                    warnings.warn(StubgenWarning(f"dialect {dname} skipped on {aname}: "
                                                 f"{cannot.split('; ', 1)[-1] if arch.no_go_port else d.absent[aname]}"),
                                  stacklevel=2)
                continue
            if not d.has_arch(aname):
                raise StubgenError(f"dialect {dname} has no template for {aname}")
            offered = [p for p in d.offers(aname, "policy") if p in policies.CHOSEN]
            if policy not in offered and not arches and any(
                    policy in d.offers(a, "policy") for a in arch_names if not d.cannot_write(t.arches[a])):
                # every architecture, by default: one whose template lacks the policy (ppc's
                # errno) is left out with a note; named, it is refused below
                warnings.warn(StubgenWarning(f"error policy {policy!r} is not offered by dialect {dname} on {aname} "
                                             f"(valid: {', '.join(offered)}): {aname} left out"), stacklevel=2)
                continue
            if policy not in offered:
                raise StubgenError(f"error policy {policy!r} is not offered by dialect {dname} on {aname}; "
                                   f"valid: {', '.join(offered)}")
            trap_names = d.offers(aname, "trap")
            trap = traps.get(aname) or getattr(d.module(aname), "default_trap", None)
            if trap is None:
                raise StubgenError(f"template {dname}/{d.stub_template.format(arch=aname)}: sets no "
                                   f"default_trap; valid traps: {', '.join(trap_names) or 'none'}")
            if trap not in trap_names:
                raise _trap_elsewhere(dname, aname, trap, trap_names, opts.templates)
            mod = d.module(aname)
            needs = getattr(mod, "requires_package", {}).get(trap)
            if needs and opts.go_package != needs:
                raise StubgenError(
                    f"trap {trap!r} for {aname} (dialect {dname}) refers to symbols that exist only in Go "
                    f"package {needs} and would not link in package {opts.go_package!r}; use it only with "
                    f"go_package {needs!r} (--go-package {needs}), else one of: "
                    f"{', '.join(n for n in trap_names if n != trap)}")
            symbols: dict[str, str] = {}
            for name in wanted:
                if not t.available(arch, name):
                    continue
                sig = t.signature(arch, name)
                if sig is None:  # available() said there is one
                    continue
                naming.check_params(d, arch, sig)
                # A call that never returns has one stub whatever the policy: the result
                # has nowhere to go.
                stub_policy = policies.for_signature(sig, policy)
                stub_pol = policies.POLICIES[stub_policy]
                if stub_policy != policy and stub_policy not in d.offers(aname, "policy"):
                    raise StubgenError(f"dialect {dname} on {aname} has no policy_{stub_policy} macro, which "
                                       f"{name} needs ({stub_pol.summary})")
                frame = layout.plan(arch, sig, stub_pol.returns)
                symbol = naming.symbol(d, name, opts)
                if symbol in symbols:
                    raise StubgenError(f"syscalls {symbols[symbol]} and {name} both get the symbol {symbol!r} in "
                                       f"dialect {dname}")
                symbols[symbol] = name
                go_decl, c_decl = _decls(arch, name, frame, symbol)
                number = None if sig.generic else arch.numbers[name]
                ctx = Context(arch, name, symbol, number, stub_policy, trap, frame, go_decl, c_decl,
                              opts.errno_handler, stub_pol.summary, opts)
                text = render_stub(mod, ctx)
                stubs.append(Stub(aname, dname, name, symbol, ctx.number, stub_policy,
                                  trap, text.strip("\n"), ctx, opts))
    if opts.errno_handler in {s.symbol for s in stubs}:
        raise StubgenError(f"errno handler {opts.errno_handler!r} is one of the stubs: on an error the stub "
                           "would call itself; name a C function of your own")
    return stubs
