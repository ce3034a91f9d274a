"""ELF in: what a file given to `stubgen verify FILE` holds when it is machine code (an
ELF relocatable object, shared object or executable, or an `ar` archive of objects such
as a whole libc.a), split into ELF members and held against the verifier's own statement
of the architecture's ELF machine (conventions.yaml `elf`). Nothing here trusts the
bytes: sizes are bounded, and the caller reads them in an isolated child (isolate.py)."""
from __future__ import annotations

import io
from dataclasses import dataclass

from ..errors import StubgenError

ELF_MAGIC = b"\x7fELF"
AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
MAX_MEMBERS = 20000  # a glibc libc.a has about 2,000
KINDS = {"ET_REL": "relocatable object", "ET_EXEC": "executable", "ET_DYN": "shared object"}


class ElfError(StubgenError):
    """The file is not machine code the verifier can read, or not for this architecture."""


@dataclass(frozen=True)
class Member:
    name: str  # the archive member's name, or the file's own
    data: bytes
    offset: int = 0  # where its header starts in the archive


def archive_symbols(data: bytes) -> dict[str, int]:
    """The archive's own symbol index (GNU "/" or "/SYM64/"): symbol -> the offset of
    the member that defines it; empty when there is none (then the members are read)."""
    if not data.startswith(AR_MAGIC) or len(data) < len(AR_MAGIC) + 60:
        return {}
    head = data[8:68]
    name = head[:16].decode("latin-1").rstrip()
    if name not in ("/", "/SYM64/"):
        return {}
    try:
        size = int(head[48:58].decode("ascii").strip() or "0")
    except ValueError:
        return {}
    body, width = data[68:68 + size], 8 if name == "/SYM64/" else 4
    if len(body) < width:
        return {}
    n = int.from_bytes(body[:width], "big")
    if width * (n + 1) > len(body):
        return {}
    offsets = [int.from_bytes(body[width * (i + 1):width * (i + 2)], "big") for i in range(n)]
    names = body[width * (n + 1):].split(b"\0")
    return {nm.decode("latin-1"): off for nm, off in zip(names, offsets) if nm}


def is_machine_code(head: bytes) -> bool:
    """Whether a file's first bytes make it ELF or an ar archive."""
    return head.startswith((ELF_MAGIC, AR_MAGIC, THIN_MAGIC))


def members(name: str, data: bytes) -> list[Member]:
    """The ELF files a file holds: itself, or an archive's members that are ELF (an
    archive's symbol index and long-name table are not members)."""
    if data.startswith(ELF_MAGIC):
        return [Member(name, data)]
    if data.startswith(THIN_MAGIC):
        raise ElfError(f"{name}: a thin archive holds only the paths of its members; give the objects or a "
                       "full archive (ar rc, not ar rcT)")
    if not data.startswith(AR_MAGIC):
        raise ElfError(f"{name}: neither ELF nor an ar archive")
    out, longnames, at = [], b"", len(AR_MAGIC)
    while at + 60 <= len(data):
        start = at
        head = data[at:at + 60]
        if head[58:60] != b"`\n":
            raise ElfError(f"{name}: archive member header at byte {at} is damaged")
        try:
            size = int(head[48:58].decode("ascii").strip() or "0")
        except ValueError:
            raise ElfError(f"{name}: archive member size at byte {at} is not a number") from None
        raw = head[:16].decode("latin-1").rstrip()
        body = data[at + 60:at + 60 + size]
        if len(body) != size:
            raise ElfError(f"{name}: archive member at byte {at} runs past the end of the file")
        at += 60 + size + (size & 1)
        if raw == "//":  # GNU long names
            longnames = body
            continue
        if raw in ("/", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED"):  # symbol index
            continue
        if raw.startswith("#1/"):  # BSD: the name follows the header
            n = int(raw[3:] or "0")
            member, body = body[:n].rstrip(b"\0").decode("latin-1"), body[n:]
        elif raw.startswith("/") and raw[1:].isdigit():
            off = int(raw[1:])
            member = longnames[off:longnames.find(b"\n", off)].decode("latin-1").rstrip("/")
        else:
            member = raw.rstrip("/")
        if body.startswith(ELF_MAGIC):
            out.append(Member(member, bytes(body), start))
        if len(out) > MAX_MEMBERS:
            raise ElfError(f"{name}: more than {MAX_MEMBERS} members")
    if not out:
        raise ElfError(f"{name}: an archive without ELF members")
    return out


@dataclass(frozen=True)
class Header:
    kind: str  # ET_REL, ET_EXEC or ET_DYN
    machine: str  # e_machine as pyelftools names it (EM_X86_64)
    bits: int  # 32 or 64
    endian: str  # little or big
    flags: int


def header(m: Member) -> Header:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        e = ELFFile(io.BytesIO(m.data))
        h = Header(e["e_type"], e["e_machine"], e.elfclass, "little" if e.little_endian else "big", e["e_flags"])
    except (ELFError, ValueError, KeyError, OSError) as exc:
        raise ElfError(f"{m.name}: not a readable ELF file ({exc})") from None
    if h.kind not in KINDS:
        raise ElfError(f"{m.name}: ELF type {h.kind}; the verifier reads {', '.join(KINDS.values())}")
    return h


def check_machine(m: Member, h: Header, arch, facts: dict) -> None:
    """The member is for arch: its machine, class and byte order are those of the
    verifier's statement (conventions.yaml elf: machine, bits)."""
    want = (facts["machine"], facts["bits"], arch.endian)
    got = (h.machine, h.bits, h.endian)
    if got != want:
        raise ElfError(f"{m.name}: an ELF {h.bits}-bit {h.endian}-endian {h.machine} file; {arch.name} is "
                       f"{want[1]}-bit {want[2]}-endian {want[0]} (pick its architecture with --arch)")
