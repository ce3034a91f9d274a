"""rustc for the Rust dialect's modules (templates/rust): a `#![no_core]` crate root (our
own minimal core, programs/minicore.rs) that includes a generated module and callers of
its wrappers, compiled to an object for the module's target. Only the host's standard
library need be installed: no_core needs none, so every target rustc knows can be
compiled for. RUSTC_BOOTSTRAP lets the stable rustc take the crate's internal features
(lang items, the builtin asm! macro). rustc runs as a child with the real tools' limits;
without rustc on the PATH nothing is compiled and the stubs are said not verified."""
from __future__ import annotations

import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import jinja2

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
