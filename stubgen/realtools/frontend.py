"""Real front ends for what `stubgen verify FILE` is given as text: a GNU .S or .s file
becomes an object as its own build would make it, so the verifier reads machine code
(ELF) and never parses assembly by hand.

- Preprocessing: the real compiler for the target (LLVM's `zig cc -target <t> -E`, the
  tables' engines.cc), so the predefined macros are the target's (__mips__, _MIPS_SIM,
  __ARM_EABI__, _CALL_ELF...) and the target's own headers are found, plus the user's
  -I, -D and -include.
- The directive allowlist: what is assembled is checked first, on the preprocessed
  text: every directive must be one a syscall stub file needs (check_foreign); none
  that reads a file (.include, .incbin) or repeats without bound (.rept, .irp, .fill).
- Assembling: GNU as where the tables name it (gnu_triple) and it is installed, else
  LLVM (`zig cc -c`); either runs in a child with time, CPU and output-size limits.
"""
from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .. import dialects
from ..errors import StubgenError
from ..tables import inputs
from ..verifier import llvm
from .tools import (
    GNU_DIRECTIVES,
    TOOL_SECONDS,
    ToolFailed,
    ToolMissing,
    _limits,
    gnu_directives,
    gnu_line_comment,
    gnu_tool,
)

LLVM_PACKAGE = "LLVM's C driver from the ziglang wheel (pip install 'stubgen[llvm]')"

# Beyond a generated stub file's directives: what real syscall files use (glibc's
# ENTRY macros, dietlibc's FUNC_START, MIPS's .cpload and .ent, ARM's unwind tables,
# data for a literal or an errno cell, conditionals). Still refused: reading a file
# (.include, .incbin) and unbounded repetition (.rept, .irp, .irpc, .fill).
FOREIGN_DIRECTIVES = frozenset([
    "macro", "endm", "purgem", "exitm", "set", "equ", "equiv", "eqv", "data", "bss", "rodata", "previous",
    "pushsection", "popsection", "subsection", "local", "comm", "lcomm", "long", "word", "quad", "short", "hword",
    "byte", "int", "2byte", "4byte", "8byte", "dc", "ascii", "asciz", "string", "space", "skip", "zero",
    "if", "ifdef", "ifndef", "ifc", "ifnc", "ifeq", "ifne", "ifb", "ifnb", "ifeqs", "ifnes", "ifgt", "ifge", "iflt",
    "ifle", "else", "elseif", "endif", "loc", "file", "addrsig", "addrsig_sym", "sleb128", "uleb128", "reloc",
    "symver", "weakref", "nops", "noaltmacro", "altmacro", "type", "size", "hidden", "protected", "internal",
    "globl", "global", "weak", "section", "text", "ident", "p2align", "balign", "balignw", "balignl", "align",
    "p2alignw", "p2alignl", "tls_common", "cfi_startproc", "cfi_endproc", "error", "warning", "print",
    "end_of_file",
]) | GNU_DIRECTIVES
_CFI_IN = re.compile(r"\.(cfi_\w+)")
_SPACE_MAX = 1 << 16


def check_foreign(text: str, name: str, arch) -> None:
    """Refuse, naming it, a directive no syscall stub file needs (one that reads a file
    or repeats without bound); space and alignment are bounded. Statements as GNU as
    splits them (gaslex.py), so no directive hides in a string or behind a comment."""
    from .gaslex import directive_problems

    allowed = FOREIGN_DIRECTIVES | gnu_directives(arch) | foreign_directives(arch)

    def bounds(directive: str, arg: str) -> str | None:
        if directive in (".space", ".skip", ".zero") and arg.isdigit() and int(arg) > _SPACE_MAX:
            return f"{arg}: more than {_SPACE_MAX} bytes refused"
        if directive in (".space", ".skip", ".zero") and arg and not arg.isdigit():
            return f"{arg}: a size that is not a number is refused"
        if directive in (".p2align", ".balign", ".align") and arg and (not arg.isdigit() or int(arg) > 4096):
            return f"{arg}: alignment above 4096 refused"
        return None

    problems = directive_problems(text, name, allowed | _cfi_names(text), gnu_line_comment(arch), bounds)
    if problems:
        raise ToolFailed(f"{problems[0]} is refused before an assembler sees it (a syscall file needs symbol, section, "
                         "data, macro, CFI and unwind directives; none that reads a file or repeats without bound)")


def _cfi_names(text: str) -> frozenset[str]:
    """Every .cfi_* directive the text names: CFI directives only describe unwinding."""
    return frozenset(m.group(1) for m in _CFI_IN.finditer(text))


def foreign_directives(arch) -> frozenset[str]:
    """The directives real files of arch use beyond the common ones (the GNU reading
    rules' foreign_directives: ARM's unwind tables, MIPS's .cpload)."""
    try:
        rules = dialects.dialect("gnu").reading_rules(arch.name)
    except StubgenError:
        return frozenset()
    return frozenset(rules.get("foreign_directives", ()))


def _cc(arch, defaults=()) -> list[str]:
    """zig cc for arch's target: defaults, then the tables' flags (which may override them)."""
    cc = arch.engines.cc
    if not cc:
        raise StubgenError(f"{arch.name}: the tables name no C driver (engines.cc) to preprocess and assemble with")
    exe = llvm.zig()
    if exe is None:
        raise ToolMissing("LLVM's C driver (zig cc)", LLVM_PACKAGE)
    return [str(exe), "cc", "-target", cc["target"], *defaults, *cc.get("flags", ())]


def _run(cmd, what: str, src: Path | None = None, name: str = "", **kw) -> subprocess.CompletedProcess:
    """cmd under the real tools' limits; its first error line (the temporary copy src
    named name) on failure."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_SECONDS, preexec_fn=_limits,
                           env=llvm.env(), **kw)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{what} did not finish within {TOOL_SECONDS} s") from None
    if r.returncode != 0:
        said = r.stderr or r.stdout
        if src is not None:
            said = said.replace(str(src), name)
        lines = [ln for ln in said.splitlines() if "error" in ln.lower()]
        raise ToolFailed(f"{what} failed: {(lines[0] if lines else said[:300]).strip()}")
    return r


def preprocess(path: Path, arch, includes=(), defines=(), force_includes=()) -> str:
    """path as the target's compiler preprocesses assembler-with-cpp: its predefines,
    its headers, then the user's -I, -D and -include."""
    cc = _cc(arch)
    # Confinement (class 6 of issue 27): what the file includes is walked first, and
    # what the preprocessor says it read is checked before its output is used.
    from .includes import check_dependencies, dependencies, walk

    walk(path, includes, force_includes)
    args = [*cc, "-E", "-P", "-x", "assembler-with-cpp"]
    args += [f"-I{d}" for d in includes] + [f"-D{d}" for d in defines]
    for f in force_includes:
        args += ["-include", str(f)]
    with tempfile.TemporaryDirectory(prefix="stubgen-pp-") as tmp:
        deps = Path(tmp) / "deps"
        try:
            r = _run([*args, "-MD", "-MT", "x", "-MF", str(deps), str(path)],
                     f"the preprocessor ({arch.engines.cc['target']}) on {path.name}")
        except ToolFailed as e:
            raise ToolFailed(f"{e} (pass header directories with -I, a header read first with -include)") from None
        # The toolchain's own headers (zig's lib/) are the one place outside the user's.
        check_dependencies(dependencies(inputs.read_text(deps, what="dependency list")), path, includes,
                           force_includes, [Path(cc[0]).parent])
    return r.stdout


def assembler(arch, prefer: str | None = None) -> str:
    """Which assembler an object is made with: "GNU as" where the tables name it and it
    is installed (or prefer says so), else "LLVM"."""
    if prefer == "llvm":
        return "LLVM"
    try:
        gnu_tool(arch, "as")
        return "GNU as"
    except ToolMissing:
        if prefer == "gnu":
            raise
        return "LLVM"


def assemble_text(text: str, name: str, arch, prefer: str | None = None) -> tuple[bytes, str]:
    """(object bytes, the assembler's name) for GNU-syntax text that has passed check_foreign."""
    check_foreign(text, name, arch)
    which = assembler(arch, prefer)
    with tempfile.TemporaryDirectory(prefix="stubgen-fe-") as tmp:
        src, obj = Path(tmp) / "input.s", Path(tmp) / "input.o"
        src.write_text(text, encoding="utf-8")
        if which == "GNU as":
            asm = gnu_tool(arch, "as")
            _run([asm, "-o", str(obj), str(src)], f"{Path(asm).name} {name}", src, name)
        else:
            _run([*_cc(arch), "-c", "-x", "assembler", "-o", str(obj), str(src)],
                 f"LLVM's assembler ({arch.engines.cc['target']}) {name}", src, name)
        return obj.read_bytes(), which


def assemble_file(path: Path, arch, includes=(), defines=(), force_includes=(),
                  prefer: str | None = None) -> tuple[bytes, str]:
    """A .S file preprocessed for the target and assembled, or a .s file assembled as it is."""
    if path.suffix == ".S":
        text = preprocess(path, arch, includes, defines, force_includes)
    else:
        text = inputs.read_text(path, what="assembly file")
    return assemble_text(text, path.name, arch, prefer)


# --- inline assembly: callers of a header's wrappers, compiled -----------------------

PROGRAMS = Path(__file__).parent / "programs"
OPT_LEVELS = ("-O2", "-O0")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Wrapper:
    """One --stub FUNCTION=SYSCALL of a header: the wrapper, the syscall's number (None:
    a generic wrapper, whose caller passes it) and how many argument words it takes."""

    function: str
    number: int | None
    words: int
    number_first: bool = True  # the wrapper takes the number before the arguments (musl, nolibc)
    returns: bool = True  # False: a void wrapper (a policy that returns nothing), called as a statement
    # Its error path calls a function (errno's __errno_location): the values the kept
    # caller holds must survive that call, so it holds none where the kernel's clobbers
    # are; a third caller (callers.c.j2's stubgen_ok_K) checks a few on success only.
    error_call: bool = False
    # Parameters twice a word wide (a contract's parameter passed as a 64-bit argument on
    # a 32-bit architecture): the callers take and pass them as long long, so the
    # compiler splits them as the C ABI does (only where number_first is False).
    wide: tuple[int, ...] = ()


# Values of the callers checked on success only (callers.c.j2's stubgen_ok_K): few enough
# that the allocator keeps each in a register rather than in memory (with every register
# taken, as in stubgen_kept_K, it spills them).
FEW_KEPT = 8


def kept_values(arch) -> list[str]:
    """Distinct values (C literals that fit a long) for the kept-register callers: one
    per register the architecture has, so the allocator has to use every one it may."""
    n = min(len(arch.registers), 30)
    return [f"{0x2A5C0000 + i * 0x10203:#x}" for i in range(n)]


@cache
def _template():
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    return env.from_string((PROGRAMS / "callers.c.j2").read_text(encoding="utf-8"))


def callers_unit(header: Path, wrappers: list[Wrapper], arch) -> str:
    """The C unit that calls each wrapper of header, plainly and with registers kept."""
    stubs = []
    for w in wrappers:
        if not _IDENT.match(w.function):
            raise StubgenError(f"--stub {w.function}: a wrapper is a C identifier (a function or a macro)")
        own = [f"a{i}" for i in range(w.words)]
        if not w.number_first:  # the wrapper takes the arguments a contract names (LSS's sys_close(fd))
            params, args = [f"long{' long' if i in w.wide else ''} {a}" for i, a in enumerate(own)], own
        else:
            params = ([] if w.number is not None else ["long n"]) + [f"long {a}" for a in own]
            args = [str(w.number) if w.number is not None else "n"] + own
        stubs.append({"params": ", ".join(params) or "void", "call": f"{w.function}({', '.join(args)})",
                      "returns": w.returns, "ok": w.returns and w.error_call})
    return _template().render(header=str(header.resolve()).replace("\\", "/").replace('"', ""),
                              stubs=stubs, kept=kept_values(arch), kept_few=kept_values(arch)[:FEW_KEPT])


def variants(arch) -> list[tuple[str, ...]]:
    """Every way the callers are compiled: each optimisation level, plainly and with
    each of the tables' flag variants (arm: -mthumb, where r7 is the frame pointer)."""
    extra = [tuple(v) for v in (arch.engines.cc or {}).get("variants", ())]
    return [(opt, *v) for opt in OPT_LEVELS for v in [(), *extra]]


def compile_callers(text: str, arch, flags: tuple[str, ...], includes=(), defines=(),
                    force_includes=()) -> bytes:
    """An object of the callers unit, compiled by the target's compiler with flags."""
    # A wrapper that takes pointers gets the callers' words: not an error here (LSS's sys_read(int, void *, size_t))
    # -fno-pic keeps the callers free of GOT loads where the target allows (the tables'
    # cc.flags come after it: ppc64's ELF V1 has only position-independent code)
    args = [*_cc(arch, ("-fno-pic",)), "-c", "-x", "c", "-std=gnu11", "-fno-stack-protector", "-Wno-int-conversion",
            *flags]
    # after every other directory: <errno.h> where the target has no C library headers
    args += ["-idirafter", str(PROGRAMS / "fallback")]
    args += [f"-I{d}" for d in includes] + [f"-D{d}" for d in defines]
    for f in force_includes:
        args += ["-include", str(f)]
    with tempfile.TemporaryDirectory(prefix="stubgen-cc-") as tmp:
        src, obj = Path(tmp) / "stubgen_callers.c", Path(tmp) / "stubgen_callers.o"
        src.write_text(text, encoding="utf-8")
        _run([*args, "-o", str(obj), str(src)], f"the C compiler ({arch.engines.cc['target']} {' '.join(flags)})",
             src, "the callers' unit")
        return obj.read_bytes()
