"""Preprocessed text translated around Keystone's pitfalls (`;`-joined statements,
decimal numbers, numeric labels 1: / 1f / 1b, constant expressions), and cut into
the functions the verifier checks one by one."""
from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass

from ..body import strip_block_comments
from ..plan9 import NO_CODE


@dataclass
class Function:
    name: str
    lines: list[str]  # the body, one statement a line, as the reader will see it
    abi: str = ""  # Plan 9 <ABIInternal> and the like


# ---------------------------------------------------------------- constant expressions

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
        ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitOr: operator.or_,
        ast.BitAnd: operator.and_, ast.BitXor: operator.xor}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_EXPR = re.compile(r"\((?:[\s0-9a-fA-FxX+\-*/<>|&^~]|\((?:[\s0-9a-fA-FxX+\-*/<>|&^~])*\))*\)")


def _eval(node):
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= right < 128:
            raise ValueError("shift out of range")
        value = _OPS[type(node.op)](left, right)
        if abs(value) >= 1 << 128:
            raise ValueError("constant out of range")
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    raise ValueError("not a constant expression")


def fold(text: str) -> str:
    """(4095 + 1) -> 4096: parenthesised integer arithmetic, as an assembler folds it."""
    def one(m):
        src = m.group(0).replace("/", "//")
        try:
            v = _eval(ast.parse(src, mode="eval"))
        except (SyntaxError, ValueError, ZeroDivisionError):
            return m.group(0)
        return str(v) if v >= 0 else f"-{-v}"
    for _ in range(4):
        new = _EXPR.sub(one, text)
        if new == text:
            break
        text = new
    return text


# ---------------------------------------------------------------- GNU

_LABEL_FIRST = re.compile(r"^([.\w$]+:)\s*(\S.*)$")
_NUMERIC_DEF = re.compile(r"^(\d+):$")
_NUMERIC_REF = re.compile(r"(?<![\w.$])(\d+)([fb])\b")
_DECIMAL = re.compile(r"(?<![\w.])(\d+)(?![\w.:])")


def _statements(text: str, comment: str | None) -> list[str]:
    """One statement a line: comments cut, `;`-joined statements and a label
    followed by an instruction split."""
    out = []
    for line in strip_block_comments(text).splitlines():
        if comment and comment in line:
            line = line.split(comment)[0]
        for stmt in line.split(";"):
            s = stmt.strip()
            while (m := _LABEL_FIRST.match(s)) and not s.startswith("."):
                out.append(m.group(1))
                s = m.group(2).strip()
            if s:
                out.append(s)
            elif not out or out[-1]:
                out.append("")
    return out


def _numeric_labels(lines: list[str]) -> list[str]:
    """1: / 1f / 1b as .L names: each definition gets its own, a reference the next
    (f) or the previous (b) definition of its number."""
    defs: dict[str, list[int]] = {}
    for i, s in enumerate(lines):
        if m := _NUMERIC_DEF.match(s):
            defs.setdefault(m.group(1), []).append(i)

    def name(n: str, i: int) -> str:
        return f".Lnum{n}_{i}"

    out = []
    for i, s in enumerate(lines):
        if m := _NUMERIC_DEF.match(s):
            out.append(name(m.group(1), i) + ":")
            continue
        if not s.startswith("."):
            def ref(m, i=i):
                n, way = m.group(1), m.group(2)
                at = defs.get(n, [])
                target = next((d for d in at if d > i), None) if way == "f" else \
                    next((d for d in reversed(at) if d < i), None)
                return name(n, target) if target is not None else m.group(0)
            s = _NUMERIC_REF.sub(ref, s)
        out.append(s)
    return out


def _hex_numbers(s: str, register=None) -> str:
    """Decimal literals in an instruction as hex (Keystone reads decimal as hex once
    any option is set); a leading 0 is octal, as GNU as reads it. register: a pattern of
    register tokens (MIPS $10), which are left as they are."""
    def one(m):
        d = m.group(1)
        v = int(d, 8) if len(d) > 1 and d[0] == "0" and d.isdigit() and "8" not in d and "9" not in d else int(d)
        return d if len(d) == 1 else f"{v:#x}"
    if register is None:
        return _DECIMAL.sub(one, s)
    out, at = [], 0
    for m in register.finditer(s):
        out += [_DECIMAL.sub(one, s[at:m.start()]), m.group(0)]
        at = m.end()
    return "".join(out) + _DECIMAL.sub(one, s[at:])


def gnu_translate(text: str, comment: str | None, register_token: str | None = None) -> str:
    register = re.compile(register_token) if register_token else None
    lines = _numeric_labels(_statements(text, comment))
    return "\n".join(s if s.startswith(".") or s.endswith(":") else _hex_numbers(fold(s), register)
                     for s in lines) + "\n"


_GLOBAL = re.compile(r"^\.(?:globl|global|type)\s+([\w$.]+)")


def gnu_functions(text: str) -> dict[str, Function]:
    """Functions: symbols declared .globl/.global/.type with a label, up to their
    .size or the next non-local label."""
    lines = text.splitlines()
    declared = {m.group(1) for s in lines if (m := _GLOBAL.match(s))}
    out: dict[str, Function] = {}
    cur = None
    for s in lines:
        if s.endswith(":") and not s.startswith(".L"):
            name = s[:-1]
            cur = Function(name, []) if name in declared else None
            if cur is not None:
                out.setdefault(name, cur)
            continue
        if cur is None:
            continue
        if s.startswith(".size") and re.match(r"\.size\s+" + re.escape(cur.name) + r"\b", s):
            cur = None
            continue
        if s and not s.startswith("."):
            cur.lines.append(s)
    return out


# ---------------------------------------------------------------- Plan 9

_SUM = re.compile(r"\$(-?\d+(?:[+-]\d+)+)(?![\w(])")
_PLAN9_TEXT_LINE = re.compile(r"^TEXT\s+(?:[\w./]*·)?(?P<sym>\w+)(?:<>)?(?:<(?P<abi>\w+)>)?\(SB\)")


def plan9_translate(text: str) -> tuple[str, dict[str, Function]]:
    """Statements one a line (`;` split), constant expressions folded ($(0x0 + 1)),
    and each TEXT's body."""
    out: list[str] = []
    funcs: dict[str, Function] = {}
    cur: Function | None = None
    for line in text.splitlines():
        for stmt in line.split(";"):
            s = stmt.strip()
            if not s:
                continue
            s = fold(s)
            s = re.sub(r"\$\((-?\d+)\)", r"$\1", s)
            # A sum of numbers not in parentheses ($FIXED_FRAME+8 after the macro): one number
            # (not in TEXT's $frame-argsize).
            if not s.startswith("TEXT"):
                s = _SUM.sub(lambda m: "$" + str(_eval(ast.parse(m.group(1), mode="eval"))), s)
            out.append(s)
            if m := _PLAN9_TEXT_LINE.match(s):
                cur = funcs.setdefault(m.group("sym"), Function(m.group("sym"), [], m.group("abi") or ""))
                continue
            if cur is not None and not NO_CODE.match(s):
                cur.lines.append(s)
    return "\n".join(out) + "\n", funcs
