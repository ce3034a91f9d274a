"""rustc for the Rust dialect's modules (templates/rust): a `#![no_core]` crate root (our
own minimal core, programs/minicore.rs) that includes a generated module and callers of
its wrappers, compiled to an object for the module's target. Only the host's standard
library need be installed: no_core needs none, so every target rustc knows can be
compiled for. RUSTC_BOOTSTRAP lets the stable rustc take the crate's internal features
(lang items, the builtin asm! macro). rustc runs as a child with the real tools' limits;
without rustc on the PATH nothing is compiled and the stubs are said not verified."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

import jinja2

from .. import dialects
from ..errors import StubgenError
from .frontend import FEW_KEPT, PROGRAMS, kept_values
from .tools import ToolMissing, _run

PACKAGE = "rustc (https://rustup.rs)"
# Each optimisation level the callers are compiled at (as the C callers' -O2 and -O0).
OPT_LEVELS = ("2", "0")


def rustc() -> str:
    """The rustc on the PATH (STUBGEN_RUSTC overrides), or ToolMissing."""
    exe = shutil.which(os.environ.get("STUBGEN_RUSTC") or "rustc")
    if not exe:
        raise ToolMissing("rustc", PACKAGE)
    return exe


@cache
def version() -> str:
    """`rustc -vV` of the rustc on the PATH (its release, commit and LLVM)."""
    r = _run([rustc(), "-vV"], "rustc -vV", limited=True)
    return " ".join(r.stdout.split())


@cache
def _callers_template():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string((PROGRAMS / "callers.rs.j2").read_text(encoding="utf-8"))


def crate_root(module: Path, wrappers, arch) -> str:
    """The crate root: the minimal core, the module (by path), and each wrapper's callers.
    wrappers: frontend.Wrapper (a Rust path for function, one word per parameter, two for
    each of its wide ones: an i64)."""
    stubs = []
    for w in wrappers:
        own = [f"a{i}" for i in range(w.words)]
        lead = w.number is None and w.number_first  # a generic wrapper: the number first
        params = (["n: isize"] if lead else []) + [f"{a}: {'i64' if i in w.wide else 'isize'}" for i, a in enumerate(own)]
        args = (["n as _"] if lead else []) + [f"{a} as _" for a in own]
        stubs.append({"params": ", ".join(params), "call": f"{w.function}({', '.join(args)})", "returns": w.returns})
    path = str(module.resolve()).replace("\\", "/")
    if '"' in path or "\n" in path:
        raise StubgenError(f"{module}: a path rustc's #[path] cannot take")
    core = (PROGRAMS / "minicore.rs").read_text(encoding="utf-8")
    return core + "\n" + _callers_template().render(module=path, stubs=stubs, kept=kept_values(arch),
                                                kept_few=kept_values(arch)[:FEW_KEPT])


def compile_crate(text: str, target: str, opt: str) -> bytes:
    """The object rustc makes of crate root text for target at -C opt-level=opt."""
    exe = rustc()
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    with tempfile.TemporaryDirectory(prefix="stubgen-rustc-") as tmp:
        src, obj = Path(tmp) / "stubgen_callers.rs", Path(tmp) / "stubgen_callers.o"
        src.write_text(text, encoding="utf-8")
        _run([exe, "--edition", "2021", "--crate-type", "lib", "--crate-name", "stubgen_callers", "--emit=obj",
              "--target", target, "-C", f"opt-level={opt}", "-C", "panic=abort", "-C", "debuginfo=0",
              "-C", "overflow-checks=off", "-C", "debug-assertions=off", "-C", "codegen-units=1",
              "-o", str(obj), str(src)],
             f"rustc ({target} -C opt-level={opt})", limited=True, env=env, cwd=tmp)
        return obj.read_bytes()


def target(dialect_name: str, arch: str, templates: str | None = None) -> str:
    """rustc's target for arch: the dialect's template says it (rust_target)."""
    mod = dialects.dialect(dialect_name, templates).module(arch)
    t = getattr(mod, "rust_target", None)
    if not t:
        # rust_absent: why rustc cannot build for it (no such target), said as not verified
        raise StubgenError(getattr(mod, "rust_absent", None) or f"template {dialect_name}/{arch}: sets no rust_target "
                           "for rustc")
    return str(t)


# What a module may not ask rustc for (issue 27's class 6: the verifier reads only the
# input): another file (a `#[path]` or out-of-line `mod`, `include!`, an assembler's
# .include or .incbin), the environment (`env!`), or a compiler builtin it declares itself.
_REFUSED = re.compile(r"#\s*!?\s*\[\s*(path|rustc_builtin_macro)\b|\bmod\s+[\w#]+\s*;|\b(include(_str|_bytes)?|env|"
                      r"option_env)\s*!|\.(incbin|include)\b|\bextern\s+crate\b")


def confined(text: str, name: str) -> None:
    """Refuse, naming it, what in a module would make rustc read beyond it."""
    # full-line comments only (the file's header names #[path] in its usage line): text
    # after code on a line is read as code, so nothing hides behind a string's "//"
    m = _REFUSED.search(re.sub(r"(?m)^[ \t]*//[^\n]*", "", text))
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise StubgenError(f"{name}:{line}: {m.group(0).strip()!r} is refused before rustc sees the module (it reads "
                           "another file, the environment or a compiler builtin; a module of wrappers needs none)")
