"""The Rust dialect's modules (-d rust) on the real kernel (callersrun.py's rows): rustc
compiles a `#![no_core]` crate of the module and exported C-ABI callers of its wrappers
(realtools/programs/callers.rs.j2's stubgen_plain_K, as `verify` compiles them) to an
object for the template's target (rust_target) at -C opt-level=2. The module is refused,
as `verify` refuses it, where it would make rustc read another file."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from ...pipeline import verify_rust
from ...tables import inputs
from .. import rustc
from .callersrun import callers_tasks

DIALECT = "rust"


def _object(source: Path, wrappers, arch) -> bytes:
    rustc.rustc()  # missing: a skip naming what to install, before anything else is read
    verify_rust.confined(inputs.read_text(source, what="Rust module"), source.name)
    return rustc.compile_crate(rustc.crate_root(source, wrappers, arch), verify_rust.target(DIALECT, arch.name),
                               rustc.OPT_LEVELS[0])


rust_tasks = partial(callers_tasks, DIALECT, _object)
