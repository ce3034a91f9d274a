"""A verdict per function of a foreign file: pass, fail, unverified (with the reason,
never counted as passed) or skipped, from the verifier's report and from what it
cannot model (calls into other code, TLS, Go's register ABI)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ... import dialects
from ...errors import StubgenError
from ...tables import policies
from ..checker import Verifier
from ..contract import check
from ..spec import Spec
from .choice import Choice, parse_choice
from .source import Source, read_source
from .translate import Function

VERDICTS = ("pass", "fail", "unverified", "skipped")
SYMBOL_PREFIX = "sys_"  # the generator's default C prefix: sys_madvise is madvise


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
    aliases: list[str] = field(default_factory=list)  # other names of the same body (machine code)

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in ("file", "symbol", "syscall", "arch", "dialect", "policy",
                                               "verdict", "reasons", "aliases")}


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

def syscall_of(name: str, arch, tables) -> str | None:
    """The syscall a function is named after, as it is or without the generator's prefix."""
    for cand in (name, name.removeprefix(SYMBOL_PREFIX)):
        sig = tables.signature(arch, cand)
        if cand in arch.numbers or (sig is not None and sig.generic):
            return cand
    return None


# What a function of each dialect starts with, and the other dialect's name.
_STARTS = {"plan9": ("no TEXT symbol (a Plan 9 function starts TEXT ·name(SB))", "gnu", "GNU"),
           "gnu": ("no function (a label that .globl or .type declares)", "plan9", "Plan 9")}


def _no_functions(path: Path, dialect: str, forced: bool) -> str:
    what, other, name = _STARTS[dialect]
    hint = f": is it a {name} file? (--dialect {other}, or no --dialect to tell by its text)" if forced else ""
    return f"{path}: {what}{hint}"


def judge(verifier, src: Source, fn: Function, arch, choice: Choice | None) -> Verdict:
    syscall = choice.syscall if choice else syscall_of(fn.name, arch, verifier.tables)
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
    rules = dialects.dialect(src.dialect, verifier.templates).reading_rules(arch.name).get("foreign", {})
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
    spec = Spec(arch.name, src.dialect, fn.name, syscall, number, v.policy, "", handler, rendered=False,
                contract=choice.contract if choice else None)
    rep = verifier.check(src.text, spec, foreign=True)
    unknown = any("unknown" in u or "cannot read operand" in u for u in rep.unverified)
    # a name a missing header would define?
    return settle(v, rep, [f"note: {n}" for n in src.notes] if unknown else [])


def settle(v: Verdict, rep, notes=()) -> Verdict:
    """v's verdict from the verifier's report: unverified (with notes), fail, unverified
    when nothing ran it (assembled and decoded only: not a pass), or pass."""
    v.runs = rep.runs
    if rep.unverified:
        v.verdict = "unverified"
        v.reasons += rep.unverified + list(notes)
        if any(u.startswith(("cannot assemble: Keystone", "cannot assemble: LLVM")) for u in rep.unverified):
            # The assembler refused it (not the reader): most often a file for another
            # architecture (riscv64 read as arm64).
            v.reasons.append(f"note: is the file for {v.arch}? --arch names the architecture it is for")
    elif rep.problems:
        v.verdict = "fail"
        v.reasons += rep.problems
        v.listing = rep.listing
    elif not rep.emulated:
        v.verdict = "unverified"
        v.reasons += rep.not_run
    else:
        v.verdict = "pass"
    v.reasons += [f"warning: {w}" for w in rep.warnings]
    return v


def check_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                tables: str | None = None, templates: str | None = None,
                strict: bool = True) -> tuple[list[Verdict], list[Source]]:
    """A verdict for every function of Plan 9 files stubgen did not write, and the files
    as read. strict: a --stub that names no function of these files is an error (the
    caller checks it across every kind of file otherwise)."""
    verifier = Verifier(tables, templates)
    arch = verifier.tables.arch(arch_name)
    if dialect is not None and dialect not in ("plan9", "gnu"):
        raise StubgenError(f"--dialect {dialect!r}: valid: gnu, plan9")
    choices: dict[str, Choice] = {}
    for text in stubs:
        c = parse_choice(text)
        if c.contract is not None:
            bound = check(c.contract, arch, verifier.tables)
            c = Choice(c.symbol, c.syscall, bound.policy, bound)
        elif not verifier.tables.available(arch, c.syscall):
            raise StubgenError(f"--stub {text!r}: {c.syscall!r} has no number and signature on {arch.name} "
                               "in the tables (stubgen list shows them)")
        choices[c.symbol] = c
    sources = []
    for f in files:
        path = Path(f)
        if not path.is_file():
            raise StubgenError(f"{path}: not a file (a directory is verified by its manifest.json, alone)")
        sources.append(read_source(path, arch, dialect, includes, defines, templates))
        if not sources[-1].functions:
            raise StubgenError(_no_functions(path, sources[-1].dialect, forced=dialect is not None))
    missing = sorted(set(choices) - {n for s in sources for n in s.functions})
    if missing and strict:
        known = sorted({n for s in sources for n in s.functions})
        raise StubgenError(f"--stub {missing[0]}: no function {missing[0]} in {', '.join(map(str, files))}; "
                           f"functions: {', '.join(known) or '(none)'}")
    verdicts = [judge(verifier, s, fn, arch, choices.get(fn.name)) for s in sources for fn in s.functions.values()]
    return verdicts, sources
