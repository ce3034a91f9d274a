"""A real assembler's bytes for the stubs of a text (go tool asm, GNU as), as the
verifier's References: the verifier holds its own bytes against them, and runs them too."""
from __future__ import annotations

from .. import dialects
from ..verifier.reference import Reference
from ..verifier.spec import Spec
from . import tools


def go_references(text: str, arch, flags=()) -> dict[str, Reference]:
    return {name: Reference("go tool asm", s.code, s.relocations, pads=True)
            for name, s in tools.go_asm(text, arch, flags=flags).items() if s.kind == "STEXT"}


def gnu_references(text: str, arch, exact: bool, linker_filled=()) -> dict[str, Reference]:
    # The object's relocation sites (MIPS: the lui/addiu pair that loads the errno
    # handler's address) hold placeholders; they are compared like Go's.
    return {name: Reference("GNU as", code, relocs, exact, emulate=False, linker_filled=tuple(linker_filled))
            for name, (code, relocs) in tools.gnu_asm_code(text, arch).items()}


def references(verifier, text: str, spec: Spec, cache: dict, notes: set):
    """The real assembler's Reference for spec's symbol; None where the tool is
    missing or the dialect names none; a string where the real assembler failed."""
    dialect = dialects.dialect(spec.dialect, verifier.templates)
    kind = dialect.verify.get("reference")
    if not kind:
        return None
    arch = verifier.tables.arch(spec.arch)
    key = (kind, arch.name, text)
    if key not in cache:
        try:
            rules = dialect.reading_rules(arch.name)
            if kind == "go":
                cache[key] = go_references(text, arch, rules.get("go_asm_flags", ()))
            else:
                exact = rules.get("real_assembler", "bytes") == "bytes"
                cache[key] = gnu_references(text, arch, exact, rules.get("linker_filled", ()))
        except tools.ToolMissing as e:
            notes.add(str(e))
            cache[key] = None
        except tools.ToolFailed as e:
            cache[key] = str(e)
    found = cache[key]
    if isinstance(found, dict):
        return found.get(spec.symbol, f"the real assembler made no symbol {spec.symbol}")
    return found
