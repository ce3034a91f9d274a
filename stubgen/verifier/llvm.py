"""LLVM's integrated assembler as a verifier backend, from the ziglang wheel (one for
every host, where Keystone has wheels for x86-64 Linux and Windows only, and no
RISC-V or LoongArch at all).

Many bodies go to LLVM at once: one `zig cc -c` makes an object with each body in a
section of its own, one `zig ld.lld` places every such section at the address its body
asks for (overlapping is fine: nothing runs the file) and resolves the symbols, and the
bytes are cut out by symbol from the linked ELF's symbol table (pyelftools). A body that
does not assemble spoils its batch; the batch is then halved until the culprit stands
alone, so its error is its own. Everything runs in child processes: hostile text cannot
crash or hang stubgen (a time limit applies)."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from .assembly import Assembled, AssemblyError, check_keystone_safe, substitute

TIMEOUT = 60  # seconds for one batch
_LOCAL = re.compile(r"(?<![\w.])\.L(\w+)")


@cache
def zig() -> Path | None:
    """The zig binary inside the ziglang package, or None."""
    spec = importlib.util.find_spec("ziglang")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        exe = Path(base) / ("zig.exe" if sys.platform == "win32" else "zig")
        if exe.is_file():
            return exe
    return None


def env() -> dict[str, str]:
    """The environment for zig: its caches go under the user's home, and a run without
    HOME (a pre-commit hook, a service) fails with AppDataDirUnavailable unless told
    where they are."""
    import os

    e = dict(os.environ)
    if not e.get("ZIG_GLOBAL_CACHE_DIR"):
        base = e.get("XDG_CACHE_HOME") or (str(Path(e["HOME"]) / ".cache") if e.get("HOME") else None)
        root = Path(base) if base else _private_temp()
        e["ZIG_GLOBAL_CACHE_DIR"] = str(root / "stubgen" / "zig")
    e.setdefault("ZIG_LOCAL_CACHE_DIR", e["ZIG_GLOBAL_CACHE_DIR"])
    return e


_PRIVATE: list[Path] = []


def _private_temp() -> Path:
    """$TMPDIR/stubgen-<uid>, made by this user, owned by this user and closed to others;
    where another user made it first (or made it a link), a fresh directory of our own
    instead: zig's cache must not land where someone else can plant or read objects."""
    import os
    import stat

    if _PRIVATE:
        return _PRIVATE[0]
    path = Path(tempfile.gettempdir()) / f"stubgen-{os.getuid()}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        path = Path(tempfile.mkdtemp(prefix=f"stubgen-{os.getuid()}-"))
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        path = Path(tempfile.mkdtemp(prefix=f"stubgen-{os.getuid()}-"))
    _PRIVATE.append(path)
    return path


def available() -> bool:
    return zig() is not None and importlib.util.find_spec("elftools") is not None


def version() -> str:
    exe = zig()
    if exe is None:
        return "missing"
    r = subprocess.run([str(exe), "ld.lld", "--version"], capture_output=True, text=True, timeout=TIMEOUT,
                       env=env())
    return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else "unknown"


Job = tuple  # (lines, address, symbols)


def _key(lines, address, symbols) -> tuple:
    return tuple(lines), address, tuple(sorted((symbols or {}).items()))


class LlvmAssembler:
    """One per (architecture, syntax); keeps every body it assembled, keyed by its text."""

    name = "LLVM"
    batched = True  # a child process per call: give it many bodies at once

    def __init__(self, engine: dict, syntax: str | None = None):
        if not available():
            raise AssemblyError("LLVM's assembler is not installed: pip install 'stubgen[llvm]'")
        self.triple = engine["triple"]
        self.preamble = list(engine.get("preamble", ()))
        self.preamble += list(engine.get("syntax", {}).get(syntax or "default", ()))
        self.epilogue = list(engine.get("epilogue", ()))
        self._done: dict = {}  # key -> bytes or an AssemblyError message

    def assemble(self, lines: list[str], address: int, symbols: dict[str, int] | None = None) -> Assembled:
        key = _key(lines, address, symbols)
        if key not in self._done:
            self.prefetch([(lines, address, symbols)])
        found = self._done[key]
        if isinstance(found, str):
            raise AssemblyError(found)
        return Assembled(found)

    def prefetch(self, jobs) -> None:
        todo, seen = [], set()
        for lines, address, symbols in jobs:
            key = _key(lines, address, symbols)
            if key in self._done or key in seen:
                continue
            seen.add(key)
            try:
                check_keystone_safe(substitute(list(lines), symbols, lambda _, a: f"{a:#x}"))
            except AssemblyError as e:
                self._done[key] = str(e)
                continue
            todo.append((key, list(lines), address, dict(symbols or {})))
        if todo:
            self._settle(todo)

    def _settle(self, todo):
        try:
            out = self._batch(todo)
        except AssemblyError as e:
            if len(todo) == 1:
                self._done[todo[0][0]] = str(e)
                return
            half = len(todo) // 2
            self._settle(todo[:half])
            self._settle(todo[half:])
            return
        for (key, *_), code in zip(todo, out):
            self._done[key] = code

    def _source(self, todo) -> tuple[str, dict[str, int]]:
        names: dict[str, str] = {}
        defs: dict[str, int] = {}

        def symbol(name, addr):
            if name not in names:
                names[name] = f"stubgen_sym{len(names)}"
                defs[names[name]] = addr
            return names[name]

        text = [*self.preamble]
        for i, (_, lines, address, symbols) in enumerate(todo):
            # A symbol at the body's own address is its start label: in the same section,
            # so a difference with it (ppc64le's .TOC.-f@ha) is PC-relative, which LLVM
            # can encode; two symbols defined only at link time cannot be subtracted.
            body = [_LOCAL.sub(rf".Lj{i}_\1", ln) for ln in substitute(
                lines, symbols, lambda name, addr, i=i, address=address:
                f"stubgen_s{i}" if addr == address else symbol(name, addr))]
            text += [f'.section stubgen_j{i},"ax",%progbits', f".globl stubgen_s{i}", f"stubgen_s{i}:",
                     *body, *self.epilogue, f"stubgen_e{i}:", f".size stubgen_s{i}, stubgen_e{i} - stubgen_s{i}"]
        return "\n".join(text) + "\n", defs

    def _batch(self, todo) -> list[bytes]:
        from elftools.elf.elffile import ELFFile
        from elftools.elf.sections import SymbolTableSection

        source, defs = self._source(todo)
        exe = str(zig())
        with tempfile.TemporaryDirectory(prefix="stubgen-llvm-") as tmp:
            src, obj, elf = Path(tmp) / "stubs.s", Path(tmp) / "stubs.o", Path(tmp) / "stubs.elf"
            src.write_text(source, encoding="ascii")
            _run([exe, "cc", "-c", "-target", self.triple, "-o", str(obj), str(src)], "LLVM", src)
            # Every body at the address it asks for (they overlap), each loaded from an
            # address of its own (AT), so no body's bytes overwrite another's in the file.
            script = Path(tmp) / "stubs.ld"
            script.write_text("SECTIONS {\n" + "".join(
                f"  stubgen_j{i} {address:#x} : AT({(i + 1) << 24:#x}) {{ *(stubgen_j{i}) }}\n"
                for i, (_, _, address, _) in enumerate(todo)) + "}\n", encoding="ascii")
            link = [exe, "ld.lld", "--no-check-sections", "-e", "stubgen_s0", "-T", str(script), "-o", str(elf),
                    str(obj), *(f"--defsym={n}={a:#x}" for n, a in defs.items())]
            _run(link, "LLVM's linker", src)
            with open(elf, "rb") as f:
                e = ELFFile(f)
                symtab = e.get_section_by_name(".symtab")
                if not isinstance(symtab, SymbolTableSection):
                    raise AssemblyError("LLVM's linker wrote no symbol table")
                out = []
                for i in range(len(todo)):
                    sec = e.get_section_by_name(f"stubgen_j{i}")
                    found = symtab.get_symbol_by_name(f"stubgen_s{i}")
                    if sec is None or not found:
                        raise AssemblyError(f"LLVM's output has no stubgen_s{i} in its own section")
                    sym = found[0]
                    start = sym["st_value"] - sec["sh_addr"]
                    code = sec.data()[start:start + sym["st_size"]]
                    if not code:
                        raise AssemblyError("LLVM returned no code")
                    out.append(bytes(code))
        return out


def _run(cmd, what: str, src: Path):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env())
    except subprocess.TimeoutExpired:
        raise AssemblyError(f"{what} did not finish within {TIMEOUT} s") from None
    if r.returncode != 0:
        first = next((ln for ln in (r.stderr or r.stdout).splitlines() if "error" in ln),
                     (r.stderr or r.stdout).strip()[:300])
        raise AssemblyError(f"{what}: {first.replace(str(src), 'line').strip()}")
