"""Assemblers behind one small interface (`Assembler`): Keystone in-process, and LLVM's
integrated assembler in a child process (llvm.py) where Keystone lacks an architecture
or a wheel. Which ones an architecture may use is a table fact (`engines.keystone`,
`engines.llvm` in arch/<name>.yaml); where both are installed their bytes must agree.
The Keystone backend guards every known Keystone 0.9.2 pitfall by construction: it only
ever sees instructions and `.L` labels, with every number written in hex, and a None
result is an error, never an empty stub. LLVM gets the same guarded text."""
from __future__ import annotations

from . import llvm
from .keystone import KeystoneAssembler

# What to install for each backend; verify names the missing one with its pip command.
INSTALL = {
    "Keystone": "pip install keystone-engine (wheels for x86-64 Linux and Windows only)",
    "LLVM": "pip install 'stubgen[llvm]' (ziglang and pyelftools: LLVM's assembler for every host)",
}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def backends(arch) -> dict[str, bool]:
    """{backend: installed} for every assembler the tables allow for arch, Keystone first."""
    out = {}
    if arch.engines.keystone:
        out["Keystone"] = _importable("keystone")
    if arch.engines.llvm:
        out["LLVM"] = llvm.available()
    return out


def batches(arch) -> bool:
    """True where an installed assembler arch uses runs in a child process per call
    (LLVM): its stubs are worth handing over many at once."""
    return bool(backends(arch).get("LLVM"))


def missing_note(arch) -> str:
    """Which assembler arch could use but is not installed, with the pip command; '' when none."""
    return "; ".join(f"{name} for {arch.name} not installed: {INSTALL[name]}"
                     for name, ok in backends(arch).items() if not ok)


def make(name: str, arch, syntax: str | None = None):
    if name == "Keystone":
        return KeystoneAssembler(arch.engines.keystone, syntax)
    return llvm.LlvmAssembler(arch.engines.llvm, syntax)
