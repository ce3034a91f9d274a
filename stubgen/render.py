"""Jinja side: one sandboxed environment per templates path, each template compiled
once; per-dialect descriptors; discovery of the policies and traps a template offers."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from . import schema, yamlio
from .errors import StubgenError, choices

# Bounds on what one template expression may build: the sandbox keeps a template from
# reaching Python's internals but not from asking for 9**9**9 or 'x' * 10**12, which
# would hang or exhaust memory instead of failing.
MAX_POWER_BITS = 4096
MAX_REPEAT = 1 << 20


def _sandboxed_environment_class():
    from jinja2.sandbox import SandboxedEnvironment, SecurityError

    class Environment(SandboxedEnvironment):
        intercepted_binops = frozenset(["**", "*"])

        def call_binop(self, context, operator, left, right):
            if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                    and right > 0 and right * abs(left).bit_length() > MAX_POWER_BITS:
                raise SecurityError(f"{left} ** {right} is too large for a template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                        raise SecurityError(f"a sequence of {len(seq) * n} items is too large for a template")
            return super().call_binop(context, operator, left, right)

    return Environment


@lru_cache(maxsize=8)
def environment(search_path: tuple[str, ...]):
    from jinja2 import FileSystemLoader, StrictUndefined

    env = _sandboxed_environment_class()(
        loader=FileSystemLoader(list(search_path)), undefined=StrictUndefined, trim_blocks=True,
        lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["imm_chunks"] = imm_chunks
    return env


def _template_error(name: str, e: BaseException) -> StubgenError:
    """Anything a template raises (an undefined name, a sandbox refusal, a recursive
    macro, a Python error inside a filter) as one line naming the template."""
    if isinstance(e, RecursionError):
        what = "recursion too deep (a macro that calls itself without end?)"
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
        self.stub_template = spec["stub_template"]
        self.files = spec["files"]
        self.symbol = spec["symbol"]
        self.verify = spec.get("verify", {})

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
        """templates/<dialect>/<arch>.lower.yaml: how the verifier reads this dialect back."""
        rel = f"{self.name}/{arch}.lower.yaml"
        for p in self.search_path:
            f = Path(p) / rel
            if f.is_file():
                doc = yamlio.read(f)
                if doc.problems:
                    raise StubgenError("; ".join(doc.problems))
                if doc.data is None:
                    return {}
                if not isinstance(doc.data, dict):
                    raise StubgenError(f"{f}: expected a mapping of reading rules")
                return doc.data
        raise StubgenError(f"dialect {self.name} has no {rel} for the verifier")

    def offers(self, arch: str, kind: str) -> list[str]:
        """Names of the `<kind>_<name>` macros (kind: policy or trap), in template order."""
        mod = self.module(arch)
        prefix = kind + "_"
        return sorted(n[len(prefix):] for n in mod.__dict__ if n.startswith(prefix))


@lru_cache(maxsize=64)
def _module(env, name: str):
    try:
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
            doc = yamlio.read(f)
            problems += doc.problems
            if doc.data is None:
                continue
            found_here = yamlio.schema_problems(doc, schema.DIALECT)
            if not found_here:
                found_here = _format_problems(doc)
            problems += found_here
            if not found_here and not doc.problems:
                found[f.parent.name] = Dialect(f.parent.name, path, doc.data)
    if problems:
        raise StubgenError(problems[0] if len(problems) == 1 else
                           f"{len(problems)} problems in templates:\n  " + "\n  ".join(problems))
    return found


# The placeholders each format string of dialect.yaml may use; anything else (an
# attribute, an index, a conversion) could pull text from Python objects into a path.
FIELDS = {"stub_template": {"arch"}, "symbol": {"prefix", "syscall", "ident"},
          "path": {"package", "arch", "goarch"}}


def _format_problems(doc) -> list[str]:
    import string

    out = []
    spots = [(("stub_template",), doc.data["stub_template"], FIELDS["stub_template"]),
             (("symbol",), doc.data["symbol"], FIELDS["symbol"])]
    spots += [(("files", i, "path"), f["path"], FIELDS["path"]) for i, f in enumerate(doc.data["files"])]
    for keypath, text, allowed in spots:
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as e:
            out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: {e}")
            continue
        for _, field, spec, conv in parts:
            if field is None:
                continue
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
        return str(getattr(module, macro)(*args))
    except Exception as e:
        name = getattr(module, "__name__", None) or str(module)
        raise _template_error(f"{name}: {macro}", e) from e


def render_file(env, name: str, **context) -> str:
    try:
        return env.get_template(name).render(**context)
    except Exception as e:
        raise _template_error(name, e) from e
