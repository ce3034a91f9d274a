"""Verify stubs: read each one back from its text, assemble it (Keystone, or LLVM where
Keystone lacks the architecture; both where both can, and their bytes must agree),
decode it with Capstone, and run it on Unicorn under a fake kernel, once per injected
result."""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import layout, policies, render
from .. import tables as tables_mod
from ..errors import StubgenError
from .assembler import AssemblyError, NoAssembler, backends, make, missing_note
from .body import ReadError
from .checks import INJECTED, evaluate, negated, placement
from .kernel import linux_abi

READERS = {"plan9": "Plan9Reader", "gnu": "GnuReader"}


@dataclass(frozen=True)
class Spec:
    """One stub to check, as the manifest describes it."""

    arch: str
    dialect: str
    symbol: str
    syscall: str
    number: int
    policy: str
    trap: str = ""
    errno_handler: str = "stubgen_errno"
    # False for text that is not what stubgen wrote (its hash differs from the
    # manifest's): Keystone then runs in a child process with a time limit.
    rendered: bool = True


@dataclass
class Report:
    spec: Spec
    problems: list[str] = field(default_factory=list)
    listing: str = ""
    runs: int = 0
    agreed: list[str] = field(default_factory=list)  # second assemblers whose bytes matched

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        s = self.spec
        head = f"{s.arch}/{s.dialect} {s.symbol} ({s.syscall}, policy {s.policy})"
        if self.ok:
            return f"ok    {head}: {self.runs} runs"
        return "\n".join([f"FAIL  {head}"] + [f"      {p}" for p in self.problems[:12]]
                         + ([self.listing] if self.listing else []))


class Verifier:
    """Holds one assembler and one Unicorn engine per architecture and reuses them."""

    def __init__(self, tables: str | None = None, templates: str | None = None):
        self.tables = tables_mod.load(tables)
        self.templates = templates
        self._assemblers: dict = {}
        self._machines: dict = {}
        self._readers: dict = {}
        self._expands: dict = {}  # (dialect, arch) -> {pseudo-instruction: instructions it becomes}

    def assemblers(self, arch, syntax=None) -> list:
        """The installed assemblers the tables allow for arch, the one that decides first
        (Keystone, in-process, where it has the architecture); the others must agree."""
        key = (arch.name, syntax)
        if key not in self._assemblers:
            self._assemblers[key] = [make(name, arch, syntax) for name, ok in backends(arch).items() if ok]
        return self._assemblers[key]

    def assembler(self, arch, syntax=None):
        found = self.assemblers(arch, syntax)
        if not found:
            raise NoAssembler(f"no assembler installed for {arch.name}: {missing_note(arch)}")
        return found[0]

    def machine(self, arch):
        from .emulator import Machine

        if arch.name not in self._machines:
            self._machines[arch.name] = Machine(arch, linux_abi(arch.name), self.assembler(arch))
        return self._machines[arch.name]

    def reader(self, dialect, arch):
        key = (dialect.name, arch.name)
        if key not in self._readers:
            from . import gnu, plan9

            kind = dialect.verify.get("reader")
            if kind not in READERS:
                raise StubgenError(f"dialect {dialect.name}: unknown verify reader {kind!r}; valid: "
                                   f"{', '.join(READERS)}")
            rules = dialect.reading_rules(arch.name)
            cls = getattr({"plan9": plan9, "gnu": gnu}[kind], READERS[kind])
            self._readers[key] = (cls(arch, rules), rules.get("syntax"), tuple(rules.get("unchecked_aliases", ())))
            self._expands[key] = dict(rules.get("expands", {}))
        return self._readers[key]

    def prefetch(self, items) -> None:
        """Read every stub and hand the bodies to each assembler at once: LLVM then runs
        once for all of them instead of once per stub. Problems are left to check()."""
        from .emulator import CODE, stub_symbols

        jobs: dict = {}
        for text, spec in items:
            try:
                arch = self.tables.arch(spec.arch)
                reader, syntax, _ = self.reader(render.dialect(spec.dialect, self.templates), arch)
                asms = [a for a in self.assemblers(arch, syntax) if a.batched]
                if not asms:
                    continue
                symbols = stub_symbols(linux_abi(arch.name), spec.errno_handler)
                body = reader.read(text, spec.symbol, symbols)
            except (StubgenError, ReadError):
                continue
            for a in asms:
                jobs.setdefault(id(a), (a, []))[1].append((body.lines, CODE, symbols))
        for a, batch in jobs.values():
            a.prefetch(batch)

    def check_many(self, items) -> list[Report]:
        """check() for each (text, spec[, reference]), the assembling batched first."""
        items = [it if len(it) == 3 else (*it, None) for it in items]
        self.prefetch([(text, spec) for text, spec, _ in items])
        return [self.check(text, spec, ref) for text, spec, ref in items]

    def check(self, text: str, spec: Spec, reference=None) -> Report:
        """Check one stub's text. reference: the same stub's bytes from a real
        assembler (reference.Reference); they must match the lowering and pass the
        same emulated checks."""
        from .disasm import compare, listing
        from .emulator import CODE

        rep = Report(spec)
        arch = self.tables.arch(spec.arch)
        dialect = render.dialect(spec.dialect, self.templates)
        policy = policies.POLICIES[spec.policy]
        abi = linux_abi(arch.name)
        try:
            machine = self.machine(arch)
        except NoAssembler as e:
            rep.problems.append(str(e))
            return rep
        reader, syntax, aliases = self.reader(dialect, arch)
        expands = self._expands[(dialect.name, arch.name)]
        symbols = machine.symbols(spec.errno_handler)
        try:
            body = reader.read(text, spec.symbol, symbols)
            first, *others = self.assemblers(arch, syntax)
            code = first.assemble(body.lines, CODE, symbols, isolated=not spec.rendered).code
        except (ReadError, AssemblyError) as e:
            rep.problems.append(f"cannot assemble: {e}")
            return rep
        for other in others:
            # A second assembler of the same text at the same address: an oracle of its own.
            try:
                theirs = other.assemble(body.lines, CODE, symbols, isolated=not spec.rendered).code
            except AssemblyError as e:
                rep.problems.append(f"{first.name} assembles it, {other.name} does not: {e}")
                continue
            if theirs != code:
                rep.problems.append(f"{first.name} and {other.name} disagree: {code.hex()} vs {theirs.hex()}")
            else:
                rep.agreed.append(other.name)
        from .emulator import CODE_SIZE

        if len(code) > CODE_SIZE:
            rep.problems.append(f"{len(code)} bytes of code, more than the {CODE_SIZE:#x}-byte code area")
            return rep
        sig = self.tables.signature(arch, spec.syscall)
        if sig is None:
            rep.problems.append(f"no signature for {spec.syscall!r} in the tables")
            return rep
        frame = layout.plan(arch, sig, policy.returns)
        convention = dialect.verify["convention"]
        if body.frame and body.frame[1] != frame.argsize:
            rep.problems.append(f"TEXT declares argument size {body.frame[1]}, the Go declaration needs "
                                f"{frame.argsize}")
        rep.problems += compare(arch, body, code, CODE, abi.forbidden, aliases, expands)
        fail_pc = self._emulate(rep, code, arch, abi, machine, convention, frame, policy, spec)
        if reference is not None and not rep.problems:
            from .reference import compare_code

            theirs = reference.patched(machine.symbols(spec.errno_handler), len(code))
            rep.problems += compare_code(arch, code, theirs, reference)
            if not rep.problems and theirs != code and reference.emulate:
                fail_pc = self._emulate(rep, theirs, arch, abi, machine, convention, frame, policy, spec,
                                        label=f"{reference.tool}'s bytes: ")
                code = theirs if rep.problems else code
        if rep.problems:
            rep.listing = listing(arch, code, CODE, fail_pc)
        return rep

    def _emulate(self, rep, code, arch, abi, machine, convention, frame, policy, spec, label=""):
        """Run code once per injected result; the first failing run's problems go to rep."""
        from .caller import lay_out

        machine.load(code)
        setup = lay_out(arch, convention, frame, len(code))
        prepared = machine.prepare(setup.regs, setup.memory)
        where = placement(abi, setup, arch)
        for inject in INJECTED + negated(abi):
            run = machine.run_prepared(prepared, inject)
            rep.runs += 1
            problems = evaluate(run, setup, abi=abi, arch=arch, convention=convention, policy=policy,
                                number=spec.number, inject=inject, machine=machine, code_len=len(code),
                                where=where)
            if problems:
                how = " (already negated, error flag set)" if type(inject) is not int else ""
                rep.problems += [f"{label}kernel result {int(inject)}{how}: {p}" for p in problems]
                if run.traps:
                    t = run.traps[0]
                    rep.problems.append("seen at the trap: " + ", ".join(
                        [f"{abi.number}={t.number:#x}"] + [f"{r}={v:#x}" for r, v in zip(abi.args, t.args)]))
                return run.pc
        return None


def stub_specs(stubs) -> list[tuple[str, Spec]]:
    return [(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap,
                          s.options.errno_handler)) for s in stubs]


def verify(stubs, tables: str | None = None, templates: str | None = None) -> list[Report]:
    """Check stubs from stubgen.generate(); returns one report per stub."""
    if stubs:
        tables = tables or stubs[0].options.tables
        templates = templates or stubs[0].options.templates
    v = Verifier(tables, templates)
    return v.check_many(stub_specs(stubs))


def _check_manifest(man, path):
    import jsonschema

    from ..schema import MANIFEST

    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(MANIFEST).iter_errors(man))
    if err is not None:
        key = ".".join(str(p) for p in err.absolute_path) or "(top)"
        raise StubgenError(f"{path}: {key}: {err.message}")
    for f in man["files"]:
        for s in f.get("symbols", ()):
            if s["policy"] not in policies.POLICIES:
                raise StubgenError(f"{path}: {f['path']}: {s['name']}: unknown error policy {s['policy']!r}")


def manifest_specs(directory) -> list[tuple[str, Spec]]:
    """The stubs a generated directory holds, read from its files as they are on disk."""
    d = Path(directory)
    try:
        man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StubgenError(f"{d}: no manifest.json (was it written by stubgen generate?)") from None
    except (OSError, ValueError) as e:
        raise StubgenError(f"{d / 'manifest.json'}: {e}") from None
    _check_manifest(man, d / "manifest.json")
    handler = man.get("options", {}).get("errno_handler", "stubgen_errno")
    out = []
    for f in man.get("files", []):
        if not f.get("arch"):
            continue
        path = d / f["path"]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise StubgenError(f"{path}: {e}") from None
        rendered = hashlib.sha256(text.encode("utf-8")).hexdigest() == f.get("sha256")
        for s in f.get("symbols", ()):
            out.append((text, Spec(s["arch"], f["dialect"], s["name"], s["syscall"], s["number"], s["policy"],
                                   s.get("trap", ""), handler, rendered)))
    return out


def references(verifier, text: str, spec: Spec, cache: dict, notes: set):
    """The real assembler's Reference for spec's symbol; None where the tool is
    missing or the dialect names none; a string where the real assembler failed."""
    from .. import realtools
    from . import reference

    dialect = render.dialect(spec.dialect, verifier.templates)
    kind = dialect.verify.get("reference")
    if not kind:
        return None
    arch = verifier.tables.arch(spec.arch)
    key = (kind, arch.name, text)
    if key not in cache:
        try:
            rules = dialect.reading_rules(arch.name)
            if kind == "go":
                cache[key] = reference.go_references(text, arch, rules.get("go_asm_flags", ()))
            else:
                exact = rules.get("real_assembler", "bytes") == "bytes"
                cache[key] = reference.gnu_references(text, arch, exact, rules.get("linker_filled", ()))
        except realtools.ToolMissing as e:
            notes.add(str(e))
            cache[key] = None
        except realtools.ToolFailed as e:
            cache[key] = str(e)
    found = cache[key]
    if isinstance(found, dict):
        return found.get(spec.symbol, f"the real assembler made no symbol {spec.symbol}")
    return found


def verify_dir(directory, tables: str | None = None, templates: str | None = None, mutants: bool = False,
               real_tools: bool = True, out=None) -> int:
    """Verify the stubs of a generated directory as they are on disk; where Go's
    assembler or GNU as is installed, their bytes must agree with ours too."""
    out = out or sys.stdout
    specs = manifest_specs(directory)
    v = Verifier(tables, templates)
    cache, notes, compared = {}, set(), {}
    reports = []
    todo = []
    for text, spec in specs:
        ref = references(v, text, spec, cache, notes) if real_tools else None
        todo.append((text, spec, ref))
    v.prefetch([(text, spec) for text, spec, ref in todo if not isinstance(ref, str)])
    for text, spec, ref in todo:
        if isinstance(ref, str):
            rep = Report(spec, [f"real assembler: {ref}"])
        else:
            rep = v.check(text, spec, ref)
            if ref is not None:
                compared[ref.tool] = compared.get(ref.tool, 0) + 1
            for name in rep.agreed:
                compared[f"{name} (second assembler)"] = compared.get(f"{name} (second assembler)", 0) + 1
        reports.append(rep)
    for name in sorted({s.arch for _, s in specs}):
        note = missing_note(v.tables.arch(name))
        if note:
            notes.add(f"not assembled twice: {note}")
    failed = [r for r in reports if not r.ok]
    for r in failed:
        print(r.describe(), file=out)
    runs = sum(r.runs for r in reports)
    also = "; ".join(f"{n} also against {tool}" for tool, n in sorted(compared.items()))
    print(f"verified {len(reports)} stubs ({runs} emulated calls{'; ' + also if also else ''}): "
          f"{len(reports) - len(failed)} passed, {len(failed)} failed", file=out)
    for n in sorted(notes):
        print(f"note: {n}" if n.startswith("not assembled") else f"note: not compared with a real assembler: {n}",
              file=out)
    code = 1 if failed else 0
    if mutants:
        from .mutants import kill_table

        code = max(code, kill_table(v, specs, out=out))
    return code
