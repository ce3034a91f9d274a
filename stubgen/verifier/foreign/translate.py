"""Preprocessed Plan 9 text translated around Keystone's pitfalls (`;`-joined statements,
constant expressions), and cut into the functions the verifier checks one by one. (GNU
files are made into objects by a real assembler: realtools/frontend.py.)"""
from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass

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
        if len(src) > MAX_EXPRESSION:
            return m.group(0)  # left as written: the reader refuses it (no parser recursion on hostile text)
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


# ---------------------------------------------------------------- Plan 9

_SUM = re.compile(r"\$(-?\d+(?:[+-]\d+)+)(?![\w(])")
_TERM = re.compile(r"[+-]?\d+")
MAX_EXPRESSION = 1000  # characters of a parenthesised constant expression folded (ast nests one level a term)


def _sum(text: str) -> int:
    """-8+16-4 -> 4, term by term (a 20,000-term sum is no deeper than a 2-term one)."""
    return sum(int(t) for t in _TERM.findall(text))
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
                s = _SUM.sub(lambda m: "$" + str(_sum(m.group(1))), s)
            out.append(s)
            if m := _PLAN9_TEXT_LINE.match(s):
                cur = funcs.setdefault(m.group("sym"), Function(m.group("sym"), [], m.group("abi") or ""))
                continue
            if cur is not None and not NO_CODE.match(s):
                cur.lines.append(s)
    return "\n".join(out) + "\n", funcs
