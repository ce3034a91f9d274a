"""The agreement oracle: where both Unicorn and QEMU run a stub (an architecture whose
tables name engines.qemu besides a Unicorn that runs the code), a deterministic sample
of stubs runs on both, from the same caller's state, once per injected result, and
the two must agree: the same syscalls with the same numbers and arguments at the trap,
the same registers after it, the same end (returned or not).

    python -m stubgen.pipeline.agreement -a arm64,riscv64 -n 1000

runs a sample of n stubs that way (pipeline/agreement.py)."""
from __future__ import annotations

from ... import dialects
from ..caller import lay_out
from ..checker import HANDLER_NAME, Verifier
from ..checks import HANDLER_POISON, INJECTED
from ..emulator import CODE


def runs(v: Verifier, text: str, spec, engine: str) -> list:
    """The Run of each injected result of spec's stub on engine."""
    arch = v.tables.arch(spec.arch)
    dialect = dialects.dialect(spec.dialect, v.templates)
    reader, syntax, _ = v.reader(dialect, arch)
    symbols = v.symbols(arch, dialect, spec.errno_handler, spec.symbol, spec.standins)
    body = reader.read(text, spec.symbol, symbols)
    asm = v.assembler(arch, syntax)
    code = asm.assemble(body.lines, CODE, v._linked(arch, dialect, body, symbols, asm)).code
    subject, _ = v.subject(spec, arch, dialect)
    if isinstance(subject, str):
        raise ValueError(subject)
    m = v.machine(arch, engine)
    watch = v.watch(m, arch)
    watch.results[HANDLER_NAME] = -1 if subject.policy.handler_result else HANDLER_POISON
    v.standin_watch(m, arch).table = {}
    m.load(code)
    setup = lay_out(arch, subject.conv, subject.kind, subject.frame, subject.abi.long_args)
    m.indirect_words = subject.indirect
    prep = m.prepare(setup.regs, setup.memory)
    return [m.run_prepared(prep, inject) for inject in INJECTED]


def differences(arch, mine, theirs) -> list[str]:
    """Where two engines' runs of one stub disagree (empty: they agree)."""
    out = []
    for inject, a, b in zip(INJECTED, mine, theirs):
        where = f"kernel result {inject}"
        ta = [(t.pc, t.number, t.args) for t in a.traps]
        tb = [(t.pc, t.number, t.args) for t in b.traps]
        if ta != tb:
            out.append(f"{where}: traps {ta} vs {tb}")
        if a.returned != b.returned:
            out.append(f"{where}: returned {a.returned} vs {b.returned} (pc {a.pc:#x} vs {b.pc:#x})")
        for r in arch.registers:
            if a.regs.get(r) != b.regs.get(r):
                out.append(f"{where}: {r} = {a.regs.get(r):#x} vs {b.regs.get(r):#x}")
    return out


def both(arch) -> bool:
    """Whether the tables give arch both engines (Unicorn and QEMU)."""
    return arch.engines.unicorn is not None and arch.engines.qemu is not None


def sample(items: list, n: int) -> list:
    """n items spread evenly over items (all where there are fewer): deterministic."""
    if len(items) <= n:
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]
