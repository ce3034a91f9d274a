"""Read syscall signatures out of the kernel's C: SYSCALL_DEFINEn(name, type, arg, ...)
and COMPAT_SYSCALL_DEFINEn in .c files (over as many lines as they take), and the
`asmlinkage long sys_name(type arg, ...);` prototypes of include/linux/syscalls.h and
arch/*/include/asm/syscalls*.h. Each definition keeps where it was found and the
preprocessor conditions around it, so that same-named variants (clone under
CONFIG_CLONE_BACKWARDS) can be told apart. A wrapper that a macro makes around a
function (MIPS's `save_static_function(sys_fork);` makes `__sys_fork`) is found too, as
a definition that names the function it wraps. Text only: nothing here is compiled."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import StubgenError
from ..tables import inputs
from ..tables.comments import strip_block_comments

_DEFINE = re.compile(r"^(COMPAT_)?SYSCALL_DEFINE([0-6])\(")
# A file's own name for one of them (powerpc's sys_ppc32.c: `#define PPC32_SYSCALL_DEFINE6
# SYSCALL_DEFINE6` under CONFIG_PPC32, COMPAT_SYSCALL_DEFINE6 else): its uses define each.
_ALIAS = re.compile(r"^\s*#\s*define\s+(\w+)\s+((?:COMPAT_)?SYSCALL_DEFINE[0-6])\s*$")
_PROTO = re.compile(r"^\s*asmlinkage\s+((?:unsigned\s+)?[A-Za-z_]\w*)\s+((?:compat_)?sys_\w+)\s*\(")
_COND = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)")
_QUALIFIERS = {"const", "volatile", "__user", "__force", "__kernel"}
# Kept in a pointer type, before its first `*`: what the kernel only reads
# (`const char __user *`) is `const` in the C prototypes too, so that a caller's const
# data needs no cast. A const after a `*` (of the pointer itself, or deeper) is dropped.
_POINTEE_QUALIFIERS = _QUALIFIERS - {"const"}
# Words that end a type, not a parameter name: `unsigned long`, `struct stat`.
_TYPE_WORDS = {"int", "long", "short", "char", "unsigned", "signed", "void"}
_TAGS = {"struct", "union", "enum"}
# Where the prototypes are: every header under these globs.
HEADER_GLOBS = ("include/linux/syscalls.h", "arch/*/include/asm/syscalls*.h")


@dataclass(frozen=True)
class Param:
    c_type: str  # as the kernel spells it, __user and qualifiers removed but a pointer's const: "const char *"
    name: str | None  # None where a prototype leaves it out


@dataclass(frozen=True)
class Definition:
    function: str  # the entry point: sys_madvise, compat_sys_ia32_mmap
    params: tuple[Param, ...]
    result: str  # C type of the result (long for SYSCALL_DEFINE)
    path: str  # relative to the kernel tree
    line: int
    conditions: tuple[str, ...]  # the #if/#elif/#else lines it sits under, outermost first
    prototype: bool  # a declaration in a header, not a definition
    error: str | None = None  # why its parameters could not be read (a macro among them)
    wraps: str | None = None  # a wrapper made by a macro: the function whose arguments it passes on

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def same_params(self, other: Definition) -> bool:
        return [p.c_type for p in self.params] == [p.c_type for p in other.params]


def clean_type(text: str) -> str:
    """A C type without qualifiers but the const of what a pointer points to, __user and
    extra blanks; pointers as ' *'."""
    text = re.sub(r"\s*\*\s*", " * ", text)
    words, pointer = [], False
    for w in text.split():
        pointer = pointer or w == "*"
        if w not in (_POINTEE_QUALIFIERS if "*" in text and not pointer else _QUALIFIERS):
            words.append(w)
    out = " ".join(words).replace(" * ", " *").replace(" *", " *")
    return re.sub(r"\* \*", "**", out).strip()


def _split_args(text: str) -> list[str]:
    """Top-level comma-separated pieces (a type may hold parentheses)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    tail = "".join(cur).strip()
    if tail or out:
        out.append(tail)
    return out


def _balanced(lines: list[str], i: int, start: int) -> tuple[str, int] | None:
    """The text inside the parenthesis opened at lines[i][start - 1], and the line where
    it closes; None if the file ends first."""
    depth, buf = 1, []
    col = start
    while i < len(lines):
        line = lines[i]
        for j in range(col, len(line)):
            ch = line[j]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    buf.append(line[col:j])
                    return " ".join(buf), i
        buf.append(line[col:])
        i, col = i + 1, 0
    return None


def _strip_comments(text: str) -> str:
    # Keep the newlines of block comments so that line numbers stay true.
    return re.sub(r"//[^\n]*", "", strip_block_comments(text))


def _param_from_prototype(text: str) -> Param:
    """`unsigned long start` -> (unsigned long, start); `int __user *` -> (int *, None)."""
    text = " ".join(text.split())
    m = re.match(r"^(.*?)([A-Za-z_]\w*)(\s*\[\s*\w*\s*\])?$", text)
    if m and not text.endswith("*"):
        head, last = m.group(1).strip(), m.group(2)
        words = [w for w in head.replace("*", " ").split() if w not in _QUALIFIERS]
        if words and last not in _TYPE_WORDS and not set(words) <= (_TYPE_WORDS - {"int", "long", "short", "char",
                                                                                   "void"}) | _TAGS:
            return Param(clean_type(head + (" *" if m.group(3) else "")), last)
    return Param(clean_type(text), None)


def _conditions(stack: list[str]) -> tuple[str, ...]:
    return tuple(stack)


def _wrapper_pattern(wrappers: dict[str, str] | None) -> re.Pattern | None:
    if not wrappers:
        return None
    names = "|".join(re.escape(m) for m in sorted(wrappers))
    return re.compile(rf"^\s*({names})\(\s*(\w+)\s*\)\s*;")


def parse_file(path: Path, rel: str, wrappers: dict[str, str] | None = None) -> list[Definition]:
    """Every definition and prototype of one file. wrappers: macro -> the name of the
    wrapper it makes, {function} standing for its argument ("__{function}")."""
    text = inputs.read_bytes(path, limit=inputs.MAX_KERNEL_BYTES, what="kernel file").decode("utf-8", "replace")
    lines = _strip_comments(text).splitlines()
    aliases: dict[str, list[str]] = {}
    for ln in lines:
        a = _ALIAS.match(ln)
        if a:
            aliases.setdefault(a.group(1), []).append(a.group(2))
    if not aliases:
        return _parse_lines(lines, rel, wrappers)
    # Once per macro each alias stands for, the alias written out as it; a definition
    # outside the aliases' lines is taken from the first round only.
    rounds = max(len(t) for t in aliases.values())
    used = re.compile(rf"^({'|'.join(map(re.escape, aliases))})(?=\()")
    out: list[Definition] = []
    for k in range(rounds):
        at: set[int] = set()

        def expand(ln: str, i: int) -> str:
            m = used.match(ln)
            if not m:
                return ln
            at.add(i + 1)
            targets = aliases[m.group(1)]
            return targets[min(k, len(targets) - 1)] + ln[m.end():]
        found = _parse_lines([expand(ln, i) for i, ln in enumerate(lines)], rel, wrappers)
        out += [d for d in found if k == 0 or d.line in at]
    return list(dict.fromkeys(out))


def _parse_lines(lines: list[str], rel: str, wrappers: dict[str, str] | None) -> list[Definition]:
    out: list[Definition] = []
    stack: list[str] = []
    wrapper = _wrapper_pattern(wrappers)
    i = 0
    while i < len(lines):
        line = lines[i]
        c = _COND.match(line)
        if c:
            kind, rest = c.group(1), " ".join(c.group(2).split())
            if kind in ("if", "ifdef", "ifndef"):
                stack.append(f"#{kind} {rest}")
            elif kind == "elif" and stack:
                stack[-1] = f"#elif {rest}"
            elif kind == "else" and stack:
                stack[-1] = "#else"
            elif kind == "endif" and stack:
                stack.pop()
            i += 1
            continue
        w = wrapper.match(line) if wrapper else None
        if w:
            assert wrappers is not None
            name = wrappers[w.group(1)].format(function=w.group(2))
            out.append(Definition(name, (), "long", rel, i + 1, _conditions(stack), False, wraps=w.group(2)))
            i += 1
            continue
        d = _DEFINE.match(line)
        p = None if d else _PROTO.match(line)
        if not (d or p):
            i += 1
            continue
        m = d or p
        assert m is not None
        got = _balanced(lines, i, m.end())
        if got is None:
            raise StubgenError(f"{rel}:{i + 1}: unterminated {m.group(0).strip()}")
        inner, end = got
        if d:
            pieces = _split_args(inner)
            n = int(d.group(2))
            prefix = "compat_sys_" if d.group(1) else "sys_"
            if not re.match(r"^\w+$", pieces[0]):
                raise StubgenError(f"{rel}:{i + 1}: {d.group(0)}: {pieces[0]!r} is not a syscall name")
            error = None
            if len(pieces) != 1 + 2 * n:
                # e.g. a macro that stands for two type and name pairs (arm64's arg_u32p)
                error = f"{len(pieces) - 1} type and name words in {d.group(0)}...), expected {2 * n}"
                params: tuple = ()
            else:
                params = tuple(Param(clean_type(pieces[1 + 2 * k]), pieces[2 + 2 * k].strip()) for k in range(n))
            out.append(Definition(prefix + pieces[0], params, "long", rel, i + 1, _conditions(stack), False,
                                  error))
        else:
            assert p is not None
            pieces = _split_args(inner)
            if pieces == ["void"] or pieces == [""]:
                pieces = []
            params = tuple(_param_from_prototype(a) for a in pieces)
            out.append(Definition(p.group(2), params, clean_type(p.group(1)), rel, i + 1, _conditions(stack),
                                  True))
        i = end + 1
    return out


def scan(src: Path, wrappers: dict[str, str] | None = None) -> dict[str, list[Definition]]:
    """function name -> every definition and prototype of it in the tree at src
    (.c files under it, and the headers of HEADER_GLOBS), in path order; with the
    wrappers the macros of `wrappers` make (see parse_file)."""
    found: dict[str, list[Definition]] = {}
    marks = [b"SYSCALL_DEFINE", b"asmlinkage"] + [m.encode() for m in wrappers or ()]
    # An iterative walk (a 1,100-deep tree made rglob raise RecursionError); each file
    # read confined to the tree, regular and bounded before it is read.
    files = sorted(p for p in inputs.walk(src, follow=False) if p.suffix == ".c")
    for g in HEADER_GLOBS:
        files += sorted(p for p in src.glob(g) if p.is_file())
    for path in files:
        rel = path.relative_to(src).as_posix()
        path = inputs.confined(path, [src])
        if path.suffix == ".c":
            # Cheap first look: most .c files define no syscall.
            data = inputs.read_bytes(path, limit=inputs.MAX_KERNEL_BYTES, what="kernel file")
            if not any(m in data for m in marks):
                continue
        for d in parse_file(path, rel, wrappers):
            found.setdefault(d.function, []).append(d)
    return found


def _names_config(condition: str, config: set[str]) -> bool:
    return any(re.search(rf"\b{re.escape(c)}\b", condition) for c in config) and "!" not in condition \
        and not condition.startswith("#ifndef")


def _usable(d: Definition) -> Definition:
    if d.error:
        raise LookupError(f"{d.function} at {d.where}: {d.error}")
    return d


def resolve(function: str, candidates: list[Definition], arch_dir: str, config: set[str]) -> Definition:
    """The definition of function that an architecture built from arch_dir with the
    given CONFIG_ options compiles. Order of preference: a definition (not a prototype);
    in the architecture's own directory over a generic file; among variants that differ,
    the one under an #if naming one of config, else the #else one."""
    if not candidates:
        raise LookupError(f"{function}: no definition or prototype in the kernel's C "
                          "(written in assembly? then name the C function it passes the call to in the overrides)")
    mine = [d for d in candidates if not d.path.startswith("arch/") or d.path.startswith(arch_dir + "/")]
    if not mine:
        raise LookupError(f"{function}: defined only for other architectures "
                          f"({', '.join(d.where for d in candidates)})")
    for pool in ([d for d in mine if not d.prototype], [d for d in mine if d.prototype]):
        own = [d for d in pool if d.path.startswith(arch_dir + "/")]
        pool = own or pool
        if not pool:
            continue
        if all(d.same_params(pool[0]) for d in pool):
            return _usable(pool[0])
        chosen = [d for d in pool if d.conditions and _names_config(d.conditions[-1], config)]
        if not chosen:
            chosen = [d for d in pool if d.conditions and d.conditions[-1] == "#else"]
        if chosen and all(d.same_params(chosen[0]) for d in chosen):
            return _usable(chosen[0])
        raise LookupError(f"{function}: {len(pool)} variants that differ "
                          f"({', '.join(d.where + ' under ' + (d.conditions[-1] if d.conditions else '-') for d in pool)});"
                          " name the CONFIG_ option that picks one in the overrides")
    raise LookupError(f"{function}: no definition or prototype")


def resolve_entry(function: str, defs: Mapping[str, list[Definition]], arch_dir: str, config: set[str]) -> Definition:
    """resolve(), and through a wrapper to the definition of the function it wraps:
    the wrapper takes the call with that function's arguments."""
    seen = [function]
    d = resolve(function, defs.get(function, []), arch_dir, config)
    while d.wraps:
        if d.wraps in seen:
            raise LookupError(f"{function}: wrappers go round in a circle ({' -> '.join(seen + [d.wraps])})")
        seen.append(d.wraps)
        try:
            d = resolve(d.wraps, defs.get(d.wraps, []), arch_dir, config)
        except LookupError as e:
            raise LookupError(f"{function} (the wrapper at {d.where}) wraps {e}") from None
    return d
