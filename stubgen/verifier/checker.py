"""The verifier: read each stub back from its text, assemble it (Keystone, or LLVM where
Keystone lacks the architecture; both where both can, and their bytes must agree),
decode it with Capstone, and run it on Unicorn under a fake kernel, once per injected
result. It stands on its own knowledge (kernel.py, conventions.py); of the generator's
world it reads only the tables' facts and the dialects' reading rules."""
from __future__ import annotations

from .. import dialects
from .. import tables as tables_mod
from ..errors import StubgenError
from ..tables import policies
from . import gnu, isolate, plan9, standins
from .assembler import backends, make, missing_note
from .assembly import AssemblyError, NoAssembler
from .body import ReadError
from .caller import CallWatch, lay_out
from .checks import HANDLER_POISON, INJECTED, Stage, Subject, evaluate, negated, placement
from .conventions import CallFrame, call_frame, conventions, decl_frame, go_frame, slots_decl
from .disasm import compare, listing, mnemonics, zero_after_trap
from .emulator import CODE, CODE_SIZE, HANDLER, LINKER, Machine, stub_symbols
from .kernel import indirect_words, linux_abi, never_fail, trap_sites
from .reference import compare_code
from .spec import Report, Spec

READERS = {"plan9": "Plan9Reader", "gnu": "GnuReader"}


class Verifier:
    """Holds one assembler and one Unicorn engine per architecture and reuses them."""

    def __init__(self, tables: str | None = None, templates: str | None = None, kernel_abi: str | None = None):
        self.tables = tables_mod.load(tables)
        self.templates = templates
        self.kernel_abi = kernel_abi  # a user's statement for architectures linux_abi.yaml lacks
        self._assemblers: dict = {}
        self._machines: dict = {}
        self._readers: dict = {}
        self._watches: dict = {}
        self._standin_watches: dict = {}
        self._link_symbols: dict = {}  # (dialect, arch) -> symbols the static linker defines
        self._expands: dict = {}  # (dialect, arch) -> {pseudo-instruction: instructions it becomes}
        self._decoded_registers: dict = {}  # (dialect, arch) -> pattern of register numbers in Capstone's text
        self._frames: dict = {}  # (arch, argument shapes, result bytes) -> CallFrame
        self._setups: dict = {}  # (arch, convention kind, CallFrame) -> (caller's Setup, kernel's placement)

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

    def not_emulated(self, arch, code: bytes | None = None) -> str | None:
        """Why arch's stubs (or this code) cannot run on the emulator; None when they can."""
        e = arch.engines.unicorn
        if e is None:
            return f"no emulator: {arch.engines.absent.get('unicorn', f'the tables name none for {arch.name}')}"
        cannot = e.get("cannot_run")
        if not cannot or code is None:
            return None
        if arch.engines.capstone is None:
            return f"not emulated: no decoder to find what Unicorn cannot run ({cannot['why']})"
        found = sorted(set(mnemonics(arch, code)) & set(cannot["mnemonics"]))
        return f"not emulated: Unicorn cannot run {', '.join(found)} ({cannot['why']})" if found else None

    def machine(self, arch):
        if arch.name not in self._machines:
            self._machines[arch.name] = Machine(arch, linux_abi(arch.name, self.kernel_abi), self.assembler(arch))
        return self._machines[arch.name]

    def reader(self, dialect, arch):
        key = (dialect.name, arch.name)
        if key not in self._readers:
            kind = dialect.verify.get("reader")
            if kind not in READERS:
                raise StubgenError(f"dialect {dialect.name}: unknown verify reader {kind!r}; valid: "
                                   f"{', '.join(READERS)}")
            rules = dialect.reading_rules(arch.name)
            cls = getattr({"plan9": plan9, "gnu": gnu}[kind], READERS[kind])
            self._readers[key] = (cls(arch, rules), rules.get("syntax"), tuple(rules.get("unchecked_aliases", ())))
            self._decoded_registers[key] = rules.get("decoded_registers")
            self._link_symbols[key] = tuple(rules.get("link_symbols", ()))
            self._expands[key] = dict(rules.get("expands", {}))
        return self._readers[key]

    def watch(self, machine, arch):
        """The CallWatch on machine's errno handler (one per engine)."""
        if arch.name not in self._watches:
            self._watches[arch.name] = CallWatch(machine, conventions(arch.name, self.kernel_abi).c, [HANDLER])
        return self._watches[arch.name]

    def standin_watch(self, machine, arch):
        """The StandInWatch on machine's stand-in slots (one per engine)."""
        if arch.name not in self._standin_watches:
            ra = conventions(arch.name, self.kernel_abi).go_abi0.return_address
            self._standin_watches[arch.name] = standins.StandInWatch(machine, HANDLER, ra)
        return self._standin_watches[arch.name]

    def subject(self, spec: Spec, arch, dialect, body=None) -> tuple[Subject | str, list[str]]:
        """What spec's stub is held to (or why it cannot be checked), and notes. body:
        a stub stubgen did not write, whose Go frame comes from its declaration
        (spec.go_decl) or else from its FP references."""
        policy = policies.POLICIES[spec.policy]
        sig = self.tables.signature(arch, spec.syscall)
        if sig is None:
            return f"no signature for {spec.syscall!r} in the tables", []
        conv = conventions(arch.name, self.kernel_abi)
        kind = dialect.verify["convention"]
        # Bits the kernel reads of each argument: the signature's, as the kernel declares it.
        sizes = [(p.type.bytes(arch), p.role, p.type.kernel_bits(arch)) for p in sig.args]
        # An entry point that reads its arguments through its one pointer (old_mmap): a Go
        # function stubgen did not write, which takes them as its parameters and builds
        # the block itself, is held to those, each a word.
        indirect = indirect_words(arch.entry_points.get(spec.syscall, spec.syscall)) \
            if body is not None and kind == "go_abi0" else 0
        if indirect and len(sig.args) == 1:
            # Only when the function takes the arguments themselves (Go's s390x mmap);
            # one that is handed the pointer passes it on as it is.
            taken = len(spec.go_decl.params) if spec.go_decl is not None else \
                len({n.removesuffix("_lo").removesuffix("_hi") for n, _, _ in body.slots})
            indirect = indirect if taken >= indirect else 0
        if indirect:
            sizes = [(arch.word_bytes, None, 8 * arch.word_bytes)] * indirect
        internal = kind == "go_abi0" and spec.go_abi == "ABIInternal" and conv.go_internal is not None
        decl = spec.go_decl
        if decl is None and spec.go_args is not None and body is not None and kind == "go_abi0":
            # Arguments told by --stub, no declaration at hand: the FP references name the
            # parameters the arguments point at, and the results after them.
            used = [a.value + 1 for a in spec.go_args if a.kind == "param"]
            decl = slots_decl(arch.word_bytes, spec.symbol, body.slots, max(used, default=0))
        if body is not None and kind == "go_abi0" and decl is not None:
            made = decl_frame(conv, arch.word_bytes, decl, sizes, policy.returns, internal, spec.go_args)
            if isinstance(made, str):
                return f"{decl.where}: {made}", []
            frame, notes = made
            kind = "go_internal" if internal else kind
        elif internal:
            return "Go's register ABI needs the function's Go declaration (its package's .go files)", []
        else:
            found = go_frame(arch.word_bytes, sizes, body.slots) if body is not None and kind == "go_abi0" else None
            if isinstance(found, str):
                return found, []
            if found is not None:
                frame, notes = found
                if not policy.returns:
                    frame = CallFrame(frame.args, None, frame.argsize)
            else:
                notes = []
                # Many signatures share a shape: lay each shape's frame out once.
                key = (arch.name, tuple(sizes), sig.result.bytes(arch) if policy.returns else None)
                if key not in self._frames:
                    self._frames[key] = call_frame(conv, arch.word_bytes, sizes, key[2])
                frame = self._frames[key]
        # The number is the tables', whatever a manifest or the file says.
        number = arch.numbers.get(spec.syscall, spec.number)
        return Subject(arch, linux_abi(arch.name, self.kernel_abi), conv, kind, frame, policy, spec.syscall, number,
                       spec.errno_handler, own=body is None, standins=standins.place(spec.standins),
                       indirect=indirect), notes

    def symbols(self, arch, dialect, errno_handler: str, stand_ins=()) -> dict[str, int]:
        """Every symbol a stub may name: the fake errno handler and vDSO, what the
        static linker defines (placed where no code is), and the stand-ins for what
        the stub calls or jumps to outside its input ((symbol, kind) pairs)."""
        self.reader(dialect, arch)
        linker = self._link_symbols[(dialect.name, arch.name)]
        return {**dict.fromkeys(linker, LINKER), **stub_symbols(linux_abi(arch.name, self.kernel_abi), errno_handler),
                **{s.name: s.address for s in standins.place(stand_ins)}}

    def prefetch(self, items) -> None:
        """Read every stub and hand the bodies to each assembler at once: LLVM then runs
        once for all of them instead of once per stub. Problems are left to check()."""
        jobs: dict = {}
        for text, spec in items:
            try:
                arch = self.tables.arch(spec.arch)
                reader, syntax, _ = self.reader(dialects.dialect(spec.dialect, self.templates), arch)
                asms = [a for a in self.assemblers(arch, syntax) if a.batched]
                if not asms:
                    continue
                symbols = self.symbols(arch, dialects.dialect(spec.dialect, self.templates), spec.errno_handler,
                                       spec.standins)
                body = reader.read(text, spec.symbol, symbols)
            except (StubgenError, ReadError):
                continue
            for a in asms:
                jobs.setdefault(id(a), (a, []))[1].append((body.lines, CODE, symbols))
        for a, batch in jobs.values():
            a.prefetch(batch)

    def check(self, text: str, spec: Spec, reference=None, foreign: bool = False) -> Report:
        """Check one stub's text. reference: the same stub's bytes from a real
        assembler (reference.Reference); they must match the lowering and pass the
        same emulated checks. foreign: text stubgen did not write: what the verifier
        cannot read is unverified, not failed, and a Go frame comes from the text.
        Text that is not spec.rendered runs in a child."""
        return self.check_many([(text, spec, reference)], foreign)[0]

    def check_many(self, items, foreign: bool = False) -> list[Report]:
        """Reports for (text, spec[, reference]) items, in order. Untrusted text goes to
        one child per architecture and dialect, which is one per file of a manifest:
        forking per stub would cost more than the checks. Each group's bodies go to the
        batching assemblers (LLVM) at once, before the checks."""
        items = [it if len(it) == 3 else (*it, None) for it in items]
        out: list[Report | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for _, spec, _ in items:
            self._check_spec(spec)
        # A verifier given a user's templates holds no text rendered from the shipped ones,
        # whatever a Spec built by hand says (the mutator's re-rendered stubs, for one).
        shipped = self.templates is None
        trusted = [i for i, (_, spec, _) in enumerate(items) if (spec.rendered and shipped) or isolate.in_child()]
        self.prefetch([items[i][:2] for i in trusted])
        for i in trusted:
            text, spec, ref = items[i]
            out[i] = self._check(text, spec, ref, foreign=foreign)
        for i, (_, spec, _) in enumerate(items):
            if out[i] is None:  # one file: one architecture in one dialect
                groups.setdefault((spec.arch, spec.dialect), []).append(i)

        def checked(idx):
            self.prefetch([items[i][:2] for i in idx])
            return [self._check(*items[i], foreign=foreign) for i in idx]

        for idx in groups.values():
            for i in idx:  # engines and readers are made here, from tables, not text
                self._warm(items[i][1])
            try:
                reports = isolate.run(lambda idx=idx: checked(idx),
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
        dialect = dialects.dialect(spec.dialect, self.templates)
        _, syntax, _ = self.reader(dialect, arch)
        self.assembler(arch, syntax)
        if self.not_emulated(arch) is None:
            self.machine(arch)

    def _check(self, text: str, spec: Spec, reference=None, foreign: bool = False) -> Report:
        rep = Report(spec)
        arch = self.tables.arch(spec.arch)
        dialect = dialects.dialect(spec.dialect, self.templates)
        reader, syntax, aliases = self.reader(dialect, arch)
        try:
            self.assembler(arch, syntax)
            machine = self.machine(arch) if self.not_emulated(arch) is None else None
        except NoAssembler as e:
            rep.problems.append(str(e))
            return rep
        expands = self._expands[(dialect.name, arch.name)]
        symbols = self.symbols(arch, dialect, spec.errno_handler, spec.standins)
        try:
            body = reader.read(text, spec.symbol, symbols)
            first, *others = self.assemblers(arch, syntax)
            code = first.assemble(body.lines, CODE, symbols).code
        except (ReadError, AssemblyError) as e:
            (rep.unverified if foreign else rep.problems).append(f"cannot assemble: {e}")
            return rep
        for other in others:
            # A second assembler of the same text at the same address: an oracle of its own.
            try:
                theirs = other.assemble(body.lines, CODE, symbols).code
            except AssemblyError as e:
                rep.problems.append(f"{first.name} assembles it, {other.name} does not: {e}")
                continue
            if theirs != code:
                rep.problems.append(f"{first.name} and {other.name} disagree: {code.hex()} vs {theirs.hex()}")
            else:
                rep.agreed.append(other.name)
        if len(code) > CODE_SIZE:
            rep.problems.append(f"{len(code)} bytes of code, more than the {CODE_SIZE:#x}-byte code area")
            return rep
        subject, notes = self.subject(spec, arch, dialect, body if foreign else None)
        if isinstance(subject, str):
            # A foreign Go function whose declaration the verifier cannot hold it to: unverified.
            (rep.unverified if foreign else rep.problems).append(subject)
            return rep
        rep.warnings += notes
        if spec.number is not None and subject.number is not None and spec.number != subject.number:
            rep.problems.append(f"declared as {spec.syscall} number {spec.number}, the tables say "
                                f"{subject.number}{_named(arch, spec.number)}")
        declared, needed = (body.frame[1] if body.frame else None), subject.frame.argsize
        # Go's own declaration is exact; without it the FP references give a lower bound.
        exact = not foreign or spec.go_decl is not None
        if declared is not None and subject.kind != "go_internal" and (declared != needed if exact else declared < needed):
            rep.problems.append(f"TEXT declares argument size {declared}, the Go declaration needs {needed}"
                                + (f" ({spec.go_decl.where})" if spec.go_decl is not None else ""))
        if arch.engines.capstone is not None:
            rep.problems += compare(arch, body, code, CODE, subject.abi.forbidden, aliases, expands,
                                    self._decoded_registers[(dialect.name, arch.name)])
            if subject.go and subject.conv.go_abi0.zero:
                g = subject.conv.go_abi0
                rep.problems += zero_after_trap(arch, code, CODE, subject.abi.opcodes, g.zero, g.zero_read_first)
        else:
            rep.not_run.append(f"no decoder: {arch.engines.absent.get('capstone', 'the tables name none')}")
        # machine is None exactly where the architecture has no emulator, and then why says so
        why = self.not_emulated(arch, code)
        fail_pc = None
        if why is None:
            fail_pc = self._emulate(rep, code, subject, machine)
        else:
            rep.not_run.append(why)
            rep.problems += _trap_count(arch, code, subject.abi, any(x.kind == "tail" for x in subject.standins))
        if reference is not None and not rep.problems:
            theirs = reference.patched(symbols, len(code))
            rep.problems += compare_code(arch, code, theirs, reference)
            if (not rep.problems and theirs != code and reference.emulate and machine is not None
                    and self.not_emulated(arch, theirs) is None):
                fail_pc = self._emulate(rep, theirs, subject, machine, label=f"{reference.tool}'s bytes: ")
                code = theirs if rep.problems else code
        if rep.problems and arch.engines.capstone is not None:
            rep.listing = listing(arch, code, CODE, fail_pc)
        elif rep.problems:
            rep.listing = f"    {code.hex()}  (no decoder for {arch.name})"
        return rep

    def _emulate(self, rep, code, s: Subject, machine, label=""):
        """Run code once per injected result; the first failing run's problems go to rep."""
        machine.load(code)
        # The caller's state depends on the frame's shape alone (never changed once made).
        key = (s.arch.name, s.kind, s.frame)
        if key not in self._setups:
            setup = lay_out(s.arch, s.conv, s.kind, s.frame)
            self._setups[key] = (setup, placement(s, setup))
        setup, where = self._setups[key]
        prepared = machine.prepare(setup.regs, setup.memory)
        stage = Stage(setup, where, len(code))
        watch = self.watch(machine, s.arch)
        watch.result = -1 if s.policy.handler_result else HANDLER_POISON
        slots = self.standin_watch(machine, s.arch)
        slots.table = {x.address: x for x in s.standins}
        machine.indirect_words = s.indirect
        mem = machine.uc.mem_read
        results = INJECTED + negated(s.abi)
        if not s.own and (s.syscall in never_fail() or s.frame.no_errors):
            # The kernel cannot fail it (or Go calls it only for calls that cannot fail):
            # another runtime's stub needs no error path.
            lo, hi = s.abi.error_range
            results = tuple(r for r in results if not lo <= r <= hi)
        for inject in results:
            watch.calls, slots.arrivals = [], []
            run = machine.run_prepared(prepared, inject)
            rep.runs += 1
            problems, warnings = evaluate(run, watch.calls, s, stage, inject, mem, slots.arrivals)
            for w in warnings:
                if w not in rep.warnings:
                    rep.warnings.append(w)
            if problems and type(inject) is not int and not s.own:
                # An errno the kernel returns already negated, error flag set: a quirk of
                # some MIPS kernel paths (musl 5db475f0), not the documented ABI. Another
                # runtime's stub that does not guard against it gets a warning.
                rep.warnings.append(f"kernel quirk: with an already negated errno ({int(inject)}) and the "
                                    f"error flag set, {problems[0]}")
                continue
            if problems:
                how = " (already negated, error flag set)" if type(inject) is not int else ""
                rep.problems += [f"{label}kernel result {int(inject)}{how}: {p}" for p in problems]
                if run.traps:
                    t, abi = run.traps[0], s.abi
                    rep.problems.append("seen at the trap: " + ", ".join(
                        [f"{abi.number}={t.number:#x}"] + [f"{r}={v:#x}" for r, v in zip(abi.args, t.args)]))
                return run.pc
        return None


def _named(arch, number: int) -> str:
    names = [n for n, v in arch.numbers.items() if v == number]
    return f" ({number} is {names[0]})" if names else ""


def _trap_count(arch, code: bytes, abi, tail: bool = False) -> list[str]:
    """Where the stub cannot run: its bytes must still hold exactly one of the kernel's
    trap instructions (the verifier's own opcodes), as a run would have to show; or
    none, where it hands its frame to another function by a tail jump (tail)."""
    if not abi.opcodes or abi.vdso:
        return []
    sites = trap_sites(abi.opcodes, code, arch.endian)
    name = abi.trap.get("name", "syscall trap")
    if len(sites) == 1 or (tail and not sites):
        return []
    if not sites:
        return [f"no {name} in the bytes (read from them: the stub is not emulated)"]
    return [f"{len(sites)} instructions are the {name} (at {', '.join(f'{a:#x}' for a in sites)}), expected one"]
