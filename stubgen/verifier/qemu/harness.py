"""The harness qemu-user runs: a static ELF executable written here, with no code of
its own. Its segments are the emulator's memory map (emulator.py: the code area, the
stack, the special area with the fake handlers, the stand-in page, the fake GOT),
all zero-filled, readable, writable and executable, so that the stubs run at the
same addresses as under Unicorn (the image area, which the machine keeps
inaccessible but while an image is loaded, too). The client writes every byte (code, handlers) and
every register through the gdbstub before each run; qemu never runs the entry
point on its own (-g stops it before the first instruction)."""
from __future__ import annotations

import struct

from ..emulator import (
    CODE,
    CODE_SIZE,
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

ALIGN = 0x10000  # every segment starts on a 64 KiB boundary: a page on every target qemu has
PT_LOAD, ET_EXEC, PF_RWX = 1, 2, 7

# (address, size) of each area, in address order. The image area (machine code linked
# from ELF files) is mapped too, and the machine makes it inaccessible (mprotect) but
# while an image is loaded: a stub must find LINKER and its neighbours unmapped.
AREAS = sorted([(CODE, CODE_SIZE), (STANDINS, STANDINS_SIZE), (STACK, STACK_SIZE), (SPECIAL, SPECIAL_SIZE),
                (GOT, GOT_SIZE), (IMAGE, IMAGE_LIMIT)])


def elf(word: int, endian: str, machine: int, flags: int = 0, entry: int = CODE, areas=AREAS) -> bytes:
    """A static executable (ET_EXEC) for a word-byte, endian target of ELF machine
    number machine (and e_flags flags), whose PT_LOAD segments are areas, zero-filled."""
    e = "<" if endian == "little" else ">"
    wide = word == 8
    ehsize, phentsize = (64, 56) if wide else (52, 32)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if endian == "little" else 2, 1, 0]) + b"\0" * 8
    addr = "Q" if wide else "I"
    header = ident + struct.pack(f"{e}HHI{addr}{addr}{addr}IHHHHHH", ET_EXEC, machine, 1, entry, ehsize, 0, flags,
                                 ehsize, phentsize, len(areas), 0, 0, 0)
    phdrs = b""
    for start, size in areas:
        if wide:
            phdrs += struct.pack(f"{e}IIQQQQQQ", PT_LOAD, PF_RWX, 0, start, start, 0, size, ALIGN)
        else:
            phdrs += struct.pack(f"{e}IIIIIIII", PT_LOAD, 0, start, start, 0, size, PF_RWX, ALIGN)
    return header + phdrs
