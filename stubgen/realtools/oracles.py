"""Which oracles exist for an architecture, for `list --coverage` and reports: each
one is available (installed), missing (the tables allow it, install it), or absent
(nothing of the kind exists for the architecture). From table facts and what is
installed; nothing is run."""
from __future__ import annotations

import importlib.util
import shutil

from ..verifier.assembler import backends
from . import tools as realtools

AVAILABLE, MISSING, ABSENT = "available", "missing", "absent"
ORACLES = ("Keystone", "LLVM", "Capstone", "Unicorn", "QEMU", "go asm", "GNU as", "real kernel")


def absent_why(arch, name: str) -> str:
    """Why oracle name does not exist for arch, from the tables' engines.absent (GNU as:
    c_toolchain.gnu_absent)."""
    if name == "GNU as" and arch.c_toolchain.get("gnu_absent") and not arch.c_toolchain.get("gnu_binutils"):
        return arch.c_toolchain["gnu_absent"]
    if name == "go asm" and arch.no_go_port:
        return arch.no_go_port
    return arch.engines.absent.get(name.lower(), f"none exists for {arch.name}")


def oracles(arch) -> dict[str, str]:
    """{oracle: available | missing | absent} for an Arch of the tables."""
    found = backends(arch)
    out = {name: (AVAILABLE if found[name] else MISSING) if name in found else ABSENT for name in ("Keystone", "LLVM")}
    for name, module in (("Capstone", "capstone"), ("Unicorn", "unicorn")):
        if getattr(arch.engines, module) is None:
            out[name] = ABSENT
        else:
            out[name] = AVAILABLE if importlib.util.find_spec(module) else MISSING
    # QEMU (qemu-user through its gdbstub) runs what Unicorn cannot, where the tables name it.
    if arch.engines.qemu is None:
        out["QEMU"] = ABSENT
    else:
        out["QEMU"] = AVAILABLE if arch.qemu_user and shutil.which(arch.qemu_user) else MISSING
    out["go asm"] = ABSENT if arch.no_go_port else AVAILABLE if shutil.which("go") else MISSING
    try:
        realtools.gnu_tool(arch, "as")
        out["GNU as"] = AVAILABLE
    except realtools.ToolAbsent:
        out["GNU as"] = ABSENT
    except realtools.ToolMissing:
        out["GNU as"] = MISSING
    try:
        native = realtools._host_triple() == arch.gnu_triple
        out["real kernel"] = AVAILABLE if native or realtools.qemu_tool(arch) else MISSING
    except realtools.ToolMissing:
        out["real kernel"] = MISSING
    return out
