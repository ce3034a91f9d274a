"""`stubgen list --coverage`: per architecture, the numbered syscalls, those with a
typed stub, those whose stubs passed every oracle the architecture has in every
dialect, the generic stubs, and the oracles; then every implemented call left out,
with the reason, and the reserved numbers (a kernel table row with no entry point:
the kernel answers ENOSYS, so there is nothing to type). The share is of the
implemented calls. The stubs are written to a temporary directory and checked as
`stubgen verify` checks them (emulation, and the real assemblers where installed)."""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field

from .. import dialects as dialects_mod
from .. import tables as tables_mod
from ..errors import StubgenWarning
from ..generator.files import write
from ..generator.stubs import ALL, generate
from ..realtools.oracles import ABSENT, AVAILABLE, MISSING, absent_why, oracles
from ..verifier import Verifier, manifest_specs
from .parallel import verify_specs

EMULATION = "emulation"


@dataclass
class Row:
    arch: str
    numbered: int
    typed: int
    verified: int
    generic: int
    generic_verified: int
    oracles: list[str]
    missing_oracles: list[str]  # oracles that were not run here, with why
    failed: list[str]
    excluded: dict = field(default_factory=dict)  # implemented syscall -> why it has no typed stub
    reserved: list[str] = field(default_factory=list)  # numbered, no entry point: ENOSYS
    reserved_reason: str = ""
    not_emulated: int = 0  # stubs that passed every other oracle but that nothing ran

    @property
    def implemented(self) -> int:
        return self.numbered - len(self.reserved)


def coverage(tables: str | None = None, templates: str | None = None, policy: str = "raw",
             real_tools: bool = True) -> list[Row]:
    t = tables_mod.load(tables)
    # the dialects `generate` writes unasked (a header dialect such as c is verified per
    # request, by compiling it: its coverage is the assembly dialects' calls)
    dialects = [n for n, d in dialects_mod.dialects(templates).items() if d.default]
    v = Verifier(tables, templates)  # which assemblers run, not to check (the workers do)
    rows = []
    for arch in t.arches.values():
        with warnings.catch_warnings():
            # Advice about the names `generate` writes (a Go builtin shadowed) is for
            # generate's users; here it would repeat once per architecture.
            warnings.simplefilter("ignore", StubgenWarning)
            # the dialects this architecture can have (no Go dialect without a Go port)
            theirs = [d for d in dialects
                      if not dialects_mod.dialect(d, templates).cannot_write(arch)]
            stubs = generate(ALL, [arch.name], theirs, policy, tables=tables, templates=templates)
        failed: set = set()
        shy = 0
        used: set = set()
        notes: set = set()
        with tempfile.TemporaryDirectory() as tmp:
            write(stubs, tmp)
            # As `stubgen verify` checks them: every core, the real assemblers where installed.
            for rep, tools in verify_specs(manifest_specs(tmp), tables, templates, real_tools=real_tools,
                                           notes=notes):
                used.update(tools)
                if not rep.ok:
                    failed.add(rep.spec.syscall)
                elif not rep.emulated:
                    shy += 1
        made = {s.syscall for s in stubs}
        generic = {n for n in made if getattr(t.signature(arch, n), "generic", False)}
        named = made - generic
        reserved = [n for n in arch.numbers if n in arch.reserved]
        excluded = {n: t.exclusion(arch, n) or "" for n in arch.numbers if n not in named and n not in reserved}
        # Oracles that do not exist for this architecture at all are named too, never implied
        # (once: a note of the run that gives the same reason is left out).
        found = oracles(arch)
        # (a second emulator is no missing oracle where the tables name none: Unicorn's absence says it)
        absent = {name: absent_why(arch, name) for name, state in found.items() if state == ABSENT and name != "QEMU"}
        missing = sorted(n for n in notes if not any(w in n for w in absent.values())) if real_tools \
            else ["go tool asm, GNU as (--no-real-tools)"]
        missing += [f"{name}: {why}" for name, why in absent.items()]
        if found["QEMU"] == MISSING:
            missing.append(f"QEMU: {arch.qemu_user} is not installed (apt-get install qemu-user)")
        first = next((a.name for a in v.assemblers(arch)), None)
        engines = [first or "no assembler"] + [n for n in ("Capstone", "Unicorn") if found[n] != ABSENT] \
            + (["QEMU"] if found["QEMU"] == AVAILABLE else [])
        cannot = (arch.engines.unicorn or {}).get("cannot_run")
        how = (f"{EMULATION} where Unicorn can run the stub: {cannot['why']}" if cannot else EMULATION)
        if found["QEMU"] == AVAILABLE:
            how = (f"{EMULATION}: Unicorn where it runs the stub, QEMU the rest" if found["Unicorn"] != ABSENT
                   else f"{EMULATION} on QEMU")
        emulates = found["Unicorn"] != ABSENT or found["QEMU"] == AVAILABLE
        ran = [" + ".join(engines) + (f" ({how})" if emulates and first else "")]
        rows.append(Row(arch.name, len(arch.numbers), len(named), len(named - failed), len(generic),
                        len(generic - failed), ran + sorted(used), missing, sorted(failed), excluded, reserved,
                        arch.reserved_reason, shy))
    return rows
