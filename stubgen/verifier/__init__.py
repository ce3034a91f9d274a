"""Verify stubs, standing on the verifier's own knowledge: the kernel ABI (kernel.py,
linux_abi.yaml) and the calling conventions (conventions.py, conventions.yaml), a
caller and a fake kernel around an emulator, the checks, disassembly, the assemblers
(Keystone, LLVM, isolation) and the front ends that read stubs (GNU, Plan 9, foreign
files)."""

from .checker import Verifier
from .spec import Report, Spec
from .specs import manifest_specs, stub_specs, verify

__all__ = ["Report", "Spec", "Verifier", "manifest_specs", "stub_specs", "verify"]
