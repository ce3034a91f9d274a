"""The stubs of a dialect whose files are Rust modules of inline assembly (dialect.yaml
`verify: {reader: rust_module}`, templates/rust): each module compiled by rustc for its
target inside a `#![no_core]` crate (realtools/rustc.py) with callers of its wrappers
(plain callers, and callers that keep live values in every register across the call),
at each optimisation level, and the callers verified as machine code, through the same
foreign-object path as a C header's callers (verify_files). Without rustc, or where it
refuses the module, the stubs are said not verified, never passed."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import StubgenError
from ..realtools import rustc
from ..realtools.rustc import confined, target
from ..realtools.tools import ToolFailed, ToolMissing
from ..tables import inputs, policies
from ..verifier import Verifier
from .verify_files import _CALLERS, _machine_code, header_wrappers

READER = "rust_module"
__all__ = ["READER", "check_module", "compiler_identity", "confined", "memory_problems", "target"]


def compiler_identity() -> str:
    """Which rustc verifies (for the verdict cache's key): its own `rustc -vV` (a rustup
    proxy stays the same file when the toolchain changes), or that it is missing."""
    try:
        return f"rustc {rustc.version()}"
    except ToolMissing as e:
        return f"rustc missing: {e}"


def check_module(path: Path, arch_name: str, stubs, target_triple: str, tables: str | None = None,
                 templates: str | None = None, own: bool = True) -> list:
    """Verdicts for the wrappers of a Rust module (stubs: --stub FUNCTION=SYSCALL texts),
    each reported under the wrapper's name; StubgenError where rustc is missing or refuses."""
    verifier = Verifier(tables, templates)
    arch = verifier.tables.arch(arch_name)
    wrappers, choices = header_wrappers(verifier, arch, stubs, own)
    confined(inputs.read_text(path, what="Rust module"), path.name)
    root = rustc.crate_root(path, wrappers, arch)
    out = []
    for opt in rustc.OPT_LEVELS:
        try:
            data = rustc.compile_crate(root, target_triple, opt)
        except ToolFailed as e:
            raise StubgenError(_first_error(str(e), path)) from None
        for v in _machine_code(verifier, path, data, arch, choices, policies.DEFAULT, "rust"):
            if not v.symbol.startswith("stubgen_"):
                continue  # a wrapper rustc left out of line: reached through the callers
            kind, k = v.symbol.split("_")[1], int(v.symbol.rsplit("_", 1)[1])
            v.symbol, v.aliases = wrappers[k].function, []
            v.file = f"{path} (rustc --target {target_triple} -C opt-level={opt}, {_CALLERS[kind]} caller)"
            out.append(v)
    return out


def _first_error(said: str, path: Path) -> str:
    """rustc's first error and where it points, not its whole report."""
    lines = said.splitlines()
    for i, ln in enumerate(lines):
        if "error" in ln and "aborting" not in ln:
            where = next((x.strip() for x in lines[i + 1:i + 3] if "-->" in x), "")
            return f"rustc refused {path.name}: {ln.split(': ', 1)[-1].strip()}" + (f" ({where})" if where else "")
    return f"rustc refused {path.name}: {said[:300]}"


# The verifier's own knowledge (as verify_header's "memory" reading): a syscall may read
# and write memory its arguments point to. rustc assumes an asm! reads and writes any
# memory unless it says nomem (or readonly, which forbids the write); the wrapper's
# asm! statements are read for either.
_ASM = re.compile(r"\basm!\s*\(")
_NO_MEMORY = re.compile(r"\boptions\s*\([^)]*\b(nomem|readonly)\b")


def memory_problems(text: str, symbol: str) -> list[str]:
    m = re.search(r"\bfn\s+" + re.escape(symbol) + r"\s*\(", text)
    if m is None:
        return [f"{symbol}: no definition in the module"]
    end = text.find("\n}", m.end())
    body = text[m.end():end if end >= 0 else len(text)]
    starts = [a.end() for a in _ASM.finditer(body)]
    if not starts:
        return [f"{symbol}: no asm! statement in its body"]
    for s, e in zip(starts, starts[1:] + [len(body)]):
        found = _NO_MEMORY.search(body[s:e])
        if found:
            return [f"{symbol}: its asm! says {found.group(1)}: the kernel reads and writes memory the compiler does "
                    "not see (a buffer read after the call may come from a stale register)"]
    return []
