"""A file that is already linked, loaded as the kernel and the dynamic loader would
load it: an executable at its own addresses, a shared object (or a PIE) at IMAGE, with
its dynamic relocations applied by the verifier's own statement of the architecture's
relocation types (conventions.yaml elf.dynamic, from each psABI). A symbol the file
needs from another library is bound to a stand-in (standins.yaml) or to an address of
its own outside the image, where a run that reaches it stops and names it. What the
verifier cannot do as a loader would (an ifunc's resolver, a relocation type it has no
statement of) also gets such an address, so that a run that depends on it ends
unverified, never judged on a slot left zero."""
from __future__ import annotations

import io
import struct

from .elffile import ElfError, Member
from .emulator import (
    CODE,
    CODE_SIZE,
    EXTERN,
    EXTERN_SIZE,
    GOT,
    GOT_SIZE,
    IMAGE,
    IMAGE_LIMIT,
    SPECIAL,
    SPECIAL_SIZE,
    STACK,
    STACK_SIZE,
    STANDINS,
    STANDINS_SIZE,
)
from .image import Image, read_elf

# The emulator's own memory: an executable linked over it cannot be loaded.
RESERVED = ((CODE, CODE + CODE_SIZE), (STANDINS, STANDINS + STANDINS_SIZE), (STACK, STACK + STACK_SIZE),
            (SPECIAL, SPECIAL + SPECIAL_SIZE), (GOT, GOT + GOT_SIZE))
KINDS = ("relative", "symbol", "address", "rel32", "tpoff", "tpoff_negated", "ifunc")


def load_linked(m: Member, arch, facts: dict, resolve, thumb_bit: bool,
                initial: dict[str, tuple[int, int]] | None = None) -> Image:
    """The image of an ET_EXEC or ET_DYN file. facts: conventions.yaml elf for arch;
    resolve(name) -> a stand-in's address or None; initial: name -> (value, bytes) for
    data the file defines itself that its own start-up code would have set before any
    function runs (glibc's __libc_single_threaded: 0 in the file, 1 once started)."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        e = ELFFile(io.BytesIO(m.data))
        loads = [s for s in e.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_memsz"]]
        if not loads:
            raise ElfError(f"{m.name}: no loadable segment")
        lo = min(s["p_vaddr"] for s in loads) & ~0xFFF
        hi = max(s["p_vaddr"] + s["p_memsz"] for s in loads)
        base = IMAGE - lo if e["e_type"] == "ET_DYN" else 0
        if hi - lo > IMAGE_LIMIT:
            raise ElfError(f"{m.name}: its segments span {hi - lo:#x} bytes, more than the "
                           f"{IMAGE_LIMIT >> 20} MiB the emulator gives an image")
        if base == 0:
            for r_lo, r_hi in RESERVED:
                if lo < r_hi and r_lo < hi:
                    raise ElfError(f"{m.name}: an executable linked at {lo:#x}-{hi:#x}, over the emulator's own "
                                   f"memory at {r_lo:#x}-{r_hi:#x}; give the objects or the archive it was linked "
                                   "from")
        memory = {base + s["p_vaddr"]: bytearray(s.data() + b"\0" * (s["p_memsz"] - s["p_filesz"])) for s in loads}
        writable = {base + s["p_vaddr"]: bool(s["p_flags"] & 2) for s in loads}
        externs: dict[int, str] = {}
        tls_slots = _relocate(e, m.name, arch, facts.get("dynamic"), base, memory, externs, resolve)
        img = read_elf(m.name, e, {}, externs, thumb_bit, base, [])
        for name, (value, size) in (initial or {}).items():
            at = img.symbols.get(name)
            if at is not None:
                data, off = _slot(memory, at, size, m.name)
                data[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, arch.endian)
        img.segments = [(a, bytes(d), writable[a]) for a, d in sorted(memory.items())]
    except (ELFError, ValueError, KeyError, IndexError, struct.error) as exc:
        raise ElfError(f"{m.name}: cannot load it ({exc})") from None
    img.tls_slots = tls_slots
    return img


def _relocate(e, name: str, arch, types: dict | None, base: int, memory: dict, externs: dict, resolve):
    """Apply the dynamic relocations of e in memory; (address, TLS offset, negated,
    bytes) for each slot that needs the thread pointer."""
    from elftools.elf.relocation import RelocationSection

    sections = [s for s in e.iter_sections() if isinstance(s, RelocationSection) and s["sh_flags"] & 2]
    if not sections:
        return []
    if types is None:
        raise ElfError(f"{name}: has dynamic relocations, and conventions.yaml states none of {arch.name}'s relocation "
                       "types (elf.dynamic); give the objects or the archive it was linked from")
    kind_of = {t: k for k in KINDS for t in types.get(k, ())}
    word = arch.word_bytes
    order = "<" if arch.endian == "little" else ">"
    fmt = order + ("Q" if word == 8 else "I")
    mask = (1 << (8 * word)) - 1

    def extern(what: str) -> int:
        for at, n in externs.items():
            if n == what:
                return at
        if len(externs) * 16 >= EXTERN_SIZE:
            raise ElfError(f"{name}: more than {EXTERN_SIZE // 16} symbols the input lacks")
        at = EXTERN + 16 * len(externs)
        externs[at] = what
        return at

    if types.get("implicit_got"):
        _implicit_got(e, name, base, memory, extern, resolve, word, fmt, mask)
    tls_slots = []
    for sec in sections:
        symtab = e.get_section(sec["sh_link"]) if sec["sh_link"] else None
        for r in sec.iter_relocations():
            kind = kind_of.get(r["r_info_type"])
            address = base + r["r_offset"]
            data, off = _slot(memory, address, word, name)
            addend = r["r_addend"] if r.is_RELA() else struct.unpack_from(fmt, data, off)[0]
            sym = symtab.get_symbol(r["r_info_sym"]) if symtab is not None and r["r_info_sym"] else None
            if kind == "relative":
                value = base + addend
            elif kind in ("symbol", "address"):
                value = _symbol_value(sym, base, resolve, extern) + (addend if kind == "address" else 0)
            elif kind == "rel32":  # MIPS: the addend plus the symbol's value, or the load address for none
                value = addend + (base if sym is None else _symbol_value(sym, base, resolve, extern))
            elif kind in ("tpoff", "tpoff_negated"):
                if sym is not None and sym["st_shndx"] == "SHN_UNDEF":
                    value = extern(f"{sym.name} (thread-local, in another library)")
                else:
                    tls_slots.append((address, (sym["st_value"] if sym is not None else 0) + addend,
                                      kind == "tpoff_negated", word))
                    continue
            elif kind == "ifunc":
                value = extern(f"the function an ifunc resolver at {addend:#x} picks")
            else:
                value = extern(f"a dynamic relocation of type {r['r_info_type']} (conventions.yaml elf.dynamic "
                               f"states no such {arch.name} type)")
            struct.pack_into(fmt, data, off, value & mask)
    return tls_slots


def _implicit_got(e, name: str, base: int, memory: dict, extern, resolve, word: int, fmt: str, mask: int):
    """The MIPS ABI's GOT, which the dynamic loader fills without relocations (SYSV ABI
    MIPS supplement, "Global Offset Table"; glibc's elf_machine_got_rel): each local
    entry after the reserved ones moves by the load address; global entry k holds the
    value of dynamic symbol DT_MIPS_GOTSYM + k."""
    from elftools.elf.dynamic import DynamicSection

    dyn = next((s for s in e.iter_sections() if isinstance(s, DynamicSection)), None)
    tags = {t.entry.d_tag: t.entry.d_val for t in dyn.iter_tags()} if dyn is not None else {}
    need = ("DT_PLTGOT", "DT_MIPS_LOCAL_GOTNO", "DT_MIPS_GOTSYM", "DT_MIPS_SYMTABNO")
    if any(t not in tags for t in need):
        raise ElfError(f"{name}: its dynamic section lacks {', '.join(t for t in need if t not in tags)}, which the "
                       "MIPS ABI's GOT needs")
    got, local, first, count = (tags[t] for t in need)
    symtab = e.get_section_by_name(".dynsym")
    data, off = _slot(memory, base + got, word * 2, name)
    reserved = 2 if struct.unpack_from(fmt, data, off + word)[0] >> (8 * word - 1) else 1
    for i in range(reserved, local):
        data, off = _slot(memory, base + got + word * i, word, name)
        struct.pack_into(fmt, data, off, (struct.unpack_from(fmt, data, off)[0] + base) & mask)
    for k, index in enumerate(range(first, count)):
        data, off = _slot(memory, base + got + word * (local + k), word, name)
        value = _symbol_value(symtab.get_symbol(index), base, resolve, extern) if symtab is not None else 0
        struct.pack_into(fmt, data, off, value & mask)


def _slot(memory: dict, address: int, size: int, name: str) -> tuple[bytearray, int]:
    for at, data in memory.items():
        if at <= address and address + size <= at + len(data):
            return data, address - at
    raise ElfError(f"{name}: {size} bytes at {address:#x} lie outside its segments")


def _symbol_value(sym, base: int, resolve, extern) -> int:
    if sym is None:
        return 0
    if sym["st_shndx"] != "SHN_UNDEF":
        return base + sym["st_value"]
    found = resolve(sym.name)
    if found is not None:
        return found
    if sym["st_info"]["bind"] == "STB_WEAK":
        return 0  # the loader leaves an unresolved weak reference null
    return extern(sym.name)
