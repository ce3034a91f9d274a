"""The Rust dialect's modules (-d rust) on the real kernel (callersrun.py's rows): rustc
compiles a `#![no_core]` crate of the module and exported C-ABI callers of its wrappers
(realtools/programs/callers.rs.j2's stubgen_plain_K, as `verify` compiles them) to an
object for the template's target (rust_target) at -C opt-level=2, and the program is
linked by zig cc where the template says rustc's target has another C ABI (rust_link). The module is refused,
as `verify` refuses it, where it would make rustc read another file."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from ... import dialects
from ...tables import inputs
from .. import rustc
from .callersrun import callers_tasks, zig_link

DIALECT = "rust"


def _object(source: Path, wrappers, arch) -> bytes:
    rustc.rustc()  # missing: a skip naming what to install, before anything else is read
    rustc.confined(inputs.read_text(source, what="Rust module"), source.name)
    return rustc.compile_crate(rustc.crate_root(source, wrappers, arch), rustc.target(DIALECT, arch.name),
                               rustc.OPT_LEVELS[0])


def _link(arch) -> str | None:
    """The zig cc target whose C library has the ABI of rustc's objects for the template's
    rust_target, where the template names one (rust_link: a target rustc has only with
    another float ABI than the tables' C compiler), else the tables' zig_link."""
    return getattr(dialects.dialect(DIALECT).module(arch.name), "rust_link", None) or zig_link(arch)


rust_tasks = partial(callers_tasks, DIALECT, _object, linker=_link)
