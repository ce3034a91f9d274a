"""What a dialect's names may be: symbols made from its format (exported on request),
and the keywords and builtins of the language it is written in, which no package,
parameter or symbol may be (or, for a builtin, shadow unwarned)."""
from __future__ import annotations

import warnings

from ..errors import StubgenError, StubgenWarning


def identifier(kind: str, value: str):
    if not isinstance(value, str) or not value.isidentifier() or not value.isascii():
        raise StubgenError(f"{kind} {value!r} is not an identifier (letters, digits, _)")


def camel(name: str) -> str:
    """clock_gettime -> ClockGettime; a part that starts with a digit keeps its "_"
    (fadvise64_64 -> Fadvise64_64), so that no two names meet."""
    out = ""
    for part in name.split("_"):
        out += ("_" + part) if part[:1].isdigit() and out else part[:1].upper() + part[1:]
    return out


def names_of(d) -> dict:
    n = d.names
    return {"language": n.get("language", d.name), "keywords": set(n.get("keywords", ())),
            "builtins": set(n.get("builtins", ()))}


def check_package(opts, dialects):
    """The package option must not be a keyword of a language that writes it as a package."""
    for d in dialects:
        words = names_of(d)
        if d.names.get("package") and opts.go_package in words["keywords"]:
            raise StubgenError(f"Go package name {opts.go_package!r} is a {words['language']} keyword; "
                               f"pick another name (--go-package)")


def check_params(d, arch, sig):
    """Parameter names reach declarations: a keyword of the dialect's language is an error."""
    words = names_of(d)
    key = "go" if d.names.get("param") == "go" else "name"
    for p in sig.args:
        name = p.go_name if key == "go" else p.name
        if name in words["keywords"]:
            raise StubgenError(f"syscall {sig.name} on {arch.name}: argument name {name!r} is a "
                               f"{words['language']} keyword (dialect {d.name}); rename it in the tables "
                               f"(signatures: args: {key})")


def symbol(d, name: str, opts) -> str:
    """A stub's symbol in dialect d: its format, exported on request, and a name that
    shadows a builtin warned about or renamed."""
    words = names_of(d)
    fmt = d.names.get("exported_symbol") if opts.go_exported and d.names.get("exported_symbol") else d.symbol
    # {ident}: the syscall, with "_" appended where it is a keyword of the dialect's language (select)
    ident = name + "_" if name in words["keywords"] else name
    symbol = fmt.format(prefix=opts.symbol_prefix, syscall=name, Syscall=camel(name), ident=ident)
    identifier(f"symbol of dialect {d.name}", symbol)
    if symbol in words["keywords"]:
        raise StubgenError(f"symbol {symbol!r} of dialect {d.name} is a {words['language']} keyword; "
                           "set a symbol prefix or exported names")
    if symbol in words["builtins"]:
        if opts.builtins == "rename":
            return symbol + "_"
        if opts.builtins == "warn":
            warnings.warn(StubgenWarning(
                f"{d.name} function {symbol!r} shadows the {words['language']} builtin {symbol!r} in its package "
                f"(legal, but surprising); --builtins rename names it {symbol}_, --go-exported exports names, "
                "--builtins keep keeps it without this warning"), stacklevel=3)
    return symbol
