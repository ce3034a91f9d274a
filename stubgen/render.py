"""Jinja side: one sandboxed environment per templates path, each template compiled
once; per-dialect descriptors; discovery of the policies and traps a template offers."""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import cast

from . import schema, yamlio
from .errors import StubgenError, choices

# Bounds on what one template may build: the sandbox keeps a template from reaching
# Python's internals, but not from asking for 9**9**9, 'x' * 10**12, a format width of
# 10**9, or two nested range(100000) loops, which would hang or exhaust memory instead
# of failing. Every render (a file, a macro call) gets a time budget and an output cap;
# the shipped templates use well under 1% of either.
MAX_POWER_BITS = 4096
MAX_REPEAT = 1 << 20
MAX_WIDTH = 4096
MAX_OUTPUT = 16 << 20
RENDER_SECONDS = 10.0
_WIDTHS = None
_state = threading.local()


class BudgetExceeded(Exception):
    """A template ran past its time budget or output cap."""


def _check_budget():
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded(f"rendering took longer than {RENDER_SECONDS:.0f} s; a template's loops must end sooner")


def _check_output(value):
    if isinstance(value, str) and len(value) > MAX_OUTPUT:
        raise BudgetExceeded(f"a template made {len(value)} characters; at most {MAX_OUTPUT}")
    return value


@contextmanager
def _budget():
    """The time budget of one render. A loop that calls nothing would never look at the
    clock, so in the main thread an interval timer interrupts it as well."""
    if getattr(_state, "deadline", None) is not None:  # nested: the outer render's budget holds
        yield
        return
    _state.deadline = time.monotonic() + RENDER_SECONDS
    timer = threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL) == (0, 0)
    if timer:
        def expired(signum, frame):
            raise BudgetExceeded(f"rendering took longer than {RENDER_SECONDS:.0f} s; a template's loops must "
                                 "end sooner")
        old = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, RENDER_SECONDS + 0.5)
    try:
        yield
    finally:
        _state.deadline = None
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@lru_cache(maxsize=256)  # a template formats with a few strings, thousands of times
def _format_widths(text: str, percent: bool) -> int:
    """The largest width or precision a format string asks for (a {} spec or a %
    conversion); a width taken from an argument ({:{w}} or %*d) counts as unbounded."""
    import re
    import string

    global _WIDTHS
    _WIDTHS = _WIDTHS or re.compile(r"%[-#0 +]*(\d+|\*)?(?:\.(\d+|\*))?")
    specs = []
    if percent:
        specs = [g for m in _WIDTHS.finditer(text) for g in m.groups() if g]
    else:
        try:
            specs = [spec for _, _, spec, _ in string.Formatter().parse(text) if spec]
        except ValueError:
            return 0
        if any("{" in spec for spec in specs):
            return MAX_WIDTH + 1
        specs = [n for spec in specs for n in re.findall(r"\d+", spec)]
    return max((MAX_WIDTH + 1 if n == "*" else int(n) for n in specs), default=0)


def _bounded_filter(fn, name: str):
    """A filter whose integer arguments (a width, a length) are bounded."""
    def bounded(*args, **kwargs):
        from jinja2.sandbox import SecurityError

        # format's arguments are values (a syscall number may be large); its widths are in the string.
        for a in [] if name == "format" else list(args[1:]) + list(kwargs.values()):
            if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_WIDTH:
                raise SecurityError(f"{name}({a}) is too wide for a template (at most {MAX_WIDTH})")
        if name == "format" and args and isinstance(args[0], str) and _format_widths(args[0], True) > MAX_WIDTH:
            raise SecurityError(f"a format width above {MAX_WIDTH} is too wide for a template")
        return _check_output(fn(*args, **kwargs))
    bounded.__name__ = getattr(fn, "__name__", name)
    for attr in ("jinja_pass_arg",):
        if hasattr(fn, attr):
            setattr(bounded, attr, getattr(fn, attr))
    return bounded


def _sandboxed_environment_class():
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class Environment(ImmutableSandboxedEnvironment):
        # Immutable: a template sees the cached tables, and must not be able to change
        # them for the next render (arches[0].numbers.update(...)).
        intercepted_binops = frozenset(["**", "*", "%"])

        def call_binop(self, context, operator, left, right):
            _check_budget()
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                    and right > 0 and right * abs(left).bit_length() > MAX_POWER_BITS:
                raise SecurityError(f"{left} ** {right} is too large for a template")
            if operator == "*":
                if isinstance(left, int) and isinstance(right, int) and \
                        left.bit_length() + right.bit_length() > MAX_POWER_BITS:
                    raise SecurityError(f"a product of {left.bit_length() + right.bit_length()} bits is too large "
                                        "for a template")
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                        raise SecurityError(f"a sequence of {len(seq) * n} items is too large for a template")
            if operator == "%" and isinstance(left, str) and _format_widths(left, True) > MAX_WIDTH:
                raise SecurityError(f"a format width above {MAX_WIDTH} is too wide for a template")
            return _check_output(super().call_binop(context, operator, left, right))

        def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
            _check_budget()
            return _check_output(super().call(__context, __obj, *args, **kwargs))

        def getattr(self, obj, attribute):
            _check_budget()
            return super().getattr(obj, attribute)

        def wrap_str_format(self, value):
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            if _format_widths(value.__self__, False) > MAX_WIDTH:
                def refused(*args, **kwargs):
                    raise SecurityError(f"a format width above {MAX_WIDTH} is too wide for a template")
                return refused
            return wrapped

    return Environment


def _confined_loader(search_path: tuple[str, ...]):
    """Jinja's FileSystemLoader, reading through inputs: a template that is a symlink
    out of its directory, a FIFO or a huge file is refused like any other input."""
    from jinja2 import FileSystemLoader, TemplateNotFound

    from . import inputs

    class Loader(FileSystemLoader):
        def get_source(self, environment, template):
            for root in self.searchpath:
                f = Path(root, *template.split("/"))
                if f.exists() or f.is_symlink():
                    text = inputs.read_text(f, [root], what="template")
                    return text, str(f), lambda: True
            raise TemplateNotFound(template)

    return Loader(list(search_path))


@lru_cache(maxsize=8)
def environment(search_path: tuple[str, ...]):
    from jinja2 import StrictUndefined

    env = _sandboxed_environment_class()(
        loader=_confined_loader(search_path), undefined=StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["imm_chunks"] = imm_chunks
    for name in ("center", "indent", "truncate", "wordwrap", "format"):
        env.filters[name] = _bounded_filter(env.filters[name], name)
    from .cache import bytecode_cache

    env.bytecode_cache = bytecode_cache(env)  # compiled templates kept between runs
    return env


def _template_error(name: str, e: BaseException) -> StubgenError:
    """Anything a template raises (an undefined name, a sandbox refusal, a recursive
    macro, a Python error inside a filter) as one line naming the template."""
    if isinstance(e, RecursionError):
        what = "recursion too deep (a macro that calls itself without end?)"
    elif isinstance(e, MemoryError):
        what = "out of memory"
    else:
        what = str(e).splitlines()[0] if str(e).strip() else ""
        what = f"{type(e).__name__}: {what}" if not _is_jinja(e) else what
    lineno = getattr(e, "lineno", None)
    return StubgenError(f"template {name}{f':{lineno}' if lineno else ''}: {what}")


def _is_jinja(e) -> bool:
    from jinja2 import TemplateError

    return isinstance(e, TemplateError)


def imm_chunks(value: int, width: int, step: int, bits: int = 32) -> list[int]:
    """value as a sum of fields of `width` bits, each starting at a multiple of `step`,
    lowest first: the pieces of a constant that an instruction set builds with one
    short immediate at a time (ARM: 8 bits at an even rotation)."""
    v, out = value & ((1 << bits) - 1), []
    while v:
        low = (v & -v).bit_length() - 1
        shift = low - low % step
        field = v & (((1 << width) - 1) << shift)
        out.append(field)
        v &= ~field
    return out or [0]


class Dialect:
    """templates/<name>/dialect.yaml, and the per-architecture stub templates beside it."""

    def __init__(self, name: str, search_path: tuple[str, ...], spec: dict):
        self.name = name
        self.search_path = search_path
        self.summary = spec["summary"]
        self.dir = spec["dir"]
        self.alone_in_output = spec.get("alone_in_output", False)
        self.stub_template = spec["stub_template"]
        self.files = spec["files"]
        self.symbol = spec["symbol"]
        self.verify = spec.get("verify", {})
        self.names = spec.get("names", {})

    @property
    def env(self):
        return environment(self.search_path)

    def module(self, arch: str):
        """The compiled stub template of an architecture, as a module of macros."""
        return _module(self.env, f"{self.name}/{self.stub_template.format(arch=arch)}")

    def has_arch(self, arch: str) -> bool:
        rel = f"{self.name}/{self.stub_template.format(arch=arch)}"
        return any((Path(p) / rel).is_file() for p in self.search_path)

    def reading_rules(self, arch: str) -> dict:
        """templates/<dialect>/<arch>.lower.yaml: how the verifier reads this dialect back,
        checked: its shape, every placeholder of its format strings, every mutation regex."""
        rel = f"{self.name}/{arch}.lower.yaml"
        for p in self.search_path:
            f = Path(p) / rel
            if f.exists() or f.is_symlink():
                st = f.lstat()  # the file as it is now: an edited file is read afresh
                return _reading_rules(f, p, self.verify.get("reader"), (st.st_mtime_ns, st.st_size, st.st_ino))
        raise StubgenError(f"dialect {self.name} has no {rel} for the verifier")

    def offers(self, arch: str, kind: str) -> list[str]:
        """Names of the `<kind>_<name>` macros (kind: policy or trap), in template order."""
        mod = self.module(arch)
        prefix = kind + "_"
        return sorted(n[len(prefix):] for n in mod.__dict__ if n.startswith(prefix))


@lru_cache(maxsize=64)
def _reading_rules(f: Path, root: str, reader, stamp) -> dict:
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
OPERAND_FIELDS = {"imm": {"value"}, "pool": {"value"}, "mem": {"base", "offset"}, "pool_tail": set(),
                  "absolute": {"value"}, "reg": {"name"}}
MAX_OPERANDS = 6
_SPEC = None


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
        for field, spec, conv in _format_fields(doc, keypath, text, out):
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
    attrs = frozenset(data.get("subregisters", {})) | {"pool"}
    for mnem, table in data.get("rules", {}).items():
        for kinds, text in table.items():
            nargs = len(kinds.split(",")) if kinds else 0
            check(("rules", mnem, kinds), text, min(nargs, MAX_OPERANDS), RULE_FIELDS, attrs)
    for kind, rule in data.get("mutations", {}).items():
        if "find" in rule:
            problem = regex_problem(rule["find"], rule["replace"])
            if problem:
                out.append(f"{doc.where(('mutations', kind, 'find'))}: mutations.{kind}.find: {problem}")
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


@lru_cache(maxsize=64)
def _module(env, name: str):
    try:
        with _budget():
            return env.get_template(name).module
    except Exception as e:
        raise _template_error(name, e) from e


@lru_cache(maxsize=8)
def dialects(templates_root: str | None = None) -> dict[str, Dialect]:
    from .resources import templates_dir

    shipped = str(templates_dir())
    path = (templates_root, shipped) if templates_root else (shipped,)
    if templates_root and not Path(templates_root).is_dir():
        raise StubgenError(f"{templates_root}: templates directory not found")
    found, problems = {}, []
    for root in reversed(path):  # a user's dialect replaces a shipped one of the same name
        for f in sorted(Path(root).glob("*/dialect.yaml")):
            doc = yamlio.read(f, roots=[root])
            problems += doc.problems
            if doc.data is None:
                continue
            found_here = yamlio.schema_problems(doc, schema.DIALECT)
            if not found_here:
                found_here = _format_problems(doc)
            problems += found_here
            if not found_here and not doc.problems:
                found[f.parent.name] = Dialect(f.parent.name, path, cast(dict, doc.data))
    dirs: dict[str, str] = {}
    for name, d in sorted(found.items()):
        if d.dir in dirs:
            problems.append(f"dialect {name}: dir {d.dir!r} is also dialect {dirs[d.dir]}'s; each dialect "
                            "writes into a directory of its own")
        dirs.setdefault(d.dir, name)
    if problems:
        raise StubgenError(problems[0] if len(problems) == 1 else
                           f"{len(problems)} problems in templates:\n  " + "\n  ".join(problems))
    return found


# The placeholders each format string of dialect.yaml may use; anything else (an
# attribute, an index, a conversion) could pull text from Python objects into a path.
FIELDS = {"stub_template": {"arch"}, "symbol": {"prefix", "syscall", "Syscall", "ident"},
          "path": {"package", "arch", "goarch"}}


def _format_problems(doc) -> list[str]:

    out = []
    spots: list[tuple[tuple, str, set]] = [(("stub_template",), doc.data["stub_template"], FIELDS["stub_template"]),
             (("symbol",), doc.data["symbol"], FIELDS["symbol"])]
    spots += [(("files", i, "path"), f["path"], FIELDS["path"]) for i, f in enumerate(doc.data["files"])]
    if "exported_symbol" in doc.data.get("names", {}):
        spots.append((("names", "exported_symbol"), doc.data["names"]["exported_symbol"], FIELDS["symbol"]))
    for i, f in enumerate(doc.data["files"]):
        if f["per"] == "arch" and "{arch}" not in f["path"] and "{goarch}" not in f["path"]:
            out.append(f"{doc.where(('files', i, 'path'))}: files.{i}.path: a file per arch needs {{arch}} or "
                       "{goarch} in its path (else every architecture writes the same file)")
    for keypath, text, allowed in spots:
        for field, spec, conv in _format_fields(doc, keypath, text, out):
            if field not in allowed or spec or conv:
                out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: placeholder "
                           f"{{{field}{'!' + conv if conv else ''}{':' + spec if spec else ''}}} is not "
                           f"allowed; valid: {', '.join('{' + a + '}' for a in sorted(allowed))}")
    return out


def dialect(name: str, templates_root: str | None = None) -> Dialect:
    ds = dialects(templates_root)
    if name not in ds:
        raise choices("dialect", name, ds)
    return ds[name]


def call(module, macro: str, *args) -> str:
    """Call a template macro; a template mistake becomes one clear line."""
    try:
        with _budget():
            return _check_output(str(getattr(module, macro)(*args)))
    except Exception as e:
        name = getattr(module, "__name__", None) or str(module)
        raise _template_error(f"{name}: {macro}", e) from e


def render_file(env, name: str, **context) -> str:
    """A file template rendered as a stream, so that its time and size are watched as
    it grows rather than once it is a gigabyte."""
    try:
        with _budget():
            chunks: list[str] = []
            size = 0
            append = chunks.append
            for i, chunk in enumerate(env.get_template(name).generate(**context)):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise BudgetExceeded(f"the file would be longer than {MAX_OUTPUT} characters")
                if not i & 255:  # the clock, not every chunk: a file is tens of thousands of them
                    _check_budget()
                append(chunk)
            return "".join(chunks)
    except Exception as e:
        raise _template_error(name, e) from e


def _format_fields(doc, keypath, text: str, out: list[str]) -> list[tuple[str, str | None, str | None]]:
    """(field, spec, conversion) of each placeholder in a format string of doc; a string
    that does not parse is one line in out and has none."""
    import string

    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: {e}")
        return []
    return [(field, spec, conv) for _, field, spec, conv in parts if field is not None]
