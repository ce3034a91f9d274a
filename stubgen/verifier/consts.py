"""An engine's arch or mode as the tables write it: one constant's name, or a list
of names or-ed together (KS_MODE_MIPS32 | KS_MODE_BIG_ENDIAN)."""
from __future__ import annotations


def flags(module, names) -> int:
    if isinstance(names, str):
        return getattr(module, names)
    value = 0
    for n in names:
        value |= getattr(module, n)
    return value


def key(names) -> str:
    """A hashable spelling of names, for caches."""
    return names if isinstance(names, str) else "|".join(names)
