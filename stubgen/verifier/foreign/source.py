"""One foreign file, read: its dialect, its preprocessed and translated text, and its
functions."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ... import dialects
from ...errors import StubgenError
from .preprocess import cpp, detect_dialect, plan9_preprocess
from .translate import Function, gnu_functions, gnu_translate, plan9_translate


@dataclass
class Source:
    path: Path
    dialect: str
    text: str  # preprocessed and translated: what the reader reads
    functions: dict[str, Function]
    notes: list[str] = field(default_factory=list)  # missing headers and the like


def read_source(path: Path, arch, dialect: str | None, includes, defines, templates=None) -> Source:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise StubgenError(f"{path}: {e}") from None
    dialect = dialect or detect_dialect(raw)
    notes: list[str] = []
    if dialect == "plan9":
        text, notes = plan9_preprocess(raw, path, arch.goarch, includes, defines)
        text, funcs = plan9_translate(text)
    else:
        if path.suffix == ".S":
            raw = cpp(path, arch, includes, defines)
        rules = dialects.dialect("gnu", templates).reading_rules(arch.name)
        names = {plan9: c for c, plan9 in arch.registers.items()}
        numbered = rules.get("numbered_register")
        if numbered:  # $10 is t2 (Keystone would take the 10 for a number, perhaps in hex)
            raw = re.sub(numbered, lambda m: "$" + str(names.get(f"R{m.group(1)}", m.group(1))), raw)
        text = gnu_translate(raw, rules.get("line_comment"), rules.get("register_token"))
        funcs = gnu_functions(text)
    return Source(path, dialect, text, funcs, notes)
