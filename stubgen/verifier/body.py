"""A stub's body as the verifier sees it: the lines Keystone assembles, and for each
instruction the source text and the numbers it must carry after encoding."""
from __future__ import annotations

import re
from dataclasses import dataclass, field


def mask(bits: int) -> int:
    return (1 << bits) - 1


@dataclass
class Body:
    lines: list[str]  # Keystone input: instructions and .L labels
    source: list[str]  # one entry per instruction, as written in the file
    numbers: list[set[int]] = field(default_factory=list)  # immediates and offsets per instruction
    frame: tuple[int, int | None] | None = None  # Plan 9 TEXT $frame-argsize (None: not written)
    slots: list[tuple[str, int, int | None]] = field(default_factory=list)  # Go FP slots: name, offset, bytes
    pooled: list[int] = field(default_factory=list)  # constants loaded from a literal pool (ldr rN, =imm)
    where: list[int] = field(default_factory=list)  # per source entry: its line in the text (1-based)
    start: int | None = None  # the line that defines the function (its label, its TEXT)
    data: dict[int, int] = field(default_factory=dict)  # source index -> bytes of data there (Go's BYTE, WORD)


LOCAL_LABEL = re.compile(r"\.L\w+:")  # the only labels Keystone is given


class ReadError(Exception):
    """The file does not hold the stub in a form the verifier can read."""


