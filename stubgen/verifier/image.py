"""An image: machine code as the emulator holds it, read from a linked ELF file (the
verifier links objects itself, link.py): its loadable segments, its functions from the
symbol table (st_size; aliases that share a body; a body without a size runs to the
next symbol), the TLS block's initial bytes and where each TLS stand-in lies in it,
and the names of what the input lacks."""
from __future__ import annotations

import io
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageFunction:
    name: str  # the name it is reported by
    aliases: tuple[str, ...]  # other names of the same body
    address: int  # its entry, with the Thumb bit where it is Thumb code
    size: int  # bytes of its body from the symbol table (or to the next symbol)
    member: str  # the object (archive member) that defines it

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def start(self) -> int:
        return self.address & ~1 if self.thumb else self.address

    @property
    def thumb(self) -> bool:
        return bool(self.address & 1)


@dataclass
class TLSBlock:
    address: int  # the PT_TLS segment's p_vaddr in the image
    init: bytes  # its initialised bytes (the rest, up to size, are zero)
    size: int
    align: int


@dataclass
class Image:
    name: str
    segments: list[tuple[int, bytes, bool]]  # (address, bytes, writable)
    symbols: dict[str, int]  # every defined symbol's value
    functions: list[ImageFunction]
    tls: TLSBlock | None = None
    tls_symbols: dict[str, int] = field(default_factory=dict)  # TLS symbol -> offset in the block
    externs: dict[int, str] = field(default_factory=dict)  # address -> what the input lacks
    notes: list[str] = field(default_factory=list)
    # Words the dynamic loader fills with a thread-pointer offset once the TLS block is
    # placed (dynamic.py): (address, offset in the TLS block, negated, bytes).
    tls_slots: list[tuple[int, int, bool, int]] = field(default_factory=list)
    flags: int = 0  # the ELF header's e_flags (ppc64's ABI version)

    def read(self, address: int, size: int) -> bytes:
        for at, data, _ in self.segments:
            if at <= address and address + size <= at + len(data):
                return data[address - at:address - at + size]
        return b""

    def ranges(self, writable: bool | None = None) -> list[tuple[int, int]]:
        return [(at, at + len(d)) for at, d, w in self.segments if writable is None or w == writable]

    def symbol_at(self, address: int) -> str:
        """name+offset of the nearest symbol at or below address."""
        best = None
        for name, value in self.symbols.items():
            v = value & ~1
            if v <= address and (best is None or v > best[1]):
                best = (name, v)
        if best is None:
            return f"{address:#x}"
        return best[0] + (f"+{address - best[1]:#x}" if address != best[1] else "")


def read_linked(name: str, data: bytes, member_of: dict[str, str], externs: dict[int, str],
                thumb_bit: bool) -> Image:
    """The image of a linked executable: PT_LOAD segments (file bytes, zero-filled to
    their memory size), symbols, functions (those of executable sections, by address)
    and the TLS block. member_of: symbol -> the member that defined it. thumb_bit: the
    architecture marks Thumb functions with bit 0 of their value."""
    from elftools.elf.elffile import ELFFile

    return read_elf(name, ELFFile(io.BytesIO(data)), member_of, externs, thumb_bit)


def read_elf(name: str, e, member_of: dict[str, str], externs: dict[int, str], thumb_bit: bool,
             base: int = 0, segments: list | None = None) -> Image:
    """read_linked for an ELFFile loaded at base (a shared object's addresses are
    relative to where it is loaded): symbols from .symtab, or from .dynsym where the
    file is stripped. segments: its PT_LOAD segments as already relocated, if they were."""
    from elftools.elf.sections import SymbolTableSection

    segs, tls = [], None
    for seg in e.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg["p_memsz"]:
            body = seg.data() + b"\0" * (seg["p_memsz"] - seg["p_filesz"])
            segs.append((base + seg["p_vaddr"], bytes(body), bool(seg["p_flags"] & 2)))
        elif seg["p_type"] == "PT_TLS":
            tls = TLSBlock(base + seg["p_vaddr"], bytes(seg.data()), seg["p_memsz"], max(1, seg["p_align"]))
    execs = {i for i, s in enumerate(e.iter_sections()) if s["sh_flags"] & 4}
    ends = {i: base + s["sh_addr"] + s["sh_size"] for i, s in enumerate(e.iter_sections())}
    symtab = e.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection):
        symtab = e.get_section_by_name(".dynsym")
    symbols: dict[str, int] = {}
    tls_symbols: dict[str, int] = {}
    by_address: dict[int, list] = {}
    starts: dict[int, list[int]] = {}
    if isinstance(symtab, SymbolTableSection):
        for sym in symtab.iter_symbols():
            name, ndx = sym.name, sym["st_shndx"]
            if not name or not isinstance(ndx, int) or name.startswith("$"):
                continue  # ARM and AArch64 mapping symbols ($a, $t, $d, $x) mark code kinds
            kind, bind = sym["st_info"]["type"], sym["st_info"]["bind"]
            if kind == "STT_TLS":
                # In a linked file a TLS symbol's value is its offset in the TLS template.
                tls_symbols[name] = sym["st_value"]
                continue
            value = base + sym["st_value"]
            symbols[name] = value
            if ndx in execs and kind in ("STT_FUNC", "STT_NOTYPE", "STT_GNU_IFUNC"):
                starts.setdefault(ndx, []).append(value & ~1 if thumb_bit else value)
                if bind in ("STB_GLOBAL", "STB_WEAK") or kind == "STT_FUNC":
                    by_address.setdefault(value, []).append((sym, ndx))
    functions = []
    for value, syms in sorted(by_address.items()):
        ndx = syms[0][1]
        start = value & ~1 if thumb_bit else value
        size = max(s["st_size"] for s, _ in syms)
        if not size:
            later = [a for a in starts.get(ndx, []) if a > start]
            size = (min(later) if later else ends[ndx]) - start
        # The name to report: a global before a weak one, then the shortest (read before __libc_read).
        order = sorted(syms, key=lambda t: (t[0]["st_info"]["bind"] != "STB_GLOBAL", len(t[0].name), t[0].name))
        names = [s.name for s, _ in order]
        functions.append(ImageFunction(names[0], tuple(names[1:]), value, size,
                                       member_of.get(names[0], name)))
    return Image(name, segments if segments is not None else segs, symbols, functions, tls, tls_symbols,
                 dict(externs), flags=e.header["e_flags"])
