"""Stubs stubgen did not write (the Go runtime's sys_linux_*.s, bionic's syscalls/*.S,
musl's syscall.s), read as they are: the dialect told from the text, the file
preprocessed as its own toolchain would (the host's `cpp` for GNU .S, the Go
assembler's #include/#define for Plan 9), then translated around Keystone's
pitfalls (`;`-joined statements, decimal numbers, numeric labels 1: / 1f / 1b,
constant expressions) and checked function by function like a generated stub."""
from __future__ import annotations

import ast
import operator
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .. import policies
from ..errors import StubgenError

VERDICTS = ("pass", "fail", "unverified", "skipped")
SYMBOL_PREFIX = "sys_"  # the generator's default C prefix: sys_madvise is madvise


@dataclass(frozen=True)
class Choice:
    """--stub SYMBOL=SYSCALL[:POLICY]"""

    symbol: str
    syscall: str
    policy: str = policies.DEFAULT


def parse_choice(text: str) -> Choice:
    symbol, sep, rest = text.partition("=")
    syscall, _, policy = rest.partition(":")
    if not sep or not symbol or not syscall:
        raise StubgenError(f"--stub {text!r}: expected SYMBOL=SYSCALL[:POLICY], for example "
                           "write1=write or exit=exit_group:noreturn")
    policy = policy or policies.DEFAULT
    if policy not in policies.POLICIES:
        raise StubgenError(f"--stub {text!r}: unknown error policy {policy!r}; valid: "
                           f"{', '.join(sorted(policies.POLICIES))}")
    return Choice(symbol, syscall, policy)


@dataclass
class Function:
    name: str
    lines: list[str]  # the body, one statement a line, as the reader will see it
    abi: str = ""  # Plan 9 <ABIInternal> and the like


@dataclass
class Source:
    path: Path
    dialect: str
    text: str  # preprocessed and translated: what the reader reads
    functions: dict[str, Function]
    notes: list[str] = field(default_factory=list)  # missing headers and the like


@dataclass
class Verdict:
    file: str
    symbol: str
    syscall: str | None
    arch: str
    dialect: str
    policy: str | None
    verdict: str
    reasons: list[str] = field(default_factory=list)
    listing: str = ""
    runs: int = 0

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in ("file", "symbol", "syscall", "arch", "dialect", "policy",
                                               "verdict", "reasons")}


# ---------------------------------------------------------------- dialects

_PLAN9_TEXT = re.compile(r"^\s*TEXT\s+\S*\(SB\)", re.M)


def detect_dialect(text: str) -> str:
    """Plan 9 when a TEXT ...(SB) line is there, GNU otherwise."""
    return "plan9" if _PLAN9_TEXT.search(text) else "gnu"


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

def cpp(path: Path, arch, includes, defines) -> str:
    """A .S file through the host's C preprocessor, as a compiler does for
    assembler-with-cpp, for arch (its predefined macro from the tables) and not for
    the host: no host include directories, no host predefines."""
    exe = shutil.which("cpp")
    if exe is None:
        raise StubgenError(f"{path}: a .S file needs the C preprocessor: install cpp (Debian package cpp)")
    args = [exe, "-nostdinc", "-undef", "-P", "-x", "assembler-with-cpp", "-D__ASSEMBLER__",
            "-D__linux__", "-D__linux", "-Dlinux"]
    args += [f"-D{m}" for m in arch.c_macro]
    args += [f"-I{d}" for d in includes] + [f"-D{d}" for d in defines] + [str(path)]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise StubgenError(f"{path}: cpp did not finish within 30 s") from None
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip())
        raise StubgenError(f"{path}: cpp failed: {first.strip()} (pass header directories with -I)")
    return proc.stdout


_LABEL_FIRST = re.compile(r"^([.\w$]+:)\s*(\S.*)$")
_NUMERIC_DEF = re.compile(r"^(\d+):$")
_NUMERIC_REF = re.compile(r"(?<![\w.$])(\d+)([fb])\b")
_DECIMAL = re.compile(r"(?<![\w.])(\d+)(?![\w.:])")


def _statements(text: str, comment: str | None) -> list[str]:
    """One statement a line: comments cut, `;`-joined statements and a label
    followed by an instruction split."""
    from .body import strip_block_comments

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


def _hex_numbers(s: str) -> str:
    """Decimal literals in an instruction as hex (Keystone reads decimal as hex once
    any option is set); a leading 0 is octal, as GNU as reads it."""
    def one(m):
        d = m.group(1)
        v = int(d, 8) if len(d) > 1 and d[0] == "0" and d.isdigit() and "8" not in d and "9" not in d else int(d)
        return d if len(d) == 1 else f"{v:#x}"
    return _DECIMAL.sub(one, s)


def gnu_translate(text: str, comment: str | None) -> str:
    lines = _numeric_labels(_statements(text, comment))
    return "\n".join(s if s.startswith(".") or s.endswith(":") else _hex_numbers(fold(s)) for s in lines) + "\n"


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

_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")
_DEFINE = re.compile(r"^(\w+)(\(([^)]*)\))?\s*(.*)$")
_IDENT = re.compile(r"[A-Za-z_]\w*")
MAX_LINE = 4096  # a self-multiplying macro stops here


class _Macros:
    """The Go assembler's preprocessor: object-like and function-like #define."""

    def __init__(self):
        self.defs: dict[str, tuple[list[str] | None, str]] = {}

    def define(self, text: str) -> None:
        m = _DEFINE.match(text.strip())
        if not m:
            return
        params = [p.strip() for p in m.group(3).split(",")] if m.group(2) else None
        self.defs[m.group(1)] = (params, m.group(4).strip())

    def expand(self, line: str, depth: int = 0) -> str:
        if depth > 16 or not self.defs:
            return line
        out, i, changed = [], 0, False
        for m in _IDENT.finditer(line):
            name = m.group(0)
            if name not in self.defs or m.start() < i:
                continue
            params, body = self.defs[name]
            end = m.end()
            if params is not None:
                if end >= len(line) or line[end] != "(":
                    continue
                depth_p, j, args, cur = 0, end, [], ""
                while j < len(line):
                    ch = line[j]
                    if ch == "(":
                        depth_p += 1
                        if depth_p == 1:
                            j += 1
                            continue
                    elif ch == ")":
                        depth_p -= 1
                        if depth_p == 0:
                            break
                    if ch == "," and depth_p == 1:
                        args.append(cur.strip())
                        cur = ""
                    else:
                        cur += ch
                    j += 1
                args.append(cur.strip())
                sub = dict(zip(params, args))
                body = _IDENT.sub(lambda a: sub.get(a.group(0), a.group(0)), body)
                end = j + 1
            out.append(line[i:m.start()])
            out.append(body)
            i, changed = end, True
        if not changed:
            return line
        line = "".join(out) + line[i:]
        if len(line) > MAX_LINE:
            raise StubgenError(f"a macro expands to more than {MAX_LINE} characters on one line")
        return self.expand(line, depth + 1)


def plan9_preprocess(text: str, path: Path, goarch: str, includes, defines) -> tuple[str, list[str]]:
    """#include, #define, #ifdef/#ifndef/#else/#endif/#undef as the Go assembler does
    them (GOOS_linux and GOARCH_<goarch> defined). A header that is not found is a
    note, not an error: go_asm.h is generated by the Go build."""
    macros = _Macros()
    macros.define("GOOS_linux 1")
    macros.define(f"GOARCH_{goarch} 1")
    for d in defines:
        name, _, value = d.partition("=")
        macros.define(f"{name} {value or '1'}")
    notes: list[str] = []
    out: list[str] = []
    seen: set[Path] = set()

    def run(src: str, where: Path, depth: int):
        stack: list[bool] = []
        lines = src.splitlines()
        k = 0
        while k < len(lines):
            line = lines[k]
            k += 1
            while line.endswith("\\") and k < len(lines):
                line = line[:-1] + " " + lines[k]
                k += 1
            active = all(stack)
            d = _DIRECTIVE.match(line)
            if d:
                kw, arg = d.group(1), d.group(2).split("//")[0].strip()
                if kw in ("ifdef", "ifndef"):
                    stack.append((arg in macros.defs) == (kw == "ifdef"))
                elif kw == "else" and stack:
                    stack[-1] = not stack[-1]
                elif kw == "endif" and stack:
                    stack.pop()
                elif not active:
                    pass
                elif kw == "define":
                    macros.define(arg)
                elif kw == "undef":
                    macros.defs.pop(arg, None)
                elif kw == "include":
                    name = arg.strip('"<>')
                    found = next((p for p in [where.parent / name] + [Path(i) / name for i in includes]
                                  if p.is_file()), None)
                    if found is None:
                        notes.append(f"#include \"{name}\" not found" + (
                            " (generated by the Go build: go_asm.h holds the runtime's constants and offsets)"
                            if name == "go_asm.h" else " (pass its directory with -I)"))
                    elif found.resolve() not in seen and depth < 8:
                        seen.add(found.resolve())
                        run(found.read_text(encoding="utf-8", errors="replace"), found, depth + 1)
                out.append("")
                continue
            if not active:
                out.append("")
                continue
            code = line.split("//")[0]
            out.append(macros.expand(code) if code.strip() else "")

    run(text, path, 0)
    return "\n".join(out) + "\n", notes


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
            out.append(s)
            if m := _PLAN9_TEXT_LINE.match(s):
                cur = funcs.setdefault(m.group("sym"), Function(m.group("sym"), [], m.group("abi") or ""))
                continue
            if cur is not None:
                cur.lines.append(s)
    return "\n".join(out) + "\n", funcs


# ---------------------------------------------------------------- reading a file

def read_source(path: Path, arch, dialect: str | None, includes, defines, templates=None) -> Source:
    from .. import render

    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise StubgenError(f"{path}: {e}") from None
    dialect = dialect or detect_dialect(raw)
    notes: list[str] = []
    if dialect == "plan9":
        text, notes = plan9_preprocess(raw, path, arch.goarch, includes, defines)
        text, funcs = plan9_translate(text)
    else:
        if path.suffix == ".S":
            raw = cpp(path, arch, includes, defines)
        rules = render.dialect("gnu", templates).reading_rules(arch.name)
        text = gnu_translate(raw, rules.get("line_comment"))
        funcs = gnu_functions(text)
    return Source(path, dialect, text, funcs, notes)


# ---------------------------------------------------------------- what cannot be modelled

_SYMBOL = r"\s+(?!\*)(?:[\w./]*·)?([A-Za-z_$][\w$.@]*)(?:<>)?(?:\(SB\))?\s*$"


def external_targets(fn: Function, rules: dict, registers: set[str]) -> list[str]:
    """Functions fn calls or jumps to outside itself, by the reading rules' `foreign:
    calls` mnemonics (a register or a local label is no function)."""
    if not rules.get("calls"):
        return []
    pat = re.compile(r"^(?:" + rules["calls"] + ")" + _SYMBOL)
    out = []
    for s in fn.lines:
        if (m := pat.match(s)) and m.group(1) not in registers and not m.group(1).startswith(".L"):
            if m.group(1) not in out:
                out.append(m.group(1))
    return out


def unmodelled(fn: Function, rules: dict, policy, targets: list[str]) -> list[str]:
    """Why the verifier cannot model fn's convention (empty: it can)."""
    why = []
    if fn.abi and fn.abi != "ABI0":
        why.append(f"uses Go's <{fn.abi}> (register-based) convention; the verifier models ABI0 frames only")
    helpers = targets[1:] if policy.calls_handler else targets
    if helpers:
        why.append(f"calls a helper function ({', '.join(helpers)}) that the verifier cannot run")
    tls = rules.get("tls")
    if tls and any(re.search(tls, s) for s in fn.lines):
        why.append("reads thread-local storage (errno or g kept in TLS): not modelled")
    return why


def go_results(fn: Function, nargs: int) -> list[str] | None:
    """The names of the Go function's result slots past nargs arguments, from the FP
    references of its body; None when the body names fewer slots than arguments."""
    slots: dict[int, str] = {}
    for s in fn.lines:
        for m in re.finditer(r"(\w+)\+(-?(?:0x[0-9a-fA-F]+|\d+))\(FP\)", s):
            name = re.sub(r"_(lo|hi)$", "", m.group(1))
            slots.setdefault(int(m.group(2), 0), name)
    names = []
    for _, n in sorted(slots.items()):
        if n not in names:
            names.append(n)
    if len(names) < nargs:
        return None
    return names[nargs:]


# ---------------------------------------------------------------- verdicts

def _syscall_of(name: str, arch, tables) -> str | None:
    """The syscall a function is named after, as it is or without the generator's prefix."""
    for cand in (name, name.removeprefix(SYMBOL_PREFIX)):
        sig = tables.signature(arch, cand)
        if cand in arch.numbers or (sig is not None and sig.generic):
            return cand
    return None


def judge(verifier, src: Source, fn: Function, arch, choice: Choice | None) -> Verdict:
    from .. import render
    from . import Spec

    syscall = choice.syscall if choice else _syscall_of(fn.name, arch, verifier.tables)
    v = Verdict(str(src.path), fn.name, syscall, arch.name, src.dialect, None, "skipped")
    if syscall is None:
        v.reasons.append(f"not a syscall in the tables (--stub {fn.name}=SYSCALL checks it)")
        return v
    v.policy = choice.policy if choice else policies.DEFAULT
    policy = policies.POLICIES[v.policy]
    sig = verifier.tables.signature(arch, syscall)
    if sig is None:
        v.verdict = "unverified"
        v.reasons.append(f"the tables have no signature for {syscall}")
        return v
    rules = render.dialect(src.dialect, verifier.templates).reading_rules(arch.name).get("foreign", {})
    targets = external_targets(fn, rules, set(arch.registers) | set(arch.registers.values()))
    why = unmodelled(fn, rules, policy, targets)
    if src.dialect == "plan9":
        results = go_results(fn, len(sig.args))
        if results and len(results) > 1:
            why.append(f"the Go function returns {len(results)} results ({', '.join(results)}); "
                       "the verifier models one")
    if why:
        v.verdict = "unverified"
        v.reasons += why
        return v
    number = None if sig.generic else arch.numbers.get(syscall)
    handler = targets[0] if policy.calls_handler and targets else "stubgen_errno"
    spec = Spec(arch.name, src.dialect, fn.name, syscall, number, v.policy, "", handler, rendered=False)
    rep = verifier.check(src.text, spec, foreign=True)
    v.runs = rep.runs
    if rep.unverified:
        v.verdict = "unverified"
        v.reasons += rep.unverified
        if any("unknown" in u or "cannot read operand" in u for u in rep.unverified):
            v.reasons += [f"note: {n}" for n in src.notes]  # a name a missing header would define?
    elif rep.problems:
        v.verdict = "fail"
        v.reasons += rep.problems
        v.listing = rep.listing
    elif not rep.emulated:
        # Assembled and decoded, but never run: not a pass.
        v.verdict = "unverified"
        v.reasons += rep.not_run
    else:
        v.verdict = "pass"
    v.reasons += [f"warning: {w}" for w in rep.warnings]
    return v


def verify_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                 tables: str | None = None, templates: str | None = None, as_json: bool = False,
                 out=None) -> int:
    """Verify the functions of files stubgen did not write. Exit code: 0 when every
    checked function passed, 1 when one failed or could not be verified."""
    import json
    import sys

    from . import Verifier

    out = out or sys.stdout
    verifier = Verifier(tables, templates)
    arch = verifier.tables.arch(arch_name)
    if dialect is not None and dialect not in ("plan9", "gnu"):
        raise StubgenError(f"--dialect {dialect!r}: valid: gnu, plan9")
    choices: dict[str, Choice] = {}
    for text in stubs:
        c = parse_choice(text)
        if not verifier.tables.available(arch, c.syscall):
            raise StubgenError(f"--stub {text!r}: {c.syscall!r} has no number and signature on {arch.name} "
                               "in the tables (stubgen list shows them)")
        choices[c.symbol] = c
    sources = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise StubgenError(f"{path}: not a file (a directory is verified by its manifest.json, alone)")
        sources.append(read_source(path, arch, dialect, includes, defines, templates))
    missing = sorted(set(choices) - {n for s in sources for n in s.functions})
    if missing:
        known = sorted({n for s in sources for n in s.functions})
        raise StubgenError(f"--stub {missing[0]}: no function {missing[0]} in {', '.join(map(str, files))}; "
                           f"functions: {', '.join(known) or '(none)'}")
    verdicts = [judge(verifier, s, fn, arch, choices.get(fn.name)) for s in sources for fn in s.functions.values()]
    if as_json:
        for v in verdicts:
            print(json.dumps(v.as_json()), file=out)
    else:
        _print(verdicts, sources, out)
    checked = [v for v in verdicts if v.verdict != "skipped"]
    if not checked and not as_json:
        print("nothing checked: no function is named after a syscall in the tables "
              "(--stub SYMBOL=SYSCALL[:POLICY] picks one)", file=out)
    return 0 if checked and all(v.verdict == "pass" for v in checked) else 1


def _print(verdicts, sources, out) -> None:
    for v in verdicts:
        if v.verdict == "skipped":
            continue
        head = f"{v.verdict.upper() if v.verdict == 'fail' else v.verdict:10}  {Path(v.file).name} {v.symbol} " \
               f"({v.syscall}, policy {v.policy}, {v.arch}/{v.dialect})"
        print(head + (f": {v.runs} runs" if v.verdict == "pass" else ""), file=out)
        for r in v.reasons[:12]:
            print(f"            {r}", file=out)
        if v.listing:
            print(v.listing, file=out)
    for s in sources:
        skipped = [v.symbol for v in verdicts if v.verdict == "skipped" and v.file == str(s.path)]
        if skipped:
            print(f"skipped     {s.path.name}: {', '.join(skipped)} (not syscalls in the tables; "
                  "--stub NAME=SYSCALL[:POLICY] checks one)", file=out)
        for n in s.notes:
            print(f"note        {s.path.name}: {n}", file=out)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}
    print(", ".join(f"{counts[k]} {'failed' if k == 'fail' else 'passed' if k == 'pass' else k}" for k in VERDICTS),
          file=out)
