"""The verifier's own statement of the Linux syscall ABI (linux_abi.yaml), kept apart
from the tables the generator reads."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import yaml

from ..errors import StubgenError
from ..tables import yamlio


@dataclass(frozen=True)
class Opcode:
    """A trap instruction: its word of `size` bytes, masked, equals value."""

    size: int
    mask: int
    value: int

    def matches(self, data: bytes, endian: str) -> bool:
        """Whether data (exactly one word of this opcode's size) is this trap."""
        return len(data) == self.size and int.from_bytes(data, endian) & self.mask == self.value  # type: ignore[arg-type]


def trap_sites(opcodes, code: bytes, endian: str) -> list[int]:
    """Offsets in code of the trap instructions (opcodes), read at every multiple of
    each opcode's size: for fixed-width code, which stubs the emulator cannot run
    still answer for, without a decoder."""
    found = set()
    for op in opcodes:
        for at in range(0, len(code) - op.size + 1, op.size):
            if op.matches(code[at:at + op.size], endian):
                found.add(at)
    return sorted(found)


@dataclass(frozen=True)
class LinuxABI:
    trap: dict
    number: str
    number_bits: int
    args: tuple[str, ...]
    result: str
    ret: str
    error_range: tuple[int, int]
    cpu_clobbers: dict
    forbidden: tuple[str, ...]
    crash_interrupts: tuple[int, ...]
    vdso: dict | None
    pair_align: int = 1
    opcodes: tuple[Opcode, ...] = ()  # the trap instructions, found from the bytes around the PC
    stack_args: dict | None = None  # {offset, slots}: arguments past the registers, on the caller's stack
    error_flag: str = ""  # set to 1 on error, with a positive errno in result
    error_flag_bits: int = 0  # where the flag is some bits of error_flag (ppc64 CR0.SO): those, else all
    errno: dict | None = None  # this architecture's errno numbers, by name
    negated_errors: tuple[str, ...] = ()  # errnos some paths return already negated, flag set
    clobbers_source: str = ""  # the kernel file that says which registers the trap may change
    result2: str = ""  # the second result register (Go's r2): what the kernel leaves there
    # Code the kernel maps into every process at fixed addresses (ARM's kuser helpers):
    # {page, functions: {address: {name, returns}}}, run as stand-ins.
    kernel_helpers: dict | None = None
    # How the kernel, reading each argument as a whole 64-bit register, takes a C long or
    # pointer of a 32-bit user ABI: "by_type" (a long sign-extended, a pointer or unsigned
    # long zero-extended: x32) or "sign" (every one sign-extended, as n32 holds them).
    long_args: str = ""

    @property
    def slots(self) -> int:
        """Registers, then stack slots, the kernel reads arguments from."""
        return len(self.args) + (self.stack_args["slots"] if self.stack_args else 0)

    def arg_name(self, r: int) -> str:
        """Register r of placement(), or the stack slot it stands for."""
        if r < len(self.args) or not self.stack_args:
            return self.args[r]
        return f"the stack slot at sp+{self.stack_args['offset'] + 4 * (r - len(self.args))}"

    def placement(self, args, word: int, endian: Literal["little", "big"]):
        """Where the kernel reads each argument: (argument index, register index, value,
        bits) per register, for (value, size[, bits]) arguments in order; bits, where
        given, is what the kernel reads of a one-register argument (16 of a umode_t
        passed as 32). A wider-than-word argument is split in memory order and starts at
        an index divisible by pair_align. Raises ValueError when the registers run out."""
        out, nxt = [], 0
        for i, (value, size, *narrow) in enumerate(args):
            n = max(1, size // word)
            if n > 1:
                nxt += -nxt % self.pair_align
            raw = value.to_bytes(size, endian)
            for j in range(n):
                if nxt >= self.slots:
                    raise ValueError(f"argument {i + 1} does not fit in the kernel's {len(self.args)} registers"
                                     + (f" and {self.slots - len(self.args)} stack slots" if self.stack_args else ""))
                chunk = raw[j * word:(j + 1) * word] if n > 1 else raw
                bits = narrow[0] if narrow and n == 1 else 8 * len(chunk)
                out.append((i, nxt, int.from_bytes(chunk, endian) & ((1 << bits) - 1), bits))
                nxt += 1
        return out


_REQUIRED = ("trap", "number", "number_bits", "args", "result", "error_range", "return", "forbidden",
             "crash_interrupts")


_REG = {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]{0,15}$"}
_INT = {"type": "integer", "minimum": -(1 << 64), "maximum": (1 << 64)}
_UINT = {"type": "integer", "minimum": 0, "maximum": (1 << 64)}
_TEXT = {"type": "string", "maxLength": 300, "pattern": r"^[^\n]*$"}
# One architecture's statement, as the verifier reads it: every value of the right type,
# nothing else (a --kernel-abi file is input: a wrong type is one line, never a traceback).
STATEMENT_SCHEMA = {
    "type": "object",
    "required": list(_REQUIRED),
    "additionalProperties": False,
    "properties": {
        "trap": {"type": "object", "additionalProperties": False, "properties": {
            "interrupt": {"type": "integer", "minimum": 0, "maximum": 255},
            "name": _TEXT,
            "opcodes": {"type": "array", "minItems": 1, "maxItems": 8, "items": {
                "type": "object", "required": ["size", "mask", "value"], "additionalProperties": False,
                "properties": {"size": {"enum": [2, 4, 6, 8]}, "mask": _UINT, "value": _UINT}}},
            "syscall_insn": {"type": "boolean"},
            "pc": {"enum": ["at"]},
            "number_field": {"type": "object", "required": ["offset", "size"], "additionalProperties": False,
                             "properties": {"offset": {"type": "integer", "minimum": 0, "maximum": 8},
                                            "size": {"type": "integer", "minimum": 1, "maximum": 8}}}}},
        "number": _REG,
        "number_bits": {"type": "integer", "minimum": 1, "maximum": 64},
        "args": {"type": "array", "minItems": 1, "maxItems": 8, "items": _REG},
        "pair_align": {"type": "integer", "minimum": 1, "maximum": 8},
        "result": _REG,
        "result2": _REG,
        "error_range": {"type": "array", "minItems": 2, "maxItems": 2, "items": _INT},
        "return": _TEXT,
        "forbidden": {"type": "array", "maxItems": 64, "items": {"type": "string", "pattern": r"^[a-z0-9. x]{1,24}$"}},
        "crash_interrupts": {"type": "array", "maxItems": 16, "items": {"type": "integer", "minimum": 0,
                                                                         "maximum": 255}},
        "vdso": {"type": "object", "required": ["symbols", "entry"], "additionalProperties": False,
                 "properties": {"symbols": {"type": "array", "maxItems": 8, "items": _TEXT}, "entry": _TEXT}},
        "clobbers_source": _TEXT,
        "cpu_clobbers": {"type": "object", "maxProperties": 64, "propertyNames": _REG,
                         "additionalProperties": {"enum": ["next_pc", "flags", "volatile"]}},
        "kernel_helpers": {"type": "object", "required": ["page", "functions"], "additionalProperties": False,
                           "properties": {"source": _TEXT, "page": _UINT, "functions": {
                               "type": "object", "maxProperties": 16, "additionalProperties": {
                                   "type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {"name": _REG | {"pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
                                                  "returns": {"enum": ["thread_pointer"]}}}}}},
        "stack_args": {"type": "object", "required": ["offset", "slots"], "additionalProperties": False,
                       "properties": {"offset": {"type": "integer", "minimum": 0, "maximum": 4096},
                                      "slots": {"type": "integer", "minimum": 1, "maximum": 8}}},
        "error_flag": _REG,
        "error_flag_bits": _UINT,
        "errno": {"type": "object", "maxProperties": 256, "propertyNames": _REG,
                  "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 4095}},
        "negated_errors": {"type": "array", "maxItems": 64, "items": _REG},
        "long_args": {"enum": ["by_type", "sign"]},
        "conventions": {"type": "object"},  # conventions.py checks its own part
    },
}


def statement_problem(name: str, d) -> str | None:
    """Why d is not a kernel ABI statement (STATEMENT_SCHEMA), as one phrase, or None."""
    import jsonschema

    try:
        jsonschema.validate(d, STATEMENT_SCHEMA)
    except jsonschema.ValidationError as e:
        where = ".".join(str(p) for p in e.absolute_path)
        return f"{name}{'.' + where if where else ''}: {e.message[:200]}"
    return None


@lru_cache(maxsize=8)
def _all(extra: str | None = None) -> dict:
    """The shipped statement, plus a user's statement (--kernel-abi FILE) for
    architectures it does not cover: a user may add an architecture, never restate one
    that the verifier knows on its own (that independence is what the checks rest on)."""
    shipped = yaml.safe_load((Path(__file__).parent / "linux_abi.yaml").read_text(encoding="utf-8"))
    if extra is None:
        return shipped
    # A user's file: read like the tables (a regular file of bounded size, no aliases,
    # nesting bounded, duplicate keys refused), one line on any problem.
    doc = yamlio.read(Path(extra))
    if doc.problems:
        raise StubgenError(f"cannot read the kernel ABI statement: {doc.problems[0]}")
    own = doc.data
    if not isinstance(own, dict):
        raise StubgenError(f"{extra}: expected a mapping of architecture name to its kernel ABI")
    for name, d in own.items():
        if name in shipped:
            raise StubgenError(f"{extra}: {name}: the verifier's own statement covers {name}; a --kernel-abi "
                               f"file may only add architectures (it knows {', '.join(sorted(shipped))})")
        missing = [k for k in _REQUIRED if not isinstance(d, dict) or k not in d]
        if missing:
            raise StubgenError(f"{extra}: {name}: missing {', '.join(missing)} (see stubgen/verifier/"
                               "linux_abi.yaml for the form)")
        why = statement_problem(str(name), d)
        if why:
            raise StubgenError(f"{extra}: {why} (see stubgen/verifier/linux_abi.yaml for the form)")
    return {**shipped, **own}


@cache
def linux_abi(arch_name: str, extra: str | None = None) -> LinuxABI:
    """The verifier's picture of the kernel ABI of an architecture; extra: a user's
    statement for architectures the shipped one lacks."""
    known = _all(extra)
    d = known.get(arch_name)
    if d is None:
        raise StubgenError(f"the verifier has no statement of the Linux ABI for {arch_name!r} "
                           f"(stubgen/verifier/linux_abi.yaml knows {', '.join(sorted(known))}; for a new "
                           "architecture, give your own with --kernel-abi FILE)")
    return LinuxABI(trap=d["trap"], number=d["number"], number_bits=d["number_bits"], args=tuple(d["args"]),
                    result=d["result"], ret=d["return"], error_range=tuple(d["error_range"]),
                    cpu_clobbers=d.get("cpu_clobbers", {}), forbidden=tuple(d["forbidden"]),
                    crash_interrupts=tuple(d["crash_interrupts"]), vdso=d.get("vdso"),
                    pair_align=d.get("pair_align", 1), stack_args=d.get("stack_args"),
                    error_flag=d.get("error_flag", ""),
                    error_flag_bits=d.get("error_flag_bits", 0), errno=d.get("errno"),
                    negated_errors=tuple(d.get("negated_errors", ())), clobbers_source=d.get("clobbers_source", ""),
                    result2=d.get("result2", ""), kernel_helpers=d.get("kernel_helpers"),
                    long_args=d.get("long_args", ""),
                    opcodes=tuple(Opcode(**o) for o in d["trap"].get("opcodes", ())))


@cache
def _syscall_facts() -> dict:
    return yaml.safe_load((Path(__file__).parent / "syscalls.yaml").read_text(encoding="utf-8"))


def never_fail() -> frozenset[str]:
    """Syscalls whose kernel entry cannot return an error (syscalls.yaml)."""
    return frozenset(_syscall_facts()["never_fail"])


def indirect_words(entry_point: str) -> int:
    """How many words an entry point reads through its one pointer argument, as its
    arguments (syscalls.yaml indirect; 0: it reads its arguments from registers)."""
    return _syscall_facts()["indirect"].get(entry_point, {}).get("words", 0)


def known_arches() -> list[str]:
    return sorted(_all())
