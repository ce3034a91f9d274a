"""The Zig dialect's front end: callers of a .zig file's wrappers (programs/callers.zig.j2)
compiled by `zig build-obj` for the target, so the verifier reads machine code, as the
C dialect's callers (frontend.callers_unit, compile_callers) are. The compiler runs as
an isolated child with the real tools' limits (frontend._run); the file is copied
beside the callers first, as Zig imports only files inside the root module's directory."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import StubgenError
from ..verifier import llvm
from .frontend import LLVM_PACKAGE, PROGRAMS, _run, kept_values
from .tools import ToolMissing

# Zig's build modes the callers are compiled in: for speed and for size (the wrappers are
# `inline fn`, inlined in both; the callers turn runtime safety off, so no panic path).
# Not Debug: its objects copy the callers' arguments with memcpy and fill undefined
# values with memset, functions the object does not define, so no caller would be verified.
MODES = (("-O", "ReleaseFast"), ("-O", "ReleaseSmall"))
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE = "stubgen_wrappers.zig"
# What a file of syscall wrappers needs from outside itself: Zig's std and builtin. A
# builtin that reads another file (@embedFile, @import of a path) or runs the C
# preprocessor over headers (@cImport) is refused before the compiler sees the file,
# wherever it appears (even in a comment or a string).
_READS = re.compile(r'@(?:cImport|cInclude|embedFile)\b|@import\s*\(\s*(?!"(?:std|builtin)"\s*\))')


@dataclass(frozen=True)
class Unit:
    """The callers' source, and the .zig file whose wrappers it calls."""

    text: str
    source: Path


@cache
def _template():
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string((PROGRAMS / "callers.zig.j2").read_text(encoding="utf-8"))


def callers_unit(source: Path, wrappers, arch, wide=None) -> Unit:
    """The Zig unit that calls each wrapper (frontend.Wrapper) of source, plainly and with
    registers kept. A wrapper takes the words its parameters are filled from; wide: {index
    of a wrapper: indexes of its own arguments passed whole as 64-bit values} (a 64-bit
    offset on a 32-bit target: the crosscheck's programs call stubgen_plain_K from C)."""
    stubs = []
    for k, w in enumerate(wrappers):
        if not _IDENT.match(w.function):
            raise StubgenError(f"--stub {w.function}: a wrapper is a Zig identifier (a pub fn of the file)")
        own = [f"a{i}" for i in range(w.words)]
        params, args = list(own), list(own)
        if w.number_first:  # the wrapper takes the number first (a generic syscallN; musl's __syscall3)
            params = ([] if w.number is not None else ["n"]) + own
            args = [str(w.number) if w.number is not None else "n"] + own
        whole = {f"a{i}" for i in (*(wide or {}).get(k, ()), *w.wide)}
        stubs.append({"function": w.function, "params": ", ".join(f"{a}: {'i64' if a in whole else 'isize'}"
                                                                   for a in params),
                      "args": "".join(f"{a}, " for a in args)})
    return Unit(_template().render(source=source.name, module=_MODULE, stubs=stubs, kept=kept_values(arch)), source)


def variants(arch) -> list[tuple[str, ...]]:
    """Every way the callers are compiled: each of Zig's build modes."""
    return [m for m in MODES]


def note(arch) -> str:
    return (f"callers compiled by zig build-obj for {arch.engines.cc['target']}: "
            + ", ".join(" ".join(m) for m in MODES))


def compile_callers(unit: Unit, arch, flags: tuple[str, ...], *_ignored) -> bytes:
    """An object of the callers unit, compiled by zig build-obj for arch's target."""
    exe = llvm.zig()
    if exe is None:
        raise ToolMissing("the Zig compiler (zig build-obj)", LLVM_PACKAGE)
    cc = arch.engines.cc
    if not cc:
        raise StubgenError(f"{arch.name}: the tables name no target (engines.cc) to compile Zig for")
    from ..tables import inputs

    text = inputs.read_text(unit.source, what="Zig file")
    m = _READS.search(text)
    if m:
        raise StubgenError(f"{unit.source.name}: {m.group(0).strip()}... is refused before the compiler sees it (a "
                           "file of syscall wrappers imports only \"std\" and \"builtin\", and reads no other file)")
    with tempfile.TemporaryDirectory(prefix="stubgen-zig-") as tmp:
        src, obj = Path(tmp) / "stubgen_callers.zig", Path(tmp) / "stubgen_callers.o"
        src.write_text(unit.text, encoding="utf-8")
        (Path(tmp) / _MODULE).write_text(text, encoding="utf-8")  # the text checked, not the file again
        _run([str(exe), "build-obj", "-target", cc["target"], *flags, "-fno-stack-check", "-fno-stack-protector",
              "-fsingle-threaded", "-fno-emit-h", "-fno-emit-asm", "-femit-bin=" + str(obj), str(src)],
             f"zig build-obj ({cc['target']} {' '.join(flags)})", Path(tmp) / _MODULE, unit.source.name,
             cwd=tmp)
        return obj.read_bytes()
