"""Objects linked into one image by a real linker (LLVM's ld.lld from the ziglang wheel),
as a static link would: the members under test, what else of their archive they need
(a member that defines a symbol they reach, transitively, up to a budget), and every
other undefined symbol resolved to a stand-in at a known address (standins.py) or to
an address of its own outside the image, where a run that reaches it stops and names
it. Undefined thread-local symbols get a definition of their own in a stand-in TLS
object the verifier assembles with the target's C driver (tables: engines.cc), so
that errno in TLS lands where the emulator looks. The linker runs in a child process
with a time limit."""
from __future__ import annotations

import io
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .elffile import ElfError, Member
from .emulator import EXTERN, EXTERN_SIZE, IMAGE, IMAGE_LIMIT
from .image import Image, read_linked
from .llvm import env, zig

TIMEOUT = 60
PULL_BUDGET = 64  # archive members pulled in beside the ones under test
TLS_SLOT = 8  # bytes of each stand-in TLS variable
# Symbols a static link defines itself when an object refers to them (the GOT, MIPS's
# gp, PowerPC's TOC, RISC-V's global pointer, section bounds): never stood in for.
LINKER_DEFINED = frozenset([
    "_GLOBAL_OFFSET_TABLE_", "_gp", "_gp_disp", "__gnu_local_gp", ".TOC.", "__global_pointer$", "__ehdr_start",
    "_DYNAMIC", "__executable_start", "_etext", "etext", "__etext", "_edata", "edata", "_end", "end", "__bss_start",
    "__init_array_start", "__init_array_end", "__fini_array_start", "__fini_array_end", "__preinit_array_start",
    "__preinit_array_end", "__rela_iplt_start", "__rela_iplt_end", "__rel_iplt_start", "__rel_iplt_end"])


@dataclass
class Symbols:
    """What one member defines and needs."""

    defined: set[str] = field(default_factory=set)
    undefined: set[str] = field(default_factory=set)
    tls: set[str] = field(default_factory=set)  # undefined thread-local ones


def scan(m: Member) -> Symbols:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    out = Symbols()
    try:
        e = ELFFile(io.BytesIO(m.data))
        for sec in e.iter_sections():
            if not isinstance(sec, SymbolTableSection) or sec.name != ".symtab":
                continue
            for sym in sec.iter_symbols():
                bind = sym["st_info"]["bind"]
                if not sym.name or bind == "STB_LOCAL":
                    continue
                if sym["st_shndx"] == "SHN_UNDEF":
                    out.undefined.add(sym.name)
                    if sym["st_info"]["type"] == "STT_TLS":
                        out.tls.add(sym.name)
                else:
                    out.defined.add(sym.name)
    except (ELFError, ValueError, KeyError, OSError) as exc:
        raise ElfError(f"{m.name}: cannot read its symbol table ({exc})") from None
    return out


def archive_index(members: list[Member]) -> dict[str, int]:
    """symbol -> index of the first member that defines it (a global or weak one)."""
    out: dict[str, int] = {}
    for i, m in enumerate(members):
        for name in scan(m).defined:
            out.setdefault(name, i)
    return out


@dataclass
class Plan:
    """Which members go into the link, and what every other symbol becomes."""

    linked: list[int]
    standins: dict[str, int]  # symbol -> stand-in address
    externs: dict[int, str]  # address -> symbol the input lacks
    tls: list[str]  # undefined thread-local symbols, each defined by the stand-in object
    member_of: dict[str, str]  # symbol -> member that defines it


def plan(members: list[Member], chosen: list[int], resolve, index: dict[str, int] | None = None,
         scans: dict[int, Symbols] | None = None) -> Plan:
    """resolve(name, tls) -> a stand-in's address or None. index: symbol -> member
    for the archive (None: the chosen members are all there is)."""
    scans = dict(scans or {})

    def sc(i):
        if i not in scans:
            scans[i] = scan(members[i])
        return scans[i]

    linked: list[int] = []
    defined: set[str] = set()
    member_of: dict[str, str] = {}
    queue: list[str] = []
    tls: set[str] = set()

    def add(i):
        linked.append(i)
        s = sc(i)
        for n in s.defined:
            member_of.setdefault(n, members[i].name)
        defined.update(s.defined)
        queue.extend(sorted(s.undefined))
        tls.update(s.tls)

    for i in chosen:
        add(i)
    standins: dict[str, int] = {}
    externs: dict[int, str] = {}
    pulled = 0
    while queue:
        name = queue.pop(0)
        if name in defined or name in standins or name in externs.values() or name in LINKER_DEFINED:
            continue
        if name in tls:
            continue
        found = resolve(name, False)
        if found is not None:
            standins[name] = found
            continue
        at = index.get(name) if index else None
        if at is not None and at not in linked and pulled < PULL_BUDGET:
            pulled += 1
            add(at)
            continue
        if len(externs) * 16 >= EXTERN_SIZE:
            raise ElfError(f"more than {EXTERN_SIZE // 16} symbols the input lacks")
        externs[EXTERN + 16 * len(externs)] = name
    return Plan(linked, standins, externs, sorted(tls - defined), member_of)


def tls_object(names: list[str], cc: dict, tmp: Path) -> Path:
    """An object that defines each name as a zeroed thread-local variable."""
    lines = ['.section .tbss,"awT",%nobits', ".p2align 3"]
    for n in names:
        lines += [f".globl {n}", f".type {n}, %tls_object", f".size {n}, {TLS_SLOT}", f"{n}:", f".zero {TLS_SLOT}"]
    src, obj = tmp / "stubgen_tls.s", tmp / "stubgen_tls.o"
    src.write_text("\n".join(lines) + "\n", encoding="ascii")
    _run([str(zig()), "cc", "-c", "-target", cc["target"], *cc.get("flags", ()), "-o", str(obj), str(src)],
         "the stand-in TLS object")
    return obj


def link(name: str, members: list[Member], p: Plan, cc: dict | None, thumb_bit: bool) -> Image:
    """The image of p's members linked at IMAGE, with its stand-ins and externs."""
    if zig() is None:
        raise ElfError("linking an object needs LLVM's linker: pip install 'stubgen[llvm]'")
    with tempfile.TemporaryDirectory(prefix="stubgen-link-") as tmp:
        t = Path(tmp)
        objs = []
        for k, i in enumerate(p.linked):
            f = t / f"m{k}.o"
            f.write_bytes(members[i].data)
            objs.append(str(f))
        if p.tls:
            if not cc:
                raise ElfError("thread-local symbols need the target's C driver (tables: engines.cc)")
            objs.append(str(tls_object(p.tls, cc, t)))
        out = t / "image.elf"
        defs = [f"--defsym={n}={a:#x}" for n, a in sorted(p.standins.items())]
        defs += [f"--defsym={n}={a:#x}" for a, n in sorted(p.externs.items())]
        _run([str(zig()), "ld.lld", "-static", f"--image-base={IMAGE:#x}", "-z", "max-page-size=4096",
              "-z", "norelro", "-z", "execstack", "-o", str(out), *objs, *defs],
             f"linking {name}")
        data = out.read_bytes()
    img = read_linked(name, data, p.member_of, p.externs, thumb_bit)
    lo = min((a for a, _, _ in img.segments), default=IMAGE)
    hi = max((a + len(d) for a, d, _ in img.segments), default=IMAGE)
    if lo < IMAGE or hi > IMAGE + IMAGE_LIMIT:
        raise ElfError(f"{name}: the linked image spans {lo:#x}-{hi:#x}, more than the {IMAGE_LIMIT >> 20} MiB "
                       "the emulator gives an image")
    return img


def _run(cmd, what: str):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env())
    except subprocess.TimeoutExpired:
        raise ElfError(f"{what}: the linker did not finish within {TIMEOUT} s") from None
    if r.returncode != 0:
        lines = [ln for ln in (r.stderr or r.stdout).splitlines() if "error" in ln] or [(r.stderr or r.stdout)[:300]]
        raise ElfError(f"{what}: {lines[0].strip()}")
