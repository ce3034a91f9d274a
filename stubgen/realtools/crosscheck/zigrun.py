"""The Zig dialect's files (-d zig) on the real kernel (callersrun.py's rows): `zig
build-obj` inlines each wrapper into an exported C-ABI caller (realtools/programs/
callers.zig.j2's stubgen_plain_K, as `verify` compiles them)."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from .. import zigfront
from .callersrun import callers_tasks

DIALECT = "zig"


def _object(source: Path, wrappers, arch) -> bytes:
    unit = zigfront.callers_unit(source, wrappers, arch)
    return zigfront.compile_callers(unit, arch, ("-O", "ReleaseFast"))


zig_tasks = partial(callers_tasks, DIALECT, _object)
