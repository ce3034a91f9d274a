"""Bytes from a real assembler (Go's, GNU as) for the stubs in a file, and how they
must agree with the verifier's own assembly: byte for byte, except at relocation
sites, or, where a table says the two assemblers legitimately pick other encodings
(`real_assembler: instructions` in the reading rules), instruction for instruction."""
from __future__ import annotations

from dataclasses import dataclass, field

from .disasm import decode
from .emulator import CODE


@dataclass
class Reference:
    tool: str
    code: bytes
    relocations: list = field(default_factory=list)  # (offset, size, type, target)
    exact: bool = True  # bytes must match; else the decoded instructions
    # Go's listing names every relocation, so its bytes can be patched and run; an
    # unlinked GNU object has placeholders in its calls, so it is only compared.
    emulate: bool = True
    # Mnemonics whose operands only the linker fills in (RISC-V auipc of a call): in an
    # unlinked object they hold placeholders, so they may differ from ours.
    linker_filled: tuple = ()
    pads: bool = False  # the tool pads a function with zero bytes to its alignment (Go)

    def patched(self, symbols: dict[str, int], ours: int | None = None) -> bytes:
        """The code with absolute relocations filled in with the emulator's addresses;
        other relocation sites are left as the assembler wrote them. ours: our code's
        length, to drop the zero padding a padding tool adds after the function."""
        code = bytearray(self.code)
        if self.pads and ours is not None and len(code) > ours and not any(code[ours:]):
            del code[ours:]
        names = {k.replace("·", "."): v for k, v in symbols.items()}
        for off, size, kind, target in self.relocations:
            name, _, addend = target.partition("+")
            if kind.endswith("ADDR") and name in names:
                value = names[name] + int(addend or 0)
                code[off:off + size] = value.to_bytes(size, "little")
        return bytes(code)


def _reloc_offsets(ref: Reference) -> set[int]:
    return {o + i for o, size, _, _ in ref.relocations for i in range(size)}


def _branch(insn) -> bool:
    return bool(insn.group(1) or insn.group(2))  # CS_GRP_JUMP, CS_GRP_CALL


def compare_code(arch, ours: bytes, theirs: bytes, ref: Reference) -> list[str]:
    """Problems if a real assembler's bytes and ours disagree. Relocation sites may
    differ: Go's listing names them; GNU as leaves a placeholder in calls and jumps to
    other symbols, so a call or jump of the same mnemonic and length may differ too."""
    if ours == theirs:
        return []
    relocs = _reloc_offsets(ref)
    if ref.exact and len(ours) == len(theirs) and all(p == q or i in relocs for i, (p, q) in
                                                     enumerate(zip(ours, theirs))):
        return []  # equal but at relocation sites (data such as a literal pool need not decode)
    if arch.engines.capstone is None:
        # Nothing decodes this architecture: equal bytes, relocation sites aside.
        if len(ours) == len(theirs) and all(p == q or i in relocs for i, (p, q) in enumerate(zip(ours, theirs))):
            return []
        return [f"{ref.tool} and the verifier's assembly disagree ({len(theirs)} vs {len(ours)} bytes; no decoder "
                f"for {arch.name}, so compared as bytes):\n    ours {ours.hex()}\n    {ref.tool} {theirs.hex()}"]
    a, b = decode(arch, ours, CODE, detail=True), decode(arch, theirs, CODE, detail=True)
    same = len(a) == len(b) and sum(len(i.bytes) for i in a) == len(ours) and \
        sum(len(i.bytes) for i in b) == len(theirs)
    if same:
        for x, y in zip(a, b):
            if x.bytes == y.bytes:
                continue
            if x.mnemonic == y.mnemonic and ((_branch(x) and _branch(y)) or x.mnemonic in ref.linker_filled):
                continue
            if ref.exact:
                off = x.address - CODE
                if len(x.bytes) == len(y.bytes) and all(
                        p == q or off + i in relocs for i, (p, q) in enumerate(zip(x.bytes, y.bytes))):
                    continue
            elif x.mnemonic == y.mnemonic and x.op_str == y.op_str:
                continue
            same = False
            break
    if same:
        return []
    lines = [f"{ref.tool} and the verifier's assembly disagree ({len(theirs)} vs {len(ours)} bytes):"]
    for i in range(max(len(a), len(b))):
        x = f"{a[i].mnemonic} {a[i].op_str} [{a[i].bytes.hex()}]" if i < len(a) else "-"
        y = f"{b[i].mnemonic} {b[i].op_str} [{b[i].bytes.hex()}]" if i < len(b) else "-"
        lines.append(f"    {'  ' if x == y else '!='} ours {x:44} {ref.tool} {y}")
    return ["\n".join(lines)]
