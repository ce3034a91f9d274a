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
                    crash_interrupts=tuple(d["crash_interrupts"]), vdso=d.get("vdso"))


def known_arches() -> list[str]:
    return sorted(_all())
