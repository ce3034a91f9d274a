"""The sandbox every template runs in: Jinja's immutable sandbox, one environment per
templates path with each template compiled once (and kept between runs, bccache.py),
a time budget and an output cap on every render, and bounds on what one expression
may build."""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..errors import StubgenError
from ..tables import inputs

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
    from .bccache import bytecode_cache

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



@lru_cache(maxsize=64)
def template_module(env, name: str):
    try:
        with _budget():
            return env.get_template(name).module
    except Exception as e:
        raise _template_error(name, e) from e



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
