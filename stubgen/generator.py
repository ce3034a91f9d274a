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
    returns: bool

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


def _decls(arch: Arch, sig, frame: layout.Frame, symbol: str) -> tuple[str, str]:
    go_args = ", ".join(f"{a.go_name} {a.go_type}" for a in frame.args)
    go = f"{sig.name}({go_args})" + (f" {frame.result.go_type}" if frame.result else "")
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
    and every dialect; syscalls=ALL ("all") means every syscall with a signature and,
    per architecture, a number (and the generic stubs). A syscall is made only for the
    architectures whose numbers table has it. traps maps an architecture to a trap name
    (default: the template's first). Option keywords (go_package, symbol_prefix,
    errno_handler, tables, templates) set the Options."""
    opts = options or Options(**option_kw)
    _identifier("Go package name", opts.go_package)
    _identifier("errno handler", opts.errno_handler)
    if opts.symbol_prefix:
        _identifier("symbol prefix", opts.symbol_prefix)
    t = tables_mod.load(opts.tables)
    if policy not in policies.POLICIES:
        raise choices("error policy", policy, policies.POLICIES)
    pol = policies.POLICIES[policy]
    arch_names = [t.arch(a).name for a in (arches or t.arches)]
    arch_names = list(dict.fromkeys(arch_names))
    dnames = _pick("dialect", dialects, list(render.dialects(opts.templates)))
    every = syscalls == ALL or (isinstance(syscalls, (list, tuple)) and list(syscalls) == [ALL])
    known = sorted(set(t.signatures).union(*(a.signatures for a in t.arches.values())))
    names = known if every else _pick("syscall", syscalls or DEFAULT_SYSCALLS, known)
    if not every:
        for name in names:
            if not any(t.available(t.arches[a], name) for a in arch_names):
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
            offered = d.offers(aname, "policy")
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
                frame = layout.plan(arch, sig, pol.returns)
                symbol = d.symbol.format(prefix=opts.symbol_prefix, syscall=name)
                _identifier(f"symbol of dialect {dname}", symbol)
                go_decl, c_decl = _decls(arch, sig, frame, symbol)
                number = None if sig.generic else arch.numbers[name]
                ctx = Context(arch, name, symbol, number, policy, trap, frame, go_decl, c_decl,
                              opts.errno_handler, pol.summary, pol.returns)
                text = render_stub(mod, ctx)
                stubs.append(Stub(aname, dname, name, symbol, ctx.number, policy,
                                  trap, text.strip("\n"), ctx, opts))
    if opts.errno_handler in {s.symbol for s in stubs}:
        raise StubgenError(f"errno handler {opts.errno_handler!r} is one of the stubs: on an error the stub "
                           "would call itself; name a C function of your own")
    return stubs
