"""The reading rules of a dialect (templates/<dialect>/<arch>.lower.yaml): how the
verifier reads a stub back and how the mutator breaks it. Checked when read: the
shape, every placeholder of a format string (plain fields only: str.format would
follow any attribute into Python's internals), and every mutation regex."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import StubgenError
from ..tables import schema, yamlio


@lru_cache(maxsize=64)
def reading_rules(f: Path, root: str, reader, stamp) -> dict:
    # stamp (mtime, size, inode) keys the memo: every stub asks, the file rarely changes.
    doc = yamlio.read(f, roots=[root])
    problems = list(doc.problems)
    if doc.data is None and not problems:
        return {}
    if not problems:
        problems = yamlio.schema_problems(doc, schema.LOWER)
    if not problems:
        problems = _lowering_problems(doc, reader)
    if problems:
        raise StubgenError(problems[0] if len(problems) == 1 else
                           f"{len(problems)} problems in reading rules:\n  " + "\n  ".join(problems))
    return dict(doc.data)  # type: ignore[call-overload]  # the schema made it a mapping


# A Plan 9 lowering rule names operands by position ({0}, {1}), a register's other
# name through a subregister table ({1.r32}), a pooled constant ({0.pool}) and the
# condition suffix ({cond}); the operand formats name the operand's parts. Nothing
# else: str.format would follow any attribute or index into Python's internals.
RULE_FIELDS = {"cond"}
# Every operand's attributes, beside its subregisters: a pooled constant, the base
# register and offset of a memory operand or an address ($r+8(FP)), and an immediate's
# complement.
OPERAND_ATTRS = frozenset({"pool", "breg", "disp", "inv"})
# Go's frame: the bytes the stack pointer moves, the declared size, and the first less
# the slot of the saved return address
FRAME_FIELDS = {"size", "frame", "locals"}
OPERAND_FIELDS = {"imm": {"value"}, "pool": {"value"}, "mem": {"base", "offset"}, "pool_tail": set(),
                  "absolute": {"value"}, "reg": {"name"}}
MAX_OPERANDS = 6
_SPEC = None


def code_symbol(rules: dict, symbol: str) -> str:
    """The label of symbol's code: the symbol itself, or where the reading rules say
    (ELF V1 PowerPC's `code_symbol: ".{symbol}"`: the symbol labels a descriptor)."""
    return str(rules.get("code_symbol", "{symbol}")).replace("{symbol}", symbol)


def function_of(rules: dict, label: str) -> str | None:
    """The symbol whose code label is label (code_symbol's inverse), None when label is
    not one: a real assembler's code symbols, keyed as the stubs' symbols."""
    head, _, tail = str(rules.get("code_symbol", "{symbol}")).partition("{symbol}")
    if len(label) > len(head) + len(tail) and label.startswith(head) and label.endswith(tail):
        return label[len(head):len(label) - len(tail)]
    return None


def plain_format(text: str, args=(), fields=None, attrs=frozenset()) -> str:
    """text.format(*args, **fields), for plain fields only: {N} or {name}, at most one
    attribute from attrs ({1.r32}), a format spec of at most '#x' (no width that could
    make a gigabyte), no conversion, no index. A bad field raises StubgenError."""
    fields = fields or {}
    out = []
    for literal, name, attr, spec in _parsed_format(text, len(args), frozenset(fields), frozenset(attrs)):
        out.append(literal)
        if name is None:
            continue
        value = args[name] if isinstance(name, int) else fields[name]
        if attr:
            value = getattr(value, attr)
        out.append(format(value, spec))
    return "".join(out)


@lru_cache(maxsize=4096)  # the lowering formats with a few hundred strings, for every stub
def _parsed_format(text: str, nargs: int, names: frozenset, attrs: frozenset) -> tuple:
    """(literal, field name or index or None, attribute, spec) of each part of text,
    every field checked; a bad one raises StubgenError (and is not cached)."""
    import string

    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        raise StubgenError(f"{text!r}: {e}") from None
    out: list[tuple[str, int | str | None, str, str]] = []
    for literal, field, spec, conv in parts:
        if field is None:
            out.append((literal, None, "", ""))
            continue
        problem = _field_problem(field, spec, conv, nargs, set(names), attrs)
        if problem:
            raise StubgenError(f"{text!r}: {problem}")
        name, _, attr = field.partition(".")
        out.append((literal, int(name) if name.isdigit() else name, attr, spec or ""))
    return tuple(out)


def _field_problem(field: str, spec, conv, nargs: int, names: set, attrs) -> str | None:
    import re

    global _SPEC
    _SPEC = _SPEC or re.compile(r"#?[xXdob]?")
    name, dot, attr = field.partition(".")
    if conv:
        return f"placeholder {{{field}!{conv}}}: no conversion is allowed"
    if spec and not _SPEC.fullmatch(spec):
        return f"placeholder {{{field}:{spec}}}: the only format specs are x, #x, d, o, b"
    if "[" in field or (dot and (not attr or attr not in attrs)):
        return (f"placeholder {{{field}}} is not allowed; an operand's only attributes are "
                f"{', '.join(sorted(attrs)) or 'none'}")
    if name.isdigit():
        if int(name) >= nargs:
            return f"placeholder {{{field}}}: there are {nargs} operands ({{0}}..{{{nargs - 1}}})"
        return None
    if name not in names:
        return f"placeholder {{{field}}} is not allowed; valid: {', '.join('{' + n + '}' for n in sorted(names))}"
    return None


def _lowering_problems(doc, reader) -> list[str]:
    """Placeholders and regexes of a valid-shaped .lower.yaml; the Plan 9 reader also needs
    its operand formats and rules."""

    data = doc.data or {}
    out: list[str] = []

    def check(keypath, text, nargs, names, attrs):
        for field, spec, conv in format_fields(doc, keypath, text, out):
            problem = _field_problem(field, spec, conv, nargs, names, attrs)
            if problem:
                out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: {problem}")

    if reader == "plan9":
        for key in ("format", "rules"):
            if key not in data:
                out.append(f"{doc.where()}: {key}: the Plan 9 reader needs it")
        for key in ("imm", "mem"):
            if key not in data.get("format", {}):
                out.append(f"{doc.where(('format',))}: format.{key}: the Plan 9 reader needs it")
    for key, text in data.get("format", {}).items():
        check(("format", key), text, 0, OPERAND_FIELDS[key], frozenset())
    for key in ("prologue", "epilogue", "epilogue_call"):
        for i, text in enumerate(data.get("frame", {}).get(key, ())):
            check(("frame", key, i), text, 0, FRAME_FIELDS, frozenset())
    attrs = frozenset(data.get("subregisters", {})) | OPERAND_ATTRS
    for mnem, table in data.get("rules", {}).items():
        for kinds, text in table.items():
            nargs = len(kinds.split(",")) if kinds else 0
            check(("rules", mnem, kinds), text, min(nargs, MAX_OPERANDS), RULE_FIELDS, attrs)
    for kind, rule in data.get("mutations", {}).items():
        if "find" in rule:
            problem = regex_problem(rule["find"], rule["replace"])
            if problem:
                out.append(f"{doc.where(('mutations', kind, 'find'))}: mutations.{kind}.find: {problem}")
    for i, rule in enumerate(data.get("link_operands", ())):
        problem = regex_problem(rule["find"], rule["replace"])
        if problem:
            out.append(f"{doc.where(('link_operands', i, 'find'))}: link_operands.{i}.find: {problem}")
    return out


def regex_problem(pattern: str, replace: str | None = None) -> str | None:
    """Why a mutation regex is refused: it does not compile, its replacement names a
    group it lacks, or a quantifier repeats something that itself repeats or branches
    ((.*.*)*, (a|a)*), which can backtrack for longer than anyone waits."""
    import re
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarning about [[ sets: the verdict is compile's
            compiled = re.compile(pattern)
        if replace is not None:
            compiled.sub(replace, "")
    except re.error as e:
        return f"bad regular expression {pattern!r}: {e}"
    try:
        import re._parser as parser  # type: ignore[import-not-found]
    except ImportError:  # Python 3.10
        import sre_parse as parser  # type: ignore[no-redef]
    return _nested_repeat(parser.parse(pattern), parser, pattern)


def _nested_repeat(tree, parser, pattern, inside: bool = False) -> str | None:
    repeats = (parser.MAX_REPEAT, parser.MIN_REPEAT, getattr(parser, "POSSESSIVE_REPEAT", None))
    for op, av in tree:
        if op in repeats and av[1] > 1:
            if inside:
                return f"{pattern!r}: a repeat inside a repeat can backtrack without end; write it without nesting"
            found = _nested_repeat(av[2], parser, pattern, True)
            if found:
                return found
        elif op is parser.BRANCH:
            if inside:
                return f"{pattern!r}: alternatives inside a repeat can backtrack without end"
            for branch in av[1]:
                found = _nested_repeat(branch, parser, pattern, inside)
                if found:
                    return found
        elif op is parser.SUBPATTERN:
            found = _nested_repeat(av[-1], parser, pattern, inside)
            if found:
                return found
        elif op in (parser.ASSERT, parser.ASSERT_NOT):
            found = _nested_repeat(av[1], parser, pattern, inside)
            if found:
                return found
    return None


def format_fields(doc, keypath, text: str, out: list[str]) -> list[tuple[str, str | None, str | None]]:
    """(field, spec, conversion) of each placeholder in a format string of doc; a string
    that does not parse is one line in out and has none."""
    import string

    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: {e}")
        return []
    return [(field, spec, conv) for _, field, spec, conv in parts if field is not None]
