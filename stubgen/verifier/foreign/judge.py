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
from ..conventions import go_hooks
from ..godecl import GoDecl, GoValue
from ..spec import Spec
from .choice import Choice, parse_choice
from .source import Source, read_source
from .translate import Function

# not-emulated: every oracle that exists for the architecture agreed, and none can run
# it (loong64; ppc64le's 64-bit loads): counted apart, as `verify DIR` does, never as passed.
VERDICTS = ("pass", "not-emulated", "fail", "unverified", "skipped")
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
# A Plan 9 target as the code spells it (package·name): the reader looks it up so.
_GO_SYMBOL = r"\s+(?!\*)([\w./]*·?[A-Za-z_][\w]*)(?:<>)?(?:<\w+>)?\(SB\)\s*$"


def external_targets(fn: Function, rules: dict, registers: set[str], key: str = "calls",
                     go: bool = False) -> list[str]:
    """Functions fn calls or jumps to outside itself, by the reading rules' `foreign:
    calls` mnemonics (key "tail": only those it jumps to, by `foreign: tail`); a
    register or a local label is no function. go: Plan 9, sym(SB) as spelled (package·name)."""
    if not rules.get(key):
        return []
    pat = re.compile(r"^(?:" + rules[key] + ")" + (_GO_SYMBOL if go else _SYMBOL))
    out = []
    for s in fn.lines:
        if (m := pat.match(s)) and m.group(1) not in registers and not m.group(1).startswith(".L"):
            if m.group(1) not in out:
                out.append(m.group(1))
    return out


def stand_ins(fn: Function, rules: dict, registers: set[str], targets: list[str]) -> tuple[list, list[str]]:
    """([(symbol, kind)], helpers) for a Go function's targets outside itself: the Go
    runtime's hooks it calls (conventions.yaml go_hooks) and the functions it jumps to
    (a tail jump hands them its frame) get stand-ins; any other call is a helper the
    verifier cannot run."""
    tails = set(external_targets(fn, rules, registers, "tail", go=True))
    hooks = go_hooks()
    placed, helpers = [], []
    for t in targets:
        if t in tails:
            placed.append((t, "tail"))
        elif t in hooks:
            placed.append((t, "call"))
        else:
            helpers.append(t)
    return placed, helpers


def unmodelled(fn: Function, rules: dict, policy, helpers: list[str]) -> list[str]:
    """Why the verifier cannot model fn's convention (empty: it can)."""
    why = []
    if helpers:
        why.append(f"calls a helper function ({', '.join(helpers)}) that is not in the input: the verifier "
                   "cannot run it")
    tls = rules.get("tls")
    if tls and any(re.search(tls, s) for s in fn.lines):
        why.append("reads thread-local storage (errno or g kept in TLS): not modelled")
    vdso = rules.get("vdso")
    if vdso and any(re.search(vdso, s) for s in fn.lines):
        why.append("calls into the vDSO (its address kept by the Go runtime): the kernel's code there is not "
                   "in the input")
    return why


def signature_decl(name: str, sig, arch, returns: bool) -> GoDecl:
    """A Go declaration made from the tables' signature, where Go's own is not at hand
    (Go not installed, or no declaration in the package): each argument a value of the
    kernel's width, one result of the signature's."""
    params, off = [], 0
    for p in sig.args:
        size = p.type.bytes(arch)
        off += -off % min(size, arch.word_bytes)
        params.append(GoValue(p.name, p.type.go, "pointer" if p.type.name == "pointer" else
                              "signed" if p.type.signed else "unsigned", off, size))
        off += size
    results = []
    if returns:
        off += -off % arch.word_bytes
        size = sig.result.bytes(arch)
        results.append(GoValue("ret", sig.result.go, "signed", off, size))
        off += size
    return GoDecl(name, "the tables' signature", tuple(params), tuple(results), off)


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


def default_policy(sig) -> str:
    """The error policy of a function no --stub names: noreturn for a call the tables
    mark so (exit, exit_group), raw otherwise."""
    return "noreturn" if sig is not None and sig.special == "noreturn" else policies.DEFAULT


def judge(verifier, src: Source, fn: Function, arch, choice: Choice | None, decl: GoDecl | None = None) -> Verdict:
    """fn's verdict. decl: its Go declaration, read from its package (Plan 9 only)."""
    syscall = choice.syscall if choice else syscall_of(fn.name, arch, verifier.tables)
    v = Verdict(str(src.path), fn.name, syscall, arch.name, src.dialect, None, "skipped")
    if syscall is None:
        v.reasons.append(f"not a syscall in the tables (--stub {fn.name}=SYSCALL checks it)")
        return v
    sig = verifier.tables.signature(arch, syscall)
    v.policy = choice.policy if choice and choice.policy else default_policy(sig)
    if choice is not None and choice.contract is not None and choice.args is None:
        v.verdict = "unverified"
        v.reasons.append(f"--stub {choice.contract.text or fn.name}: this form of contract is for machine code; a "
                         "Go function takes SYMBOL=SYSCALL[(ARG, ...)][:POLICY]")
        return v
    policy = policies.POLICIES[v.policy]
    if sig is None:
        v.verdict = "unverified"
        v.reasons.append(f"the tables have no signature for {syscall}")
        return v
    if sig.special == "returns_twice" and sig.untyped:
        # fork's child runs on a copy of the stack (its path is the run with result 0);
        # clone's and vfork's on another or the same one, which one run cannot follow.
        v.verdict = "unverified"
        v.reasons.append(f"{syscall} {sig.untyped}: one emulated call cannot follow the child")
        return v
    rules = dialects.dialect(src.dialect, verifier.templates).reading_rules(arch.name).get("foreign", {})
    registers = set(arch.registers) | set(arch.registers.values())
    targets = external_targets(fn, rules, registers, go=src.dialect == "plan9")
    placed: list = []
    if src.dialect == "plan9":
        placed, helpers = stand_ins(fn, rules, registers, targets)
    else:
        helpers = targets[1:] if policy.calls_handler else targets
    why = unmodelled(fn, rules, policy, helpers)
    if why:
        v.verdict = "unverified"
        v.reasons += why
        return v
    go_abi = fn.abi if src.dialect == "plan9" and fn.abi and fn.abi != "ABI0" else ""
    if src.dialect == "plan9" and decl is None and go_abi:
        # Go's register ABI places arguments by their types: without Go's declaration,
        # the tables' signature stands in for it.
        decl = signature_decl(fn.name, sig, arch, policy.returns)
        v.reasons.append(f"note: no Go declaration of {fn.name}; its arguments are laid out from the tables' "
                         f"signature of {syscall}")
    number = None if sig.generic else arch.numbers.get(syscall)
    handler = targets[0] if policy.calls_handler and targets else "stubgen_errno"
    spec = Spec(arch.name, src.dialect, fn.name, syscall, number, v.policy, "", handler, rendered=False,
                go_decl=decl if src.dialect == "plan9" else None, go_abi=go_abi,
                go_args=choice.args if choice and src.dialect == "plan9" else None, standins=tuple(placed))
    rep = verifier.check(src.text, spec, foreign=True)
    unknown = any("unknown" in u or "cannot read operand" in u for u in rep.unverified)
    # a name a missing header would define?
    return settle(v, rep, [f"note: {n}" for n in src.notes] if unknown else [], placed)


def settle(v: Verdict, rep, notes=(), placed=()) -> Verdict:
    """v's verdict from the verifier's report: unverified (with notes), fail, unverified
    when nothing ran it (assembled and decoded only: not a pass), or pass. placed: the
    Go stand-ins the stub reached, (name, kind), named in a pass."""
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
        # Assembled and decoded, but never run: not a pass.
        v.verdict = "not-emulated"
        v.reasons += rep.not_run
    else:
        v.verdict = "pass"
        v.reasons += [f"note: {n} is not in the input: a stand-in checked that " + (
            "the frame reaches it as the stub was given it (a tail jump)" if k == "tail" else
            f"it is called {go_hooks()[n]} the syscall") for n, k in placed]
    v.reasons += [f"warning: {w}" for w in rep.warnings]
    return v


def check_files(files, arch_name: str, dialect: str | None = None, stubs=(), includes=(), defines=(),
                tables: str | None = None, templates: str | None = None,
                strict: bool = True, decls=None) -> tuple[list[Verdict], list[Source]]:
    """A verdict for every function of Plan 9 files stubgen did not write, and the files
    as read. strict: a --stub that names no function of these files is an error (the
    caller checks it across every kind of file otherwise). decls: {file as given:
    {function: GoDecl}}, Go's declarations of the files' functions (read from their
    package by the caller; absent: none at hand)."""
    verifier = Verifier(tables, templates)
    arch = verifier.tables.arch(arch_name)
    if dialect is not None and dialect not in ("plan9", "gnu"):
        raise StubgenError(f"--dialect {dialect!r}: valid: gnu, plan9")
    choices: dict[str, Choice] = {}
    for text in stubs:
        c = parse_choice(text)
        if c.contract is not None and c.args is None:
            # A contract of machine code (several syscalls, the number in a register):
            # checked where it applies (verify_files), and no Go function's.
            check(c.contract, arch, verifier.tables)
            choices[c.symbol] = c
            continue
        if not verifier.tables.available(arch, c.syscall):
            raise StubgenError(f"--stub {text!r}: {c.syscall!r} has no number and signature on {arch.name} "
                               "in the tables (stubgen list shows them)")
        nargs = len(verifier.tables.signature(arch, c.syscall).args)
        if c.args is not None and len(c.args) != nargs:
            raise StubgenError(f"--stub {text!r}: {len(c.args)} arguments where {c.syscall} takes {nargs}")
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
    for src in sources:
        for name in src.functions:
            chosen = choices.get(name)
            if chosen is not None and chosen.args is not None and src.dialect != "plan9":
                raise StubgenError(f"--stub {name}=...: an argument list applies to Go (Plan 9) functions, and "
                                   f"{src.path.name} is {src.dialect}")
    decls = decls or {}
    verdicts = [judge(verifier, s, fn, arch, choices.get(fn.name), decls.get(str(Path(f)), {}).get(fn.name))
                for f, s in zip(files, sources) for fn in s.functions.values()]
    return verdicts, sources
