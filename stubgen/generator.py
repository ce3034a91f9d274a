"""The library's front door: turn (syscalls x architectures x dialects) into stubs."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import layout, policies, render
from . import tables as tables_mod
from .errors import StubgenError, choices
from .model import Arch

DEFAULT_SYSCALLS = ("madvise",)


@dataclass(frozen=True)
class Options:
    """Settings that shape names and files, shared by every stub of one run."""

    go_package: str = "stubs"
    symbol_prefix: str = "sys_"
    errno_handler: str = "stubgen_errno"
    tables: str | None = None
    templates: str | None = None


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

    def reg(self, name: str) -> str:
        """The Go assembler's name of a register."""
        return self.arch.registers[name]


@dataclass(frozen=True)
class Stub:
    arch: str
    dialect: str
    syscall: str
    symbol: str
    number: int | None
    policy: str
    trap: str
    text: str
    context: Context = field(repr=False, compare=False)
    options: Options = field(repr=False, compare=False)


# Go's keywords (the language specification): a syscall named like one (select) is
# declared with _ appended, and the Plan 9 dialect's symbol is that name ({ident}).
GO_KEYWORDS = frozenset(("break case chan const continue default defer else fallthrough for func go goto if "
                         "import interface map package range return select struct switch type var").split())


def ident(name: str) -> str:
    return name + "_" if name in GO_KEYWORDS else name


def _decls(arch: Arch, name: str, frame: layout.Frame, symbol: str) -> tuple[str, str]:
    go_args = ", ".join(f"{a.go_name} {a.go_type}" for a in frame.args)
    go = f"{ident(name)}({go_args})" + (f" {frame.result.go_type}" if frame.result else "")
    c_args = ", ".join(f"{a.c_type}{'' if a.c_type.endswith('*') else ' '}{a.name}" for a in frame.args) or "void"
    c = f"{'long' if frame.result else 'void'} {symbol}({c_args})"
    return go, c


def _pick(kind: str, wanted, valid: list[str]) -> list[str]:
    if wanted is None:
        return list(valid)
    for w in wanted:
        if w not in valid:
            raise choices(kind, w, valid)
    return list(dict.fromkeys(wanted))


def _identifier(kind: str, value: str):
    if not value.isidentifier() or not value.isascii():
        raise StubgenError(f"{kind} {value!r} is not an identifier (letters, digits, _)")


def render_stub(module, ctx: Context, policy_macro: str | None = None) -> str:
    """A stub's text from its template module; policy_macro overrides the policy's
    macro (the mutator uses it to render a stub that breaks its contract)."""
    return render.call(module, "stub", ctx, getattr(module, "trap_" + ctx.trap),
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
    opts = options or Options(**option_kw)
    _identifier("Go package name", opts.go_package)
    _identifier("errno handler", opts.errno_handler)
    if opts.symbol_prefix:
        _identifier("symbol prefix", opts.symbol_prefix)
    t = tables_mod.load(opts.tables)
    if policy not in policies.CHOSEN:
        raise choices("error policy", policy, policies.CHOSEN)
    arch_names = [t.arch(a).name for a in (arches or t.arches)]
    arch_names = list(dict.fromkeys(arch_names))
    dnames = _pick("dialect", dialects, list(render.dialects(opts.templates)))
    every = syscalls == ALL or (isinstance(syscalls, (list, tuple)) and list(syscalls) == [ALL])
    known = list(dict.fromkeys(n for a in arch_names for n in t.names(t.arches[a])))
    if every:
        names = known
    else:
        numbered = sorted(set().union(*(a.numbers for a in t.arches.values())) | set(known))
        names = _pick("syscall", syscalls or DEFAULT_SYSCALLS, numbered)
        for name in names:
            if not any(t.available(t.arches[a], name) for a in arch_names):
                excluded = [f"{a}: {t.exclusion(t.arches[a], name)}" for a in arch_names
                            if name in t.arches[a].numbers]
                if excluded:
                    raise StubgenError(f"syscall {name!r} has no typed stub ({'; '.join(excluded)}); "
                                       "the generic stubs syscall0..syscall6 reach it")
                where = [a for a in t.arches if name in t.arches[a].numbers]
                raise StubgenError(f"syscall {name!r} has no number on {', '.join(arch_names)}"
                                   + (f" (it has one on {', '.join(where)})" if where else ""))
    traps = {t.arch(k).name: v for k, v in (traps or {}).items()}

    stubs = []
    for dname in dnames:
        d = render.dialect(dname, opts.templates)
        for aname in arch_names:
            arch = t.arches[aname]
            if not d.has_arch(aname):
                raise StubgenError(f"dialect {dname} has no template for {aname}")
            offered = [p for p in d.offers(aname, "policy") if p in policies.CHOSEN]
            if policy not in offered:
                raise StubgenError(f"error policy {policy!r} is not offered by dialect {dname} on {aname}; "
                                   f"valid: {', '.join(offered)}")
            trap_names = d.offers(aname, "trap")
            trap = traps.get(aname) or getattr(d.module(aname), "default_trap", None)
            if trap is None:
                raise StubgenError(f"template {dname}/{d.stub_template.format(arch=aname)}: sets no "
                                   f"default_trap; valid traps: {', '.join(trap_names) or 'none'}")
            if trap not in trap_names:
                raise choices(f"trap for {aname} in dialect {dname}", trap, trap_names)
            mod = d.module(aname)
            for name in names:
                if not t.available(arch, name):
                    continue
                sig = t.signature(arch, name)
                if sig is None:  # available() said there is one
                    continue
                # A call that never returns has one stub whatever the policy: the result
                # has nowhere to go.
                stub_policy = policies.for_signature(sig, policy)
                stub_pol = policies.POLICIES[stub_policy]
                if stub_policy != policy and stub_policy not in d.offers(aname, "policy"):
                    raise StubgenError(f"dialect {dname} on {aname} has no policy_{stub_policy} macro, which "
                                       f"{name} needs ({stub_pol.summary})")
                frame = layout.plan(arch, sig, stub_pol.returns)
                symbol = d.symbol.format(prefix=opts.symbol_prefix, syscall=name, ident=ident(name))
                _identifier(f"symbol of dialect {dname}", symbol)
                go_decl, c_decl = _decls(arch, name, frame, symbol)
                number = None if sig.generic else arch.numbers[name]
                ctx = Context(arch, name, symbol, number, stub_policy, trap, frame, go_decl, c_decl,
                              opts.errno_handler, stub_pol.summary)
                text = render_stub(mod, ctx)
                stubs.append(Stub(aname, dname, name, symbol, ctx.number, stub_policy,
                                  trap, text.strip("\n"), ctx, opts))
    return stubs
