"""One foreign file, read: its dialect, its preprocessed and translated text, and its
functions."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import StubgenError
from ...tables import inputs
from .preprocess import detect_dialect, plan9_preprocess
from .translate import Function, plan9_translate


@dataclass
class Source:
    path: Path
    dialect: str
    text: str  # preprocessed and translated: what the reader reads
    functions: dict[str, Function]
    notes: list[str] = field(default_factory=list)  # missing headers and the like


def read_source(path: Path, arch, dialect: str | None, includes, defines, templates=None) -> Source:
    # Bounded before it is read (a 3 GB file once gave a MemoryError traceback).
    raw = inputs.read_text(path, what="assembly file")
    dialect = dialect or detect_dialect(raw)
    if dialect != "plan9":
        raise StubgenError(f"{path}: the Plan 9 reader reads Go assembly; a GNU file is assembled by a real "
                           "assembler (stubgen verify FILE does that)")
    text, notes = plan9_preprocess(raw, path, arch.goarch, includes, defines)
    text, funcs = plan9_translate(text)
    return Source(path, dialect, text, funcs, notes)
