"""The checks `stubgen crosscheck` runs, the rows they give, and the guard every check
runs under: a missing tool is a skip naming the package, a tool's refusal a failure."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import tools

PROGRAMS = Path(__file__).parent / "programs"
KERNEL_SYSCALL = "madvise"
PASS, FAIL, SKIP = "pass", "FAIL", "skip"
CHECKS = ("go vet", "go vet catches", "go asm", "gnu as", "gnu link", "llvm as", "kernel valid", "kernel misaligned",
          "kernel callee-saved", "kernel six args", "kernel pair", "kernel noreturn")
# The argument shapes, by the syscalls that have them and the mode of shapes.c.
SHAPES = {"kernel six args": "six", "kernel pair": "pair", "kernel noreturn": "noreturn"}


@dataclass
class Result:
    check: str
    arch: str
    dialect: str
    status: str
    detail: str = ""
    policy: str = ""
    missing: str = ""  # the package to install, when skipped for a missing tool


def guard(check, arch, dialect, policy, fn) -> Result:
    """Run one check; a missing tool is a skip, a tool's refusal a failure."""
    try:
        status, detail = fn()
        return Result(check, arch, dialect, status, detail, policy)
    except tools.ToolMissing as e:
        return Result(check, arch, dialect, SKIP, str(e), policy, e.package)
    except (tools.ToolFailed, subprocess.TimeoutExpired) as e:
        return Result(check, arch, dialect, FAIL, short(str(e)), policy)


def short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
