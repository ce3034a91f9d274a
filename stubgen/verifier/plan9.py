"""Read Go (Plan 9) assembly back and lower it to Keystone syntax, with the rules
in templates/plan9/<arch>.lower.yaml. The FP pseudo-register becomes the stack
pointer plus the architecture's FP offset, and the frame Go's assembler gives a
function with locals, or one that calls another, is the prologue and epilogue the
rules' `frame:` states."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ..dialects.rules import OPERAND_ATTRS, plain_format
from ..errors import StubgenError
from .assembly import DATA
from .body import Body, ReadError

# TEXT pkg·name(SB), TEXT ·name(SB), TEXT name<>(SB) (file-local), name<ABIInternal>.
# The symbol is the name without its package; $frame without -argsize is allowed.
TEXT = re.compile(r"^TEXT\s+(?:[\w./]*·)?(?P<sym>\w+)(?:<>)?(?:<(?P<abi>\w+)>)?\(SB\)\s*,\s*"
                  r"(?:(?P<flags>[\w|]+)\s*,\s*)?\$(?P<frame>-?\d+)(?:-(?P<args>\d+))?$")
_NUM = r"-?(?:0x[0-9a-fA-F]+|\d+)"
_IMM = re.compile(r"\$(" + _NUM + ")")
_FP = re.compile(r"(\w+)\+(" + _NUM + r")\(FP\)")
_PSEUDO_SP = re.compile(r"(\w+)([-+]" + _NUM.replace("-?", "") + r")\(SP\)")  # x-8(SP): the frame's top
_ADDR = re.compile(r"\$(.+\(\w+\))")  # $r+8(FP), $-8(R15): an address, not a load
_PC = re.compile(r"(" + _NUM + r")\(PC\)")
_MEM = re.compile(r"(" + _NUM + r")?\((\w+)\)")
_SB = re.compile(r"\*([\w·.]+)\(SB\)")
_SYM = re.compile(r"([\w·./]+)(?:<>)?(?:<\w+>)?(?:\+(" + _NUM + r"))?\(SB\)")  # sym(SB): a symbol's address
_NAME = re.compile(r"[A-Za-z_]\w*")
_LABEL = re.compile(r"(\w+):")
_OCTAL = re.compile(r"-?0\d+")
_SPACE = re.compile(r"\s")
_ABSOLUTE = re.compile(_NUM)  # a bare address: MOVL $0xf1, 0xf1
# Statements that make no code: data and the assembler's tables for the garbage
# collector and tracebacks (funcdata.h's NO_LOCAL_POINTERS is FUNCDATA).
NO_CODE = re.compile(r"^(?:DATA|GLOBL|FUNCDATA|PCDATA|NO_LOCAL_POINTERS)\b")


def _unnamed(m: re.Match) -> str:
    return f"_+{m.group(2)}(FP)"


def _int(s: str) -> int:
    try:
        v = int(s, 0) if not _OCTAL.fullmatch(s) else int(s, 8)
    except ValueError:  # $09: a leading 0 is octal to Go's assembler, and 9 is no octal digit
        raise ReadError(f"{s!r} is not a number Go's assembler reads (a leading 0 means octal)") from None
    # Go's constants are int64: $0xfffffffffffff001 is -4095.
    return v - (1 << 64) if 1 << 63 <= v < 1 << 64 else v


def _rot_encodable(v: int) -> bool:
    """An ARM data-processing immediate: 8 bits rotated right by an even amount."""
    v &= 0xFFFFFFFF
    return any(((v << r | v >> (32 - r)) & 0xFFFFFFFF) < 256 for r in range(0, 32, 2))


def _bitmask64(v: int) -> bool:
    """A 64-bit logical immediate (the bitmask form of ORR/AND): a rotated run of ones in an element
    of 2..64 bits, repeated. Go's assembler loads such a constant with orr from the zero
    register even where a movz would do."""
    v &= (1 << 64) - 1
    if v in (0, (1 << 64) - 1):
        return False
    for size in (2, 4, 8, 16, 32, 64):
        m = (1 << size) - 1
        e = v & m
        if all((v >> k) & m == e for k in range(0, 64, size)):
            if e in (0, m):
                return False
            rot = ((e >> 1) | ((e & 1) << (size - 1)))
            return bin(e ^ rot).count("1") == 2
    return False


class Operand:
    def __init__(self, kind, fmt, value=None, reg=None, base=None, offset=0, subregs=None):
        self.kind, self.fmt, self.value, self.reg = kind, fmt, value, reg
        self.base, self.offset, self.subregs = base, offset, subregs or {}
        self.slot: tuple[str, int] | None = None  # (name, offset) of a Go FP slot

    def kinds(self) -> list[str]:
        if self.kind != "i":
            return [self.kind]
        k = ["zero"] if self.value == 0 else []  # Go's arm64 assembler moves the zero register
        k += ["bitmask64"] if _bitmask64(self.value) else []
        if 0 <= self.value < 2**32:
            k.append("u32")
        if _rot_encodable(self.value) and -(2**31) <= self.value < 2**32:
            k.append("rot")
        elif _rot_encodable(~self.value) and -(2**31) <= self.value < 2**32:
            k.append("nrot")  # ARM: its complement is an immediate (Go's MOVW $-1 is mvn #0)
        if 0 <= self.value < 2**16:
            k.append("u16")
        if -(2**11) <= self.value < 0:
            k.append("n12")  # negative, in a 12-bit signed field (LoongArch addi.d)
        if -(2**15) <= self.value < 2**15:
            k.append("s16")
        return k + ["i"]

    def __getattr__(self, name):
        if name == "pool":
            return plain_format(self.fmt["pool"], fields={"value": self.value & 0xFFFFFFFF})
        if name == "breg":  # the base register of a memory operand or an address, formatted
            return plain_format(self.fmt.get("reg", "{name}"), fields={"name": self.__dict__["base"]})
        if name == "disp":  # its offset
            return self.__dict__["offset"]
        if name == "inv":  # the immediate's complement, formatted (ARM mvn)
            return plain_format(self.fmt["imm"], fields={"value": ~self.value & 0xFFFFFFFF})
        subs = self.__dict__.get("subregs", {})
        if name in subs:
            return subs[name][self.reg]
        raise AttributeError(name)

    def __format__(self, spec):
        if self.kind == "r":
            return self.fmt.get("reg", "{name}").format(name=self.reg)
        if self.kind == "i":
            return plain_format(self.fmt["imm"], fields={"value": self.value})
        if self.kind == "m":
            base = plain_format(self.fmt.get("reg", "{name}"), fields={"name": self.base})
            return plain_format(self.fmt["mem"], fields={"base": base, "offset": self.offset})
        if self.kind == "a":
            return plain_format(self.fmt["absolute"], fields={"value": self.value})
        return str(self.value)  # labels, pointer cells, symbols (their names: each assembler resolves them)


def _split_operands(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


@dataclass(frozen=True)
class Frame:
    """What Go's assembler adds around a function's body for its frame: the bytes the
    stack pointer moves (the FP displacement), the prologue, and what each RET becomes."""

    size: int = 0
    prologue: tuple[str, ...] = ()
    epilogue: tuple[str, ...] = ()  # before the RET's own instruction
    replaces_ret: bool = False  # the epilogue returns itself (arm: ldr pc, [sp], #n)
    pseudo_sp: int = 0  # x-8(SP) is the stack pointer plus this, plus -8


class Plan9Reader:
    def __init__(self, arch, rules: dict):
        self.arch = arch
        self.fmt = rules["format"]
        self.rules = rules["rules"]
        self.subregs = rules.get("subregisters", {})
        self.operand_bytes = rules.get("operand_bytes", {})  # bytes a mnemonic moves, for FP slot widths
        self.frame_rules = rules.get("frame")
        self.calls = frozenset(rules.get("calls", ()))  # mnemonics that call (and so save the return address)
        self._attrs = frozenset(self.subregs) | OPERAND_ATTRS
        self.canon = {v: k for k, v in arch.registers.items()}  # Plan 9 name -> canonical
        self.canon.update(rules.get("aliases", {}))  # other Plan 9 names of registers (ZERO, g, RSP)
        self.constants = rules.get("constants", {})  # names the assembler reads as numbers (ppc64 CR0SO)
        self._text: str | None = None
        self._funcs: dict = {}
        # A line's lowering depends on its text, the symbols' addresses, the frame and,
        # for n(PC) branches, its index: stubs share most lines (RET, the error test,
        # loads from the same frame slots), and lowering one costs 10-20 µs.
        self._lowered: dict = {}

    def _operand(self, s: str, index: int, symbols: dict[str, int], frame: Frame) -> Operand:
        mk = lambda kind, **kw: Operand(kind, self.fmt, subregs=self.subregs, **kw)  # noqa: E731
        sp = self.arch.stack_pointer
        if m := _IMM.fullmatch(s):
            return mk("i", value=_int(m.group(1)))
        if m := _FP.fullmatch(s):
            op = mk("m", base=sp, offset=self.arch.go_abi0.fp + frame.size + _int(m.group(2)))
            op.slot = (m.group(1), _int(m.group(2)))
            return op
        if m := _PSEUDO_SP.fullmatch(s):
            return mk("m", base=sp, offset=frame.pseudo_sp + _int(m.group(2)))
        if m := _ADDR.fullmatch(s):
            inner = self._operand(m.group(1), index, symbols, frame)
            if inner.kind != "m":
                raise ReadError(f"cannot read operand {s!r}")
            op = mk("ad", base=inner.base, offset=inner.offset)
            op.slot = inner.slot
            return op
        if m := _PC.fullmatch(s):
            return mk("l", value=f".Lpc{index + _int(m.group(1))}")
        if m := _MEM.fullmatch(s):
            reg = self.canon.get(m.group(2))
            if reg is None:
                raise ReadError(f"unknown register {m.group(2)!r} in {s!r}")
            return mk("m", base=reg, offset=_int(m.group(1) or "0"))
        if m := _SB.fullmatch(s):
            if m.group(1) not in symbols:
                raise ReadError(f"unknown symbol {m.group(1)!r}")
            return mk("p", value=f"{symbols[m.group(1)]:#x}")
        if s.startswith("$") and (m := _SYM.fullmatch(s[1:])):
            return mk("i", value=self._symbol(m, symbols))
        if m := _SYM.fullmatch(s):
            if m.group(2):
                raise ReadError(f"cannot read operand {s!r}: an offset from a symbol")
            self._symbol(m, symbols)
            return mk("s", value=m.group(1))
        if s in self.canon:
            return mk("r", reg=self.canon[s])
        if s in self.constants:
            return mk("i", value=self.constants[s])
        if _ABSOLUTE.fullmatch(s):
            return mk("a", value=_int(s))
        if _NAME.fullmatch(s):
            return mk("l", value=f".L{s}")
        raise ReadError(f"cannot read operand {s!r}")

    @staticmethod
    def _symbol(m: re.Match, symbols: dict[str, int]) -> int:
        name = m.group(1)
        if name not in symbols:
            raise ReadError(f"unknown symbol {name}(SB): not in this file, and no stand-in takes its place")
        return symbols[name] + _int(m.group(2) or "0")

    def _functions(self, text: str) -> dict:
        """Each TEXT symbol's (frame, lines, the line number of each, the TEXT line's,
        flags). A file from a manifest holds every stub of an architecture and is read
        once per symbol: split it once."""
        if text is self._text or text == self._text:
            return self._funcs
        funcs: dict = {}
        cur = None
        for n, ln in enumerate(text.splitlines(), 1):
            s = ln.split("//")[0].strip()
            if m := TEXT.match(s):
                frame = (int(m.group("frame")), int(m.group("args")) if m.group("args") else None)
                # A symbol defined twice: its last TEXT wins, with the lines of every one.
                cur = funcs.setdefault(m.group("sym"), [frame, [], [], n, ""])
                cur[0], cur[3], cur[4] = frame, n, m.group("flags") or ""
                continue
            if cur is not None and s and not NO_CODE.match(s):
                cur[1].append(s)
                cur[2].append(n)
        self._text, self._funcs = text, {k: tuple(v) for k, v in funcs.items()}
        return self._funcs

    def frame(self, symbol: str, declared: int, flags: str, lines) -> Frame:
        """What Go's assembler adds around the body: nothing for NOFRAME (or a negative
        frame size) and for a leaf without locals; else the rules' prologue and epilogue."""
        calls = any(_SPACE.split(s, maxsplit=1)[0] in self.calls for s in lines)
        if "NOFRAME" in flags.split("|") or declared < 0:
            return Frame()
        rules = self.frame_rules
        need = declared > 0 or (calls and (rules or {}).get("frameless_call", True))
        if not need:
            return Frame()
        if not rules:
            raise ReadError(f"·{symbol} has a ${declared} frame"
                            + (" and calls another function" if calls else "")
                            + f": templates/plan9/{self.arch.name}.lower.yaml says nothing of Go's frames")
        add, align = rules.get("add", 0), rules.get("align", 1)
        size = -(-(declared + add) // align) * align
        fields = {"size": size, "frame": declared, "locals": size - add}

        def lines_of(key):
            return tuple(plain_format(t, fields=fields) for t in rules.get(key, ())
                         if not (t.startswith("frame?") and declared == 0)) if key in rules else None

        strip = lambda ts: tuple(t.removeprefix("frame?") for t in ts)  # noqa: E731
        prologue = strip(lines_of("prologue") or ())
        epilogue = strip((lines_of("epilogue_call") if calls else None) or lines_of("epilogue") or ())
        return Frame(size, prologue, epilogue, bool(rules.get("epilogue_returns")),
                     size + rules.get("pseudo_sp", 0))

    def read(self, text: str, symbol: str, symbols: dict[str, int]) -> Body:
        """The body of TEXT ·symbol, lowered."""
        frame_decl, lines, numbers, start, flags = self._functions(text).get(symbol, (None, [], [], None, ""))
        if frame_decl is None:
            raise ReadError(f"no TEXT ·{symbol}(SB) in the file")
        frame = self.frame(symbol, frame_decl[0], flags, lines)
        body = Body([], [], [], frame_decl, start=start)
        # labels cost Keystone time: place only those branches use
        parsed: list[tuple[str, int | None, str | None]] = []
        for pro in frame.prologue:
            parsed.append((pro, len(body.source), None))
            body.source.append("(Go's prologue)")
            body.numbers.append(set())
            body.where.append(start)
        first = len(body.source)
        targets: set[int] = set()
        memo = self._lowered.setdefault((tuple(symbols.items()), frame), {})
        if len(memo) > 4096:
            memo.clear()
        for s, n in zip(lines, numbers):
            if m := _LABEL.fullmatch(s):
                parsed.append((f".L{m.group(1)}:", None, None))
                continue
            # An FP slot's name changes nothing but the slot's name: a.n+8(FP) and b.n+8(FP)
            # lower alike.
            names = [m.group(1) for m in _FP.finditer(s)] if "(FP)" in s else []
            key = _FP.sub(_unnamed, s) if names else s
            index = len(body.source) - first
            if "(PC)" in s:
                key = (key, index)
            line = memo.get(key)
            if line is None:
                line = memo[key] = self._lower(s, index, symbols, frame)
            lowered, rule, numbers, slots, pooled, pc_targets = line
            targets |= {first + t for t in pc_targets}
            parsed.append((lowered, len(body.source), rule))
            body.source.append(s)
            body.where.append(n)
            body.numbers.append(set(numbers))
            body.slots += [(name, off, width) for name, (_, off, width) in zip(names, slots)]
            body.pooled += pooled
        if any(i >= len(body.source) for i in targets):
            raise ReadError(f"·{symbol}: a branch n(PC) points past the last instruction")
        pool = False
        for line, idx, rule in parsed:
            if idx in targets:
                body.lines.append(f".Lpc{idx - first}:")
            body.lines.append(line)
            pool |= rule is not None and ".pool}" in rule
        # A rule of several statements ("beqz ...; nop": the delay slot Go's assembler
        # fills) is one source line that encodes as several instructions.
        at = 0
        for lowered, where, _ in parsed:
            if where is None:
                continue
            if DATA.match(lowered):
                body.data[at] = 1 if lowered.startswith(".byte") else 4
            extra = lowered.count(";")
            for _ in range(extra):
                body.source.insert(at + 1, f"(after {body.source[at]})")
                body.numbers.insert(at + 1, set())
                body.where.insert(at + 1, body.where[at])
            at += 1 + extra
        if pool:
            body.lines.append(self.fmt["pool_tail"])
            body.source.append("(literal pool)")
            body.numbers.append(set())
            body.where.append(body.where[-1] if body.where else start)
        return body

    def _lower(self, s: str, index: int, symbols: dict[str, int], frame: Frame) -> tuple:
        """Line s (instruction index) as (lowered text, rule, numbers it must carry,
        FP slots, pooled constants, n(PC) targets)."""
        mnem, rest = (_SPACE.split(s, maxsplit=1) + [""])[:2]
        base, _, cond = mnem.partition(".")
        ops = [self._operand(o, index, symbols, frame) for o in _split_operands(rest)]
        rule, kinds = self._rule(base, ops, s)
        if base == "RET" and (frame.epilogue or frame.replaces_ret):
            # Go's assembler restores the frame before the return.
            rule = "; ".join(frame.epilogue + (() if frame.replaces_ret else (rule,)))
        try:
            # Plain fields only: a rule is text from a templates directory, and str.format
            # would follow {0.__init__.__globals__} into this process.
            lowered = plain_format(rule, ops, {"cond": cond.lower()}, self._attrs)
        except StubgenError as e:
            raise ReadError(f"{s!r}: lowering rule {e}") from None
        pooled = ".pool}" in rule
        # A pooled constant is checked by running it; Capstone shows only the pool offset.
        # An immediate encoded by its complement (ARM mvn) shows as the complement.
        numbers = frozenset() if pooled else frozenset(
            (~o.value & 0xFFFFFFFF if k == "nrot" else o.value) if o.kind in "ia" else o.offset
            for o, k in zip(ops, kinds) if o.kind in ("i", "m", "a", "ad"))
        return (lowered, rule, numbers,
                # An address taken ($r+8(FP)) says nothing of the slot's width.
                tuple((o.slot[0], o.slot[1], None if o.kind == "ad" else self.operand_bytes.get(base))
                      for o in ops if o.slot),
                tuple(o.value for o in ops if o.kind == "i") if pooled else (),
                frozenset(int(str(o.value)[4:]) for o in ops if o.kind == "l" and str(o.value).startswith(".Lpc")))

    def _rule(self, mnem: str, ops: list[Operand], src: str) -> tuple[str, tuple[str, ...]]:
        """The rule for mnem with these operands, and the operand kinds it was chosen by."""
        table = self.rules.get(mnem)
        if table is None:
            raise ReadError(f"instruction {mnem!r} in {src!r} is not one the verifier knows for "
                            f"{self.arch.name}: add it to templates/plan9/{self.arch.name}.lower.yaml")
        for combo in itertools.product(*(o.kinds() for o in ops)):
            key = ",".join(combo)
            if key in table:
                return table[key], combo
        raise ReadError(f"{src!r}: no rule for {mnem} with operands "
                        f"{','.join(o.kind for o in ops) or '(none)'}")
