"""Read Go (Plan 9) assembly back and lower it to Keystone syntax, with the rules
in templates/plan9/<arch>.lower.yaml. The FP pseudo-register becomes the stack
pointer plus the architecture's FP offset (frameless functions only)."""
from __future__ import annotations

import itertools
import re

from ..dialects.rules import plain_format
from ..errors import StubgenError
from .body import Body, ReadError

# TEXT pkg·name(SB), TEXT ·name(SB), TEXT name<>(SB) (file-local), name<ABIInternal>.
# The symbol is the name without its package; $frame without -argsize is allowed.
TEXT = re.compile(r"^TEXT\s+(?:[\w./]*·)?(?P<sym>\w+)(?:<>)?(?:<(?P<abi>\w+)>)?\(SB\)\s*,\s*"
                  r"(?:[\w|]+\s*,\s*)?\$(?P<frame>-?\d+)(?:-(?P<args>\d+))?$")
_NUM = r"-?(?:0x[0-9a-fA-F]+|\d+)"
_IMM = re.compile(r"\$(" + _NUM + ")")
_FP = re.compile(r"(\w+)\+(" + _NUM + r")\(FP\)")
_PC = re.compile(r"(" + _NUM + r")\(PC\)")
_MEM = re.compile(r"(" + _NUM + r")?\((\w+)\)")
_SB = re.compile(r"\*([\w·.]+)\(SB\)")
_NAME = re.compile(r"[A-Za-z_]\w*")
_LABEL = re.compile(r"(\w+):")
_OCTAL = re.compile(r"-?0\d+")
_SPACE = re.compile(r"\s")
_ABSOLUTE = re.compile(_NUM)  # a bare address: MOVL $0xf1, 0xf1


def _unnamed(m: re.Match) -> str:
    return f"_+{m.group(2)}(FP)"


def _int(s: str) -> int:
    try:
        return int(s, 0) if not _OCTAL.fullmatch(s) else int(s, 8)
    except ValueError:  # $09: a leading 0 is octal to Go's assembler, and 9 is no octal digit
        raise ReadError(f"{s!r} is not a number Go's assembler reads (a leading 0 means octal)") from None


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
        if 0 <= self.value < 2**16:
            k.append("u16")
        if -(2**15) <= self.value < 2**15:
            k.append("s16")
        return k + ["i"]

    def __getattr__(self, name):
        if name == "pool":
            return plain_format(self.fmt["pool"], fields={"value": self.value & 0xFFFFFFFF})
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
        return str(self.value)  # labels and symbol addresses


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


class Plan9Reader:
    def __init__(self, arch, rules: dict):
        self.arch = arch
        self.fmt = rules["format"]
        self.rules = rules["rules"]
        self.subregs = rules.get("subregisters", {})
        self.operand_bytes = rules.get("operand_bytes", {})  # bytes a mnemonic moves, for FP slot widths
        self._attrs = frozenset(self.subregs) | {"pool"}
        self.canon = {v: k for k, v in arch.registers.items()}  # Plan 9 name -> canonical
        self._text: str | None = None
        self._funcs: dict = {}
        # A line's lowering depends on its text, the symbols' addresses and, for n(PC)
        # branches, its index: stubs share most lines (RET, the error test, loads from the
        # same frame slots), and lowering one costs 10-20 µs.
        self._lowered: dict = {}

    def _operand(self, s: str, index: int, symbols: dict[str, int]) -> Operand:
        mk = lambda kind, **kw: Operand(kind, self.fmt, subregs=self.subregs, **kw)  # noqa: E731
        sp = self.arch.stack_pointer
        if m := _IMM.fullmatch(s):
            return mk("i", value=_int(m.group(1)))
        if m := _FP.fullmatch(s):
            op = mk("m", base=sp, offset=self.arch.go_abi0.fp + _int(m.group(2)))
            op.slot = (m.group(1), _int(m.group(2)))
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
        if s in self.canon:
            return mk("r", reg=self.canon[s])
        if _ABSOLUTE.fullmatch(s):
            return mk("a", value=_int(s))
        if _NAME.fullmatch(s):
            return mk("l", value=f".L{s}")
        raise ReadError(f"cannot read operand {s!r}")

    def _functions(self, text: str) -> dict:
        """Each TEXT symbol's (frame, lines, the line number of each, the TEXT line's). A file from a manifest holds every stub of
        an architecture and is read once per symbol: split it once."""
        if text is self._text or text == self._text:
            return self._funcs
        funcs: dict = {}
        cur = None
        for n, ln in enumerate(text.splitlines(), 1):
            s = ln.split("//")[0].strip()
            if m := TEXT.match(s):
                frame = (int(m.group("frame")), int(m.group("args")) if m.group("args") else None)
                # A symbol defined twice: its last TEXT wins, with the lines of every one.
                cur = funcs.setdefault(m.group("sym"), [frame, [], [], n])
                cur[0], cur[3] = frame, n
                continue
            if cur is not None and s:
                cur[1].append(s)
                cur[2].append(n)
        self._text, self._funcs = text, {k: tuple(v) for k, v in funcs.items()}
        return self._funcs

    def read(self, text: str, symbol: str, symbols: dict[str, int]) -> Body:
        """The body of TEXT ·symbol, lowered."""
        frame, lines, numbers, start = self._functions(text).get(symbol, (None, [], [], None))
        if frame is None:
            raise ReadError(f"no TEXT ·{symbol}(SB) in the file")
        if frame[0] != 0:
            raise ReadError(f"·{symbol} has a ${frame[0]} frame: the verifier reads frameless functions only")
        body = Body([], [], [], frame, start=start)
        # labels cost Keystone time: place only those branches use
        parsed: list[tuple[str, int | None, str | None]] = []
        targets: set[int] = set()
        memo = self._lowered.setdefault(tuple(symbols.items()), {})
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
            if "(PC)" in s:
                key = (key, len(body.source))
            line = memo.get(key)
            if line is None:
                line = memo[key] = self._lower(s, len(body.source), symbols)
            lowered, rule, numbers, slots, pooled, pc_targets = line
            targets |= pc_targets
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
                body.lines.append(f".Lpc{idx}:")
            body.lines.append(line)
            pool |= rule is not None and ".pool}" in rule
        # A rule of several statements ("beqz ...; nop": the delay slot Go's assembler
        # fills) is one source line that encodes as several instructions.
        at = 0
        for lowered, where, _ in parsed:
            if where is None:
                continue
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

    def _lower(self, s: str, index: int, symbols: dict[str, int]) -> tuple:
        """Line s (instruction index) as (lowered text, rule, numbers it must carry,
        FP slots, pooled constants, n(PC) targets)."""
        mnem, rest = (_SPACE.split(s, maxsplit=1) + [""])[:2]
        base, _, cond = mnem.partition(".")
        ops = [self._operand(o, index, symbols) for o in _split_operands(rest)]
        rule = self._rule(base, ops, s)
        try:
            # Plain fields only: a rule is text from a templates directory, and str.format
            # would follow {0.__init__.__globals__} into this process.
            lowered = plain_format(rule, ops, {"cond": cond.lower()}, self._attrs)
        except StubgenError as e:
            raise ReadError(f"{s!r}: lowering rule {e}") from None
        pooled = ".pool}" in rule
        # A pooled constant is checked by running it; Capstone shows only the pool offset.
        numbers = frozenset() if pooled else frozenset(o.value if o.kind in "ia" else o.offset
                                                       for o in ops if o.kind in "ima")
        return (lowered, rule, numbers,
                tuple((o.slot[0], o.slot[1], self.operand_bytes.get(base)) for o in ops if o.slot),
                tuple(o.value for o in ops if o.kind == "i") if pooled else (),
                frozenset(int(str(o.value)[4:]) for o in ops if o.kind == "l" and str(o.value).startswith(".Lpc")))

    def _rule(self, mnem: str, ops: list[Operand], src: str) -> str:
        table = self.rules.get(mnem)
        if table is None:
            raise ReadError(f"instruction {mnem!r} in {src!r} is not one the verifier knows for "
                            f"{self.arch.name}: add it to templates/plan9/{self.arch.name}.lower.yaml")
        for combo in itertools.product(*(o.kinds() for o in ops)):
            key = ",".join(combo)
            if key in table:
                return table[key]
        raise ReadError(f"{src!r}: no rule for {mnem} with operands "
                        f"{','.join(o.kind for o in ops) or '(none)'}")
