"""Break every stub in known ways and show that the verifier rejects each break.
Breaks of the data (number, registers, offsets, widths, saved registers, result)
re-render the stub from a changed context; breaks of the syntax (stack balance,
error check, trap) are text edits listed per dialect and architecture in
templates/<dialect>/<arch>.lower.yaml."""
from __future__ import annotations

import dataclasses
import re
import sys

from .. import dialects
from ..generator.stubs import generate, render_stub
from ..tables import policies
from ..verifier import stub_specs
from .verify_header import check_mutant, is_header_dialect

KINDS = ("number", "swap_args", "arg_offset", "narrow_load", "callee_saved", "unbalanced", "result_missing",
         "result_offset", "check_removed", "check_inverted", "wrong_trap", "clobber_dropped", "memory_dropped")
# Breaks of inline assembly's declarations only (the C dialect's .lower.yaml rules):
# no assembly stub has a clobber list.
HEADER_KINDS = ("clobber_dropped", "memory_dropped")
# Breaks that only a caller the stub returns to could see: no such caller exists for a
# call that never returns, so they are no breaks of it.
ON_RETURN = ("callee_saved", "unbalanced", "result_missing", "result_offset", "clobber_dropped")


def _replace_part(frame, i, j, **kw):
    """frame with part j of argument i changed (j=-1: its last part)."""
    args = list(frame.args)
    parts = list(args[i].parts)
    parts[j] = dataclasses.replace(parts[j], **kw)
    args[i] = dataclasses.replace(args[i], parts=tuple(parts))
    return dataclasses.replace(frame, args=tuple(args))


def _context_break(kind: str, ctx, convention: str):
    """A changed context (and policy macro) for a data break, or None where it does not apply."""
    f, arch, word = ctx.frame, ctx.arch, ctx.arch.word_bytes
    pol = policies.POLICIES[ctx.policy]
    if kind == "number" and ctx.number is not None:
        return dataclasses.replace(ctx, number=ctx.number + 1), None
    if kind == "swap_args" and len(f.args) >= 2:
        a, b = f.args[0].parts[0], f.args[1].parts[0]
        f2 = _replace_part(_replace_part(f, 0, 0, kreg=b.kreg), 1, 0, kreg=a.kreg)
        return dataclasses.replace(ctx, frame=f2), None
    if kind == "arg_offset" and f.args:
        i, a = len(f.args) - 1, f.args[-1].parts[-1]
        if convention == "go_abi0":
            return dataclasses.replace(ctx, frame=_replace_part(f, i, -1, fp=a.fp + word)), None
        if a.c_stack is not None:
            return dataclasses.replace(ctx, frame=_replace_part(f, i, -1, c_stack=a.c_stack + arch.c_abi.stack_slot)), None
        others = [r for r in arch.c_abi.args if r != a.c_reg]
        return dataclasses.replace(ctx, frame=_replace_part(f, i, -1, c_reg=others[0])), None
    if kind == "narrow_load" and convention == "go_abi0":
        # Not the number, nor an argument of which the kernel reads 32 bits (a file
        # descriptor): a narrow load of it is no break.
        wide = [(a.index, j) for a in f.args for j, p in enumerate(a.parts)
                if p.size == word and word > 4 and a.role != "number" and a.bits > 32]
        if wide:
            return dataclasses.replace(ctx, frame=_replace_part(f, *wide[0], size=4)), None
    if kind == "callee_saved" and f.c_saved:
        return dataclasses.replace(ctx, frame=dataclasses.replace(f, c_saved=())), None
    if kind == "result_offset" and f.result and convention == "go_abi0":
        r = dataclasses.replace(f.result, fp=f.result.fp + word)
        return dataclasses.replace(ctx, frame=dataclasses.replace(f, result=r)), None
    if kind == "result_missing" and pol.returns and convention == "go_abi0":
        return ctx, "ignore"
    if kind == "check_removed" and pol.never_returns:
        return ctx, "ignore"  # the stop after the trap removed: the stub returns
    if kind == "check_removed" and (pol.crashes_on_error or pol.calls_handler):
        return ctx, "raw" if pol.returns else "ignore"
    return None


def _text_break(rule: dict | None, text: str) -> str | None:
    if not rule:
        return None
    if "swap" in rule:
        pairs = {a: b for a, b in rule["swap"]} | {b: a for a, b in rule["swap"]}
        pat = re.compile(r"(?<![\w.])(" + "|".join(re.escape(k) for k in pairs) + r")(?![\w.])")
        out = pat.sub(lambda m: pairs[m.group(1)], text)
    else:
        out = re.sub(rule["find"], rule["replace"], text)
    return out if out != text else None


def mutants(stub):
    """(kind, broken text) for every break that applies to this stub."""
    ctx = stub._context
    d = dialects.dialect(stub.dialect, stub.options.templates)
    module = d.module(stub.arch)
    rules = d.reading_rules(stub.arch).get("mutations", {})
    convention = d.verify["convention"]
    never_returns = policies.POLICIES[ctx.policy].never_returns
    out = []
    for kind in KINDS:
        if never_returns and kind in ON_RETURN:
            continue
        text = None
        if kind in rules:
            text = _text_break(rules[kind], stub.text)
        else:
            changed = _context_break(kind, ctx, convention)
            if changed:
                text = render_stub(module, changed[0], changed[1]).strip("\n")
        if text is not None and text != stub.text:
            out.append((kind, text))
    return out


def run(verifier, stubs, unemulated: list | None = None):
    """{(kind, arch, dialect): [killed, total]} and the survivors' reports. The mutator
    answers for what the emulator can run: mutants it cannot run go to unemulated,
    neither killed nor survived."""
    table: dict = {}
    survivors: list = []
    unemulated = [] if unemulated is None else unemulated
    runnable = []
    for s in stubs:
        if verifier.not_emulated(verifier.tables.arch(s.arch)) is None:
            runnable.append(s)
        else:
            unemulated += [(kind, s, text) for kind, text in mutants(s)]
    stubs = runnable
    broken = [(kind, s, text) for s in stubs for kind, text in mutants(s)]
    # A header dialect's mutants are compiled into callers (verify_header.py); the rest assembled.
    headers = {id(s) for s in stubs if is_header_dialect(s.dialect, s.options.templates)}
    asm = [s for s in stubs if id(s) not in headers]
    specs = {id(s): spec for s, (_, spec) in zip(asm, stub_specs(asm))}
    verifier.prefetch([(text, specs[id(s)]) for _, s, text in broken if id(s) not in headers])
    for kind, s, text in broken:
        rep = check_mutant(s, text) if id(s) in headers else verifier.check(text, specs[id(s)])
        # (a note that ran, like loong64's missing decoder, is no excuse); a mutant that passed
        # only the callers that ran, others not run (ppc64le's 64-bit code on Unicorn), is no survivor
        if rep.not_run and (not rep.emulated or rep.ok):
            unemulated.append((kind, s, text))
            continue
        cell = table.setdefault((kind, s.arch, s.dialect), [0, 0])
        cell[1] += 1
        if rep.ok:
            survivors.append((kind, s, text))
        else:
            cell[0] += 1
    return table, survivors


def kill_table(verifier, specs, out=None) -> int:
    """Regenerate each stub of a manifest, break it every way, print the kill table."""
    out = out or sys.stdout
    stubs = []
    for _, sp in specs:
        # A policy the tables impose (noreturn) comes back by itself from any chosen one.
        policy = sp.policy if sp.policy in policies.CHOSEN else policies.DEFAULT
        stubs += generate([sp.syscall], [sp.arch], [sp.dialect], policy, {sp.arch: sp.trap},
                         tables=verifier.tables.root, templates=verifier.templates,
                         errno_handler=sp.errno_handler, symbol_prefix=_prefix(sp))
    unemulated: list = []
    table, survivors = run(verifier, stubs, unemulated)
    print(format_table(table), file=out)
    for kind, s, _ in survivors:
        print(f"SURVIVED  {kind}: {s.arch}/{s.dialect} {s.symbol} (policy {s.policy})", file=out)
    killed = sum(c[0] for c in table.values())
    total = sum(c[1] for c in table.values())
    print(f"mutants: {killed}/{total} killed", file=out)
    if unemulated:
        where = sorted({f"{s.arch}/{s.dialect}" for _, s, _ in unemulated})
        print(f"mutants not counted: {len(unemulated)} of stubs the emulator cannot run ({', '.join(where)})",
              file=out)
    return 1 if survivors else 0


def _prefix(spec) -> str:
    return spec.symbol[: -len(spec.syscall)] if spec.symbol.endswith(spec.syscall) else ""


def format_table(table) -> str:
    cols = sorted({(a, d) for _, a, d in table})
    head = f"{'mutation':16}" + "".join(f"{a + '/' + d:>14}" for a, d in cols)
    rows = [head]
    for kind in KINDS:
        cells = []
        for a, d in cols:
            c = table.get((kind, a, d))
            cells.append(f"{c[0]}/{c[1]:<3}" if c else "-")
        rows.append(f"{kind:16}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(rows)
