"""A generated directory as its manifest describes it, read through the one checked,
confined reader."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ...tables import policies
from ...tables.manifest import read_listed, read_manifest
from .checks import FAIL, KERNEL_SYSCALL, PASS


@dataclass
class Generated:
    """What manifest.json says a generated directory holds."""

    root: Path
    options: dict
    files: list

    def asm_files(self, dialect: str) -> list[dict]:
        return [f for f in self.files if f["dialect"] == dialect and f.get("arch") and f["symbols"]]

    def dialect_dir(self, dialect: str) -> Path | None:
        for f in self.files:
            if f["dialect"] == dialect:
                return self.root / Path(f["path"]).parent
        return None

    def c_headers(self, arch: str) -> list[Path]:
        """Every generated C header an architecture's program may include: the shared ones
        (prototypes, the umbrella) and the architecture's own."""
        return [self.root / f["path"] for f in self.files
                if f["dialect"] == "gnu" and f["path"].endswith(".h") and f.get("arch") in (None, arch)]

    def header(self) -> Path | None:
        for f in self.files:
            if f["dialect"] == "gnu" and f["path"].endswith(".h"):
                return self.root / f["path"]
        return None


def load(directory) -> Generated:
    """The manifest through the one checked, confined reader (inputs.read_manifest), and
    every file it lists through the confined reader too, up front: a FIFO, a device or
    a link out of the directory is one line whatever tools are installed, not only when
    a check that reads it runs."""
    m = read_manifest(directory)
    for f in m["files"]:
        read_listed(directory, f["path"])
    files = [dict(f, symbols=f.get("symbols", [])) for f in m["files"]]
    return Generated(Path(directory), dict(m.get("options", {})), files)


def symbol_of(entry: dict, syscall: str) -> dict | None:
    return next((s for s in entry["symbols"] if s["syscall"] == syscall), None)


def policy_of(entry: dict) -> str:
    """The policy the file was generated with (not one the tables impose on some calls)."""
    return next((s.get("policy") for s in entry["symbols"] if s.get("policy", policies.DEFAULT) in policies.CHOSEN),
                policies.DEFAULT)


def every_symbol(entry: dict, syms: dict, where: str):
    """PASS with each symbol's size when a real assembler made code for every symbol of a file."""
    names = [s["name"] for s in entry["symbols"]]
    missing = [n for n in names if not syms.get(n)]
    if missing:
        return FAIL, f"no code for {', '.join(missing)} {where}"
    return PASS, ", ".join(f"{n} {len(syms[n])} B" for n in names)


class FileJob(NamedTuple):
    """One generated file: what every dialect's crosscheck task starts from."""
    arch: Any
    policy: str
    path: Path
    sym: dict | None  # the manifest's symbol of the kernel rows' syscall (None: the file has none)
    work: Path  # the task's own directory
    entry: dict  # the manifest's entry of the file


def file_jobs(g: Generated, t, dialect: str, work: Path) -> Iterator[FileJob]:
    """A FileJob per file of dialect in g, each with its own work directory."""
    for entry in g.asm_files(dialect):
        arch = t.arch(entry["arch"])
        yield FileJob(arch, policy_of(entry), g.root / entry["path"], symbol_of(entry, KERNEL_SYSCALL),
                      work / f"{dialect}-{arch.name}", entry)
