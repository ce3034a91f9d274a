"""Verify stubs: read each one back from its text, assemble it with Keystone, decode
it with Capstone, and run it on Unicorn under a fake kernel, once per injected result."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from .. import layout, policies, render
from .. import tables as tables_mod
from ..errors import StubgenError
from .assembler import AssemblyError, KeystoneAssembler
from .body import ReadError
from .checks import INJECTED, evaluate, placement
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
    # True only for text this process rendered from the shipped templates. Anything
    # else (a file read from disk, whatever its hash in the manifest says, or text
    # from a user's --templates) is checked in a child process under limits
    # (isolate.py): the engines hang or crash on some text.
    rendered: bool = True


@dataclass
class Report:
    spec: Spec
    problems: list[str] = field(default_factory=list)
    listing: str = ""
    runs: int = 0

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

    def assembler(self, arch, syntax=None):
        key = (arch.name, syntax)
        if key not in self._assemblers:
            self._assemblers[key] = KeystoneAssembler(arch.engines.keystone, syntax)
        return self._assemblers[key]

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
        return self._readers[key]

    def check(self, text: str, spec: Spec, reference=None) -> Report:
        """Check one stub's text. reference: the same stub's bytes from a real
        assembler (reference.Reference); they must match the lowering and pass the
        same emulated checks. Text that is not spec.rendered runs in a child."""
        return self.check_many([(text, spec, reference)])[0]

    def check_many(self, items) -> list[Report]:
        """Reports for (text, spec, reference) items, in order. Untrusted text goes to
        one child per architecture and dialect, which is one per file of a manifest:
        forking per stub would cost more than the checks."""
        from . import isolate

        out: list[Report | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for _, spec, _ in items:
            self._check_spec(spec)
        # A verifier given a user's templates holds no text rendered from the shipped ones,
        # whatever a Spec built by hand says (the mutator's re-rendered stubs, for one).
        shipped = self.templates is None
        for i, (text, spec, ref) in enumerate(items):
            if (spec.rendered and shipped) or isolate.in_child():
                out[i] = self._check(text, spec, ref)
            else:  # one file: one architecture in one dialect
                groups.setdefault((spec.arch, spec.dialect), []).append(i)
        for idx in groups.values():
            for i in idx:  # engines and readers are made here, from tables, not text
                self._warm(items[i][1])
            try:
                reports = isolate.run(lambda idx=idx: [self._check(*items[i]) for i in idx],
                                      seconds=isolate.SECONDS + isolate.SECONDS_PER_ITEM * len(idx),
                                      what=f"{items[idx[0]][1].arch}/{items[idx[0]][1].dialect} text")
            except isolate.Died as e:
                reports = [Report(items[i][1], [f"cannot check: {e}"]) for i in idx]
            for i, rep in zip(idx, reports):
                out[i] = rep
        return out  # type: ignore[return-value]

    def _check_spec(self, spec: Spec):
        """A spec's facts against the tables, before any text is looked at: a manifest
        is input too (a null number for a syscall that has one is a mistake, not a crash)."""
        arch = self.tables.arch(spec.arch)
        sig = self.tables.signature(arch, spec.syscall)
        if sig is not None and (spec.number is None) != sig.generic:
            need = "no number (the caller passes it)" if sig.generic else "its number"
            raise StubgenError(f"{spec.arch}/{spec.dialect} {spec.symbol}: number {spec.number!r}; "
                               f"{spec.syscall} needs {need}")
        if spec.number is not None and (not isinstance(spec.number, int) or isinstance(spec.number, bool)):
            raise StubgenError(f"{spec.arch}/{spec.dialect} {spec.symbol}: number {spec.number!r} is not an integer")

    def _warm(self, spec: Spec):
        arch = self.tables.arch(spec.arch)
        dialect = render.dialect(spec.dialect, self.templates)
        _, syntax, _ = self.reader(dialect, arch)
        self.assembler(arch, syntax)
        self.machine(arch)

    def _check(self, text: str, spec: Spec, reference=None) -> Report:
        from .disasm import compare, listing
        from .emulator import CODE

        rep = Report(spec)
        arch = self.tables.arch(spec.arch)
        dialect = render.dialect(spec.dialect, self.templates)
        policy = policies.POLICIES[spec.policy]
        abi = linux_abi(arch.name)
        machine = self.machine(arch)
        reader, syntax, aliases = self.reader(dialect, arch)
        symbols = machine.symbols(spec.errno_handler)
        try:
            body = reader.read(text, spec.symbol, symbols)
            code = self.assembler(arch, syntax).assemble(body.lines, CODE, symbols).code
        except (ReadError, AssemblyError) as e:
            rep.problems.append(f"cannot assemble: {e}")
            return rep
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
        rep.problems += compare(arch, body, code, CODE, abi.forbidden, aliases)
        fail_pc = self._emulate(rep, code, arch, abi, machine, convention, frame, policy, spec)
        if reference is not None and not rep.problems:
            from .reference import compare_code

            theirs = reference.patched(machine.symbols(spec.errno_handler))
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
        for inject in INJECTED:
            run = machine.run_prepared(prepared, inject)
            rep.runs += 1
            problems = evaluate(run, setup, abi=abi, arch=arch, convention=convention, policy=policy,
                                number=spec.number, inject=inject, machine=machine, code_len=len(code),
                                where=where)
            if problems:
                rep.problems += [f"{label}kernel result {inject}: {p}" for p in problems]
                if run.traps:
                    t = run.traps[0]
                    rep.problems.append("seen at the trap: " + ", ".join(
                        [f"{abi.number}={t.number:#x}"] + [f"{r}={v:#x}" for r, v in zip(abi.args, t.args)]))
                return run.pc
        return None


def stub_specs(stubs) -> list[tuple[str, Spec]]:
    """(text, Spec) for stubs from stubgen.generate(); only stubs rendered from the
    shipped templates count as rendered (a user's templates can make any text)."""
    return [(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap,
                          s.options.errno_handler, rendered=s.options.templates is None)) for s in stubs]


def verify(stubs, tables: str | None = None, templates: str | None = None) -> list[Report]:
    """Check stubs from stubgen.generate(); returns one report per stub."""
    if stubs:
        tables = tables or stubs[0].options.tables
        templates = templates or stubs[0].options.templates
    v = Verifier(tables, templates)
    return v.check_many([(text, spec, None) for text, spec in stub_specs(stubs)])


def _check_manifest(man, path):
    from ..inputs import check_manifest

    check_manifest(man, path)


def manifest_specs(directory) -> list[tuple[str, Spec]]:
    """The stubs a generated directory holds, read from its files as they are on disk
    (confined to the directory, regular files of bounded size). Text from disk is never
    rendered: the manifest's sha256 is input too and cannot vouch for it."""
    from ..inputs import read_listed, read_manifest

    man = read_manifest(directory)
    handler = man.get("options", {}).get("errno_handler", "stubgen_errno")
    out = []
    texts: dict[str, str] = {}
    for f in man.get("files", []):
        if not f.get("arch"):
            continue
        if f["path"] not in texts:
            texts[f["path"]] = read_listed(directory, f["path"])
        text = texts[f["path"]]
        for s in f.get("symbols", ()):
            out.append((text, Spec(s["arch"], f["dialect"], s["name"], s["syscall"], s["number"], s["policy"],
                                   s.get("trap", ""), handler, rendered=False)))
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
            if kind == "go":
                cache[key] = reference.go_references(text, arch)
            else:
                exact = dialect.reading_rules(arch.name).get("real_assembler", "bytes") == "bytes"
                cache[key] = reference.gnu_references(text, arch, exact)
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
    items, refused = [], {}
    for i, (text, spec) in enumerate(specs):
        ref = references(v, text, spec, cache, notes) if real_tools else None
        if isinstance(ref, str):
            refused[i] = Report(spec, [f"real assembler: {ref}"])
            continue
        items.append((text, spec, ref))
        if ref is not None:
            compared[ref.tool] = compared.get(ref.tool, 0) + 1
    checked = iter(v.check_many(items))
    reports = [refused[i] if i in refused else next(checked) for i in range(len(specs))]
    failed = [r for r in reports if not r.ok]
    for r in failed:
        print(r.describe(), file=out)
    runs = sum(r.runs for r in reports)
    also = "; ".join(f"{n} also against {tool}" for tool, n in sorted(compared.items()))
    print(f"verified {len(reports)} stubs ({runs} emulated calls{'; ' + also if also else ''}): "
          f"{len(reports) - len(failed)} passed, {len(failed)} failed", file=out)
    for n in sorted(notes):
        print(f"note: not compared with a real assembler: {n}", file=out)
    code = 1 if failed else 0
    if mutants:
        from .mutants import kill_table

        code = max(code, kill_table(v, specs, out=out))
    return code
