"""`stubgen list --json`: the tables for other runtimes, in a shape kept stable
(version 1; keys may be added, never renamed). See README, "Machine-readable tables"."""
from __future__ import annotations

from .placement import kernel_parts

VERSION = 1


def _arg(arch, param, parts) -> dict:
    return {"name": param.name, "c_type": param.c_type, "go_type": param.type.go,
            "bytes": param.type.bytes(arch), "signed": param.type.signed,
            "kernel_registers": [p.reg for p in parts], "kernel_bits": param.type.kernel_bits(arch)}


def _syscall(t, arch, name: str) -> dict:
    sig = t.signature(arch, name)
    out: dict = {"number": arch.numbers[name], "args": None, "result": None, "special": None,
                 "typed": t.available(arch, name), "excluded": t.exclusion(arch, name), "source": None,
                 # a number with no entry point in the kernel table: ENOSYS, not a call to type
                 "reserved": name in arch.reserved}
    if sig is None:
        return out
    out.update(args=[_arg(arch, p, parts) for p, parts in zip(sig.args, kernel_parts(arch, sig))],
               result={"c_type": sig.result.c, "go_type": sig.result.go}, special=sig.special,
               source=sig.source or None)
    return out


def document(t) -> dict:
    kernels = sorted({a.provenance.get("kernel") for a in t.arches.values() if a.provenance.get("kernel")})
    return {"version": VERSION, "kernel": kernels[0] if len(kernels) == 1 else (kernels or [None])[-1],
            "arches": {a.name: {"kernel": a.provenance.get("kernel"),
                                "syscalls": {n: _syscall(t, a, n) for n in a.numbers}}
                       for a in t.arches.values()}}
