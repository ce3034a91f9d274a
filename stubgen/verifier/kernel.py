"""The verifier's own statement of the Linux syscall ABI (linux_abi.yaml), kept apart
from the tables the generator reads."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ..errors import StubgenError


@dataclass(frozen=True)
class LinuxABI:
    trap: dict
    number: str
    number_bits: int
    args: tuple[str, ...]
    result: str
    ret: str
    error_range: tuple[int, int]
    cpu_clobbers: dict
    forbidden: tuple[str, ...]
    crash_interrupts: tuple[int, ...]
    vdso: dict | None
    pair_align: int = 1

    def placement(self, args, word: int, endian: str):
        """Where the kernel reads each argument: (argument index, register index, value,
        bits) per register, for (value, size[, bits]) arguments in order; bits, where
        given, is what the kernel reads of a one-register argument (16 of a umode_t
        passed as 32). A wider-than-word argument is split in memory order and starts at
        an index divisible by pair_align. Raises ValueError when the registers run out."""
        out, nxt = [], 0
        for i, (value, size, *narrow) in enumerate(args):
            n = max(1, size // word)
            if n > 1:
                nxt += -nxt % self.pair_align
            raw = value.to_bytes(size, endian)
            for j in range(n):
                if nxt >= len(self.args):
                    raise ValueError(f"argument {i + 1} does not fit in the kernel's {len(self.args)} registers")
                chunk = raw[j * word:(j + 1) * word] if n > 1 else raw
                bits = narrow[0] if narrow and n == 1 else 8 * len(chunk)
                out.append((i, nxt, int.from_bytes(chunk, endian) & ((1 << bits) - 1), bits))
                nxt += 1
        return out


@lru_cache(maxsize=1)
def _all() -> dict:
    return yaml.safe_load((Path(__file__).parent / "linux_abi.yaml").read_text(encoding="utf-8"))


def linux_abi(arch_name: str) -> LinuxABI:
    d = _all().get(arch_name)
    if d is None:
        raise StubgenError(f"the verifier has no statement of the Linux ABI for {arch_name!r} "
                           f"(stubgen/verifier/linux_abi.yaml knows {', '.join(sorted(_all()))})")
    return LinuxABI(trap=d["trap"], number=d["number"], number_bits=d["number_bits"], args=tuple(d["args"]),
                    result=d["result"], ret=d["return"], error_range=tuple(d["error_range"]), cpu_clobbers=d.get("cpu_clobbers", {}), forbidden=tuple(d["forbidden"]),
                    crash_interrupts=tuple(d["crash_interrupts"]), vdso=d.get("vdso"),
                    pair_align=d.get("pair_align", 1))


def known_arches() -> list[str]:
    return sorted(_all())
