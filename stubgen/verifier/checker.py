"""The verifier: read each stub back from its text, assemble it (Keystone, or LLVM where
Keystone lacks the architecture; both where both can, and their bytes must agree),
decode it with Capstone, and run it on Unicorn under a fake kernel, once per injected
result. It stands on its own knowledge (kernel.py, conventions.py); of the generator's
world it reads only the tables' facts and the dialects' reading rules."""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from .. import dialects
from .. import tables as tables_mod
from ..dialects.rules import code_symbol
from ..errors import StubgenError
from ..tables import policies
from . import contract as contracts
from . import gnu, gostandins, isolate, plan9
from .assembler import backends, make, missing_note
from .assembly import AssemblyError, NoAssembler
from .body import ReadError
from .caller import IMAGE_FRAME, lay_out
from .checks import HANDLER_POISON, INJECTED, UNOBSERVED, Stage, Subject, evaluate, negated, placement
from .conventions import CallFrame, call_frame, conventions, decl_frame, go_frame, slots_decl
from .disasm import compare, decode, forbidden, listing, mnemonics, zero_after_trap
from .emulator import (
    CODE,
    CODE_SIZE,
    EXTERN,
    EXTERN_SIZE,
    GOT,
    HANDLER,
    IMAGE_STEP_LIMIT,
    LINKER,
    STANDIN_DATA,
    TLS_AREA,
    TLS_SIZE,
    Machine,
    stub_symbols,
)
from .image import Image
from .kernel import indirect_words, linux_abi, never_fail, trap_sites
from .reference import compare_code
from .resume import Runs, Tally
from .spec import Report, Spec
from .standins import StandIn, StandIns, catalog, thread_words

READERS = {"plan9": "Plan9Reader", "gnu": "GnuReader"}
HANDLER_NAME = "errno handler"  # the generated stubs' handler stand-in, whatever its symbol


class Verifier:
    """Holds one assembler and one Unicorn engine per architecture and reuses them."""

    # True: every injected result runs from the entry (resume.py's shortcut off), for
    # tests that compare the two.
    full_runs = False

    def __init__(self, tables: str | None = None, templates: str | None = None, kernel_abi: str | None = None):
        self.tables = tables_mod.load(tables)
        self.templates = templates
        self.kernel_abi = kernel_abi  # a user's statement for architectures linux_abi.yaml lacks
        self._assemblers: dict = {}
        self._machines: dict = {}
        self._qemu_broken: dict[str, str] = {}  # arch -> why its qemu-user did not come up
        self._readers: dict = {}
        self._watches: dict = {}
        self._standin_watches: dict = {}
        self._link_symbols: dict = {}  # (dialect, arch) -> symbols the static linker defines
        self._got_pointers: dict = {}  # (dialect, arch) -> the symbol that is gp's distance from the PC, or None
        self._own_labels: dict = {}  # (dialect, arch) -> where a stub's code is labelled (code_symbol), or {}
        self._expands: dict = {}  # (dialect, arch) -> {pseudo-instruction: instructions it becomes}
        self._decoded_registers: dict = {}  # (dialect, arch) -> pattern of register numbers in Capstone's text
        self._frames: dict = {}  # (arch, argument shapes, result bytes) -> CallFrame
        self._setups: dict = {}  # (arch, convention kind, CallFrame) -> (caller's Setup, kernel's placement)
        self.tally = Tally()  # how the runs were made (resume.py)
        self._results: dict = {}  # arch -> the kernel results each stub is run with

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

    def not_emulated(self, arch, code: bytes | None = None, image: bool = False) -> str | None:
        """Why arch's stubs (or this code) cannot run on any emulator; None when one can."""
        return self.engine(arch, code, image)[1]

    def engine(self, arch, code: bytes | None = None, image: bool = False) -> tuple[str | None, str | None]:
        """(the engine that runs arch's stubs or this code, why none can): Unicorn where it
        runs them, else QEMU where the tables name it (engines.qemu) and qemu-user is
        installed. image: machine code linked from ELF files (both engines run it)."""
        why = self._unicorn_cannot(arch, code)
        if why is None:
            return "unicorn", None
        if arch.engines.qemu is None:
            return None, why
        from .qemu.machine import QemuError, missing

        lacks = missing(arch) or self._qemu_broken.get(arch.name)
        if lacks is None:
            try:
                self.machine(arch, "qemu")  # started here: a qemu that does not come up is a reason too
            except QemuError as e:
                lacks = self._qemu_broken[arch.name] = str(e)
        if lacks is not None:
            return None, f"{why}; QEMU could run it, but {lacks}"
        return "qemu", None

    def _unicorn_cannot(self, arch, code: bytes | None) -> str | None:
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

    def machine(self, arch, engine: str = "unicorn"):
        key = (arch.name, engine)
        if getattr(self._machines.get(key), "owner", os.getpid()) != os.getpid():
            del self._machines[key]  # another process's (QEMU's conversation is not shared across a fork)
        if key not in self._machines:
            abi = linux_abi(arch.name, self.kernel_abi)
            if engine == "qemu":
                from .qemu.machine import QemuMachine

                entry = conventions(arch.name, self.kernel_abi).c.entry_register
                self._machines[key] = QemuMachine(arch, abi, self.assembler(arch), entry)
            else:
                self._machines[key] = Machine(arch, abi, self.assembler(arch))
        return self._machines[key]

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
            self._link_symbols[key] = dict.fromkeys(rules.get("link_symbols", ()), LINKER)
            self._got_pointers[key] = rules.get("got_pointer")
            self._own_labels[key] = {"code_symbol": rules["code_symbol"]} if "code_symbol" in rules else {}
            self._decoded_registers[key] = rules.get("decoded_registers")
            self._expands[key] = dict(rules.get("expands", {}))
        return self._readers[key]

    def watch(self, machine, arch) -> StandIns:
        """The stand-ins on machine (one set per engine): the generated stubs' errno
        handler at HANDLER, and the catalog's (standins.yaml) for images."""
        key = (arch.name, id(machine))  # one set per engine: Unicorn and QEMU may both serve arch
        if self._watches.get(key, (None,))[0] is not machine:
            abi = linux_abi(arch.name, self.kernel_abi)
            st = StandIns(machine, conventions(arch.name, self.kernel_abi).c, abi.error_range, catalog(arch.name))
            st.hook(HANDLER, StandIn(HANDLER_NAME, "function", takes="errno"))
            self._watches[key] = (machine, st)
        return self._watches[key][1]

    def standin_watch(self, machine, arch):
        """The StandInWatch on machine's Go stand-in slots (one per engine)."""
        key = (arch.name, id(machine))
        if self._standin_watches.get(key, (None,))[0] is not machine:
            conv = conventions(arch.name, self.kernel_abi)
            # Go's stand-ins return as Go does; with no Go port none is called, and the
            # watch returns as C does.
            ra = (conv.go_abi0 or conv.c).return_address
            self._standin_watches[key] = (machine, gostandins.StandInWatch(machine, HANDLER, ra))
        return self._standin_watches[key][1]

    def subject(self, spec: Spec, arch, dialect, body=None, kind: str = "") -> tuple[Subject | str, list[str]]:
        """What spec's stub is held to (or why it cannot be checked), and notes. body:
        a stub stubgen did not write, whose Go frame comes from its declaration
        (spec.go_decl) or else from its FP references. kind: the convention ("c_abi",
        "go_abi0") where no dialect says it (machine code)."""
        policy = policies.POLICIES[spec.policy]
        sig = self.tables.signature(arch, spec.syscall)
        if sig is None:
            return f"no signature for {spec.syscall!r} in the tables", []
        conv = conventions(arch.name, self.kernel_abi)
        kind = kind or dialect.verify["convention"]
        if kind == "go_abi0" and conv.go_abi0 is None:
            return f"Go code, but Go has no linux port for {arch.name} (the verifier's conventions.yaml has no " \
                   "go_abi0 for it)", []
        # Bits the kernel reads of each argument: the signature's, as the kernel declares it.
        # A word-sized type (C's long or a pointer) says whether it is signed: where C's long
        # is narrower than the register (conventions' c.long_bytes), the kernel's long_args
        # rule says how it must reach the kernel.
        sizes = [(p.type.bytes(arch), p.role, p.type.kernel_bits(arch), p.type.signed) if p.type.size == "word"
                 else (p.type.bytes(arch), p.role, p.type.kernel_bits(arch)) for p in sig.args]
        c = spec.contract
        if c is not None:
            # The function's own parameters: one word each, as many as the contract names.
            sizes = contracts.parameter_sizes(c, arch, self.tables)  # type: ignore[assignment]
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
                       spec.errno_handler, own=body is None and not spec.foreign, own_policy=spec.own_policy, contract=c,
                       standins=gostandins.place(spec.standins), indirect=indirect), notes

    def symbols(self, arch, dialect, errno_handler: str, own: str | None = None, stand_ins=()) -> dict[str, int]:
        """Every symbol a stub may name: the fake errno handler and vDSO, what the static
        linker defines (placed where no code is, or the fake GOT's distance), own, the
        stub's own symbol, at the address it runs from (ppc64le's global entry point
        computes the TOC from it; ELF V1's code label, not its descriptor), and Go's stand-ins for what the stub calls or jumps to
        outside its input ((symbol, kind) pairs)."""
        self.reader(dialect, arch)
        key = (dialect.name, arch.name)
        got = self._got_pointers[key]
        own = code_symbol(self._own_labels[key], own) if own else None
        return {**self._link_symbols[key], **({got: GOT - CODE} if got else {}), **({own: CODE} if own else {}),
                **stub_symbols(linux_abi(arch.name, self.kernel_abi), errno_handler),
                **{s.name: s.address for s in gostandins.place(stand_ins)}}

    def _linked(self, arch, dialect, body, symbols: dict[str, int], assembler) -> dict[str, int]:
        """symbols with the GOT pointer's distance as a linker resolves it: gp less the
        address of the first instruction that names it (o32's _gp_disp by definition; the
        label of n64's %neg(%gp_rel(label)), which the templates put on that instruction),
        so that gp is the fake GOT exactly (aligned for a doubleword load, and a wrong
        computation reads no handler). That address comes from a first assembly, decoded."""
        got = self._got_pointers[(dialect.name, arch.name)]
        names = re.compile(rf"(?<![\w.]){re.escape(got)}(?!\w)") if got else None
        k = next((i for i, src in enumerate(body.source) if names and names.search(src)), None)
        if k is None or arch.engines.capstone is None:
            return symbols
        code = assembler.assemble(body.lines, CODE, symbols).code
        expands = self._expands[(dialect.name, arch.name)]
        index = sum(expands.get(src.split(None, 1)[0], 1) for src in body.source[:k])
        insns = decode(arch, code, CODE, index + 1)
        return {**symbols, got: GOT - insns[index].address} if len(insns) > index else symbols

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
                                       spec.symbol, spec.standins)
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
        if not self.assemblers(arch, syntax):
            return  # each stub fails in _check, naming the assembler to install; the others go on
        engine = self.engine(arch)[0]
        if engine is not None:
            self.machine(arch, engine)

    def _check(self, text: str, spec: Spec, reference=None, foreign: bool = False) -> Report:
        rep = Report(spec)
        arch = self.tables.arch(spec.arch)
        dialect = dialects.dialect(spec.dialect, self.templates)
        reader, syntax, aliases = self.reader(dialect, arch)
        try:
            self.assembler(arch, syntax)
            if (engine := self.engine(arch)[0]) is not None:
                self.machine(arch, engine)  # made before the text is read: from the tables only
        except NoAssembler as e:
            rep.problems.append(str(e))
            return rep
        expands = self._expands[(dialect.name, arch.name)]
        symbols = self.symbols(arch, dialect, spec.errno_handler, spec.symbol, spec.standins)
        try:
            body = reader.read(text, spec.symbol, symbols)
            first, *others = self.assemblers(arch, syntax)
            symbols = self._linked(arch, dialect, body, symbols, first)
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
            g = subject.conv.go_abi0
            if subject.go and g is not None and g.zero:
                rep.problems += zero_after_trap(arch, code, CODE, subject.abi.opcodes, g.zero, g.zero_read_first)
        else:
            rep.not_run.append(f"no decoder: {arch.engines.absent.get('capstone', 'the tables name none')}")
        # the engine is None exactly where no emulator runs the code, and then why says so
        engine, why = self.engine(arch, code)
        machine = self.machine(arch, engine) if engine else None
        fail_pc = None
        if machine is not None:
            fail_pc = self._emulate(rep, code, subject, machine)
            if getattr(machine, "blind", None) and machine.blind not in rep.warnings:
                rep.warnings.append(machine.blind)  # what this engine's runs could not observe
        else:
            rep.not_run.append(why or "no emulator")
            rep.problems += _trap_count(arch, code, subject.abi, any(x.kind == "tail" for x in subject.standins))
        if reference is not None and not rep.problems:
            theirs = reference.patched(symbols, len(code))
            rep.problems += compare_code(arch, code, theirs, reference)
            if (not rep.problems and theirs != code and reference.emulate and machine is not None
                    and self.not_emulated(arch, theirs) is None):
                fail_pc = self._emulate(rep, theirs, subject, machine, label=f"{reference.tool}'s bytes: ")
                code = theirs if rep.problems else code
        rep.line = body.start
        if rep.problems and arch.engines.capstone is not None:
            rep.listing = listing(arch, code, CODE, fail_pc)
            rep.line = _line_at(arch, body, code, fail_pc, expands) or body.start
        elif rep.problems:
            rep.listing = f"    {code.hex()}  (no decoder for {arch.name})"
        return rep

    # ---------------------------------------------------------------- machine code

    def check_image(self, img: Image, jobs) -> list[Report]:
        """Reports for (ImageFunction, Spec) jobs of one linked image (image.py), each run
        from its entry with the whole image, the stand-ins and the TLS block in place:
        a body that falls through into another function, or calls one of the input's
        own, runs as the CPU would run it. Call it in an isolated child: the bytes are
        untrusted."""
        out: list[Report] = []
        if not jobs:
            return out
        arch = self.tables.arch(jobs[0][1].arch)
        conv = conventions(arch.name, self.kernel_abi)
        loaded: dict = {}  # engine -> (machine, ImageRun) or why the image cannot run there
        for fn, spec in jobs:
            rep = Report(spec)
            out.append(rep)
            code = img.read(fn.start, fn.size)
            if not code:
                rep.unverified.append(f"{fn.name} has no bytes in a loaded segment")
                continue
            subject, notes = self.subject(spec, arch, None, kind="c_abi")
            if isinstance(subject, str):
                rep.problems.append(subject)
                continue
            rep.warnings += notes
            if arch.engines.capstone is not None:
                rep.problems += forbidden(arch, code, fn.start, subject.abi.forbidden, fn.thumb)
            else:
                rep.not_run.append(f"no decoder: {arch.engines.absent.get('capstone', 'the tables name none')}")
            engine, why = self.engine(arch, code, image=True)
            fail_pc = None
            if engine is None:
                # Not _trap_count: a function of an image may reach its trap in another one.
                rep.not_run.append(why or "no emulator")
            else:
                if engine not in loaded:
                    loaded[engine] = self._load_image(img, arch, conv, engine)
                run_on = loaded[engine]
                if isinstance(run_on, str):
                    rep.unverified.append(run_on)
                    continue
                fail_pc = self._emulate(rep, None, subject, run_on[0], entry=fn.address, image=run_on[1])
                blind = getattr(run_on[0], "blind_image", None)
                if blind and blind not in rep.warnings:
                    rep.warnings.append(blind)  # what this engine's runs could not observe
            if rep.problems and arch.engines.capstone is not None:
                rep.listing = listing(arch, code, fn.start, fail_pc, fn.thumb)
        for run_on in loaded.values():
            if not isinstance(run_on, str):
                run_on[0].unload_image()
        return out

    def _load_image(self, img: Image, arch, conv, engine: str = "unicorn"):
        """(machine, ImageRun) with img loaded on engine, or why it cannot be run."""
        from .qemu.machine import QemuError

        try:
            return self._load_image_on(img, arch, conv, self.machine(arch, engine))
        except QemuError as e:
            return f"the QEMU engine cannot run it: {e}"

    def _load_image_on(self, img: Image, arch, conv, machine):
        st = self.watch(machine, arch)
        st.place()
        writes: list[tuple[int, bytes]] = [(a, d) for a, d, w in img.segments if w]
        extra: dict = {}
        st.tls_cells = []
        tp = block = TLS_AREA + TLS_SIZE // 2
        if img.tls is not None:
            if conv.tls is None:
                return f"uses thread-local storage, and conventions.yaml says nothing of {arch.name}'s TLS"
            t = img.tls
            block = -(-(TLS_AREA + 0x100) // t.align) * t.align
            if block + t.size > TLS_AREA + TLS_SIZE:
                return f"its TLS block of {t.size} bytes is larger than the emulator's {TLS_SIZE} bytes"
            writes.append((block, t.init + b"\0" * (t.size - len(t.init))))
            tp = conv.tls.pointer_for(block, t.size, t.align)
            mask = (1 << (8 * arch.word_bytes)) - 1
            for at, off, negated, size in img.tls_slots:  # a shared object's TLS offsets (dynamic.py)
                value = tp - (block + off) if negated else block + off - tp
                writes.append((at, (value & mask & ((1 << (8 * size)) - 1)).to_bytes(size, arch.endian)))
            cat = st.cat
            st.tls_cells = [(block + off, found) for n, off in sorted(img.tls_symbols.items()) if (found := cat.tls(n))]
        if conv.tls is not None:
            extra = machine.thread_pointer(conv.tls, tp)
        st.thread_pointer = tp
        st.thread = thread_words(arch.name)
        machine.load_image([(a, d) for a, d, _ in img.segments], img.externs)
        writes += st.initial()
        tls = (block, block + img.tls.size) if img.tls is not None else (tp, tp)
        readable = tuple(img.ranges()) + ((STANDIN_DATA, STANDIN_DATA + 0x1000), tls, *st.thread_ranges())
        writable = tuple((a, a + 4) for a in st.errno_addresses())
        return machine, ImageRun(img, tuple(writes), extra, readable, writable, tp, tls)

    def _emulate(self, rep, code, s: Subject, machine, label="", entry=CODE, image=None):
        """Run code once per injected result; the first failing run's problems go to rep.
        code None: the machine holds an image (image: its ImageRun), run from entry."""
        if code is not None:
            machine.load(code)
            entry = machine.code_entry
        # The caller's state depends on the frame's shape alone (never changed once made).
        key = (s.arch.name, s.kind, s.frame)
        if key not in self._setups:
            setup = lay_out(s.arch, s.conv, s.kind, s.frame, s.abi.long_args)
            self._setups[key] = (setup, placement(s, setup))
        setup, where = self._setups[key]
        expected: tuple = ()
        if s.contract is not None:
            setup, expected = contracts.lay(s.contract, s, setup, s.frame, self.tables)
        watch = self.watch(machine, s.arch)
        watch.takes = dict([s.contract.handler]) if s.contract is not None and s.contract.handler else {}
        if image is None:
            toc = s.conv.c.toc if s.kind == "c_abi" else ""
            if toc:
                # A caller of the same module: its TOC is the stub's (what .TOC. links to).
                setup = dataclasses.replace(setup, regs={**setup.regs, toc: LINKER},
                                            poisoned={**setup.poisoned, toc: LINKER})
            prepared = machine.prepare(setup.regs, setup.memory)
            stage = Stage(setup, where, len(code), expected=expected)
        else:
            regs = setup.regs
            entry_register = s.conv.c.entry_register_for(image.image.flags) if s.kind == "c_abi" else ""
            if entry_register:
                regs = {**regs, entry_register: entry & ~1}
            base = image.image.symbols.get(s.conv.c.toc_symbol) if s.kind == "c_abi" and s.conv.c.toc else None
            if base is not None:
                # A caller of the same module: its TOC is the image's, and still after the return.
                regs = {**regs, s.conv.c.toc: base}
                setup = dataclasses.replace(setup, regs={**setup.regs, s.conv.c.toc: base},
                                            poisoned={**setup.poisoned, s.conv.c.toc: base})
            # A thread pointer held in a general register (ppc's r2) is the caller's value
            # of that register: what it must still hold after the return.
            held = {name: image.extra[rid] for name, rid in machine.reg_ids.items() if rid in image.extra}
            if held:
                regs = {**regs, **held}
                setup = dataclasses.replace(setup, regs={**setup.regs, **held}, poisoned={**setup.poisoned, **held})
            prepared = machine.prepare(regs, setup.memory + list(image.writes), image.extra)
            stage = Stage(setup, where, 0, image.readable, image.writable, image.image.symbol_at, expected=expected,
                          own_frame=IMAGE_FRAME, steps=IMAGE_STEP_LIMIT)
        watch.results[HANDLER_NAME] = -1 if s.policy.handler_result else HANDLER_POISON
        slots = self.standin_watch(machine, s.arch)
        slots.table = {x.address: x for x in s.standins}
        machine.indirect_words = s.indirect
        mem = machine.uc.mem_read
        results = self._results.get(s.arch.name)
        if results is None:
            results = self._results[s.arch.name] = INJECTED + negated(s.abi)
        if not s.held and (s.syscall in never_fail() or s.frame.no_errors):
            # The kernel cannot fail it (or Go calls it only for calls that cannot fail):
            # another runtime's stub needs no error path.
            lo, hi = s.abi.error_range
            results = tuple(r for r in results if not lo <= r <= hi)
        # Stand-ins write errno from outside the engine, where a run's writes are not seen.
        runs = Runs(machine, prepared, entry, stage.steps, lambda: not watch.calls and not slots.arrivals,
                    self.tally, self.full_runs, [(a, 4) for a in watch.errno_addresses()])
        for inject in results:
            watch.calls, slots.arrivals = [], []
            run = runs.run(inject)
            rep.runs += 1
            if image is not None:
                lacks = _lacks(run, image) + _dereferences(run, setup)
                if lacks:
                    rep.unverified += [w for w in lacks if w not in rep.unverified]
                    return run.pc
            errno = watch.errno() if image is not None else UNOBSERVED
            problems, warnings = evaluate(run, watch.calls, s, stage, inject, mem, errno, slots.arrivals)
            for w in warnings:
                if w not in rep.warnings:
                    rep.warnings.append(w)
            if problems and type(inject) is not int and not s.own:
                # A kernel quirk, not the documented ABI (some MIPS paths set a3 with an
                # errno already negated; musl guards since 2020): another runtime's stub
                # that trusts the ABI gets a warning, stubgen's own (which guard) a failure.
                for p in problems:
                    w = (f"kernel result {int(inject)} (already negated, error flag set: a kernel quirk, not the "
                         f"documented ABI): {p}")
                    if w not in rep.warnings:
                        rep.warnings.append(w)
                continue
            if problems:
                how = " (already negated, error flag set)" if type(inject) is not int else ""
                rep.problems += [f"{label}kernel result {int(inject)}{how}: {p}" for p in problems]
                rep.problems += _clobbered(problems, machine, s.abi, run)
                if run.traps:
                    t, abi = run.traps[0], s.abi
                    rep.problems.append("seen at the trap: " + ", ".join(
                        [f"{abi.number}={t.number:#x}"] + [f"{r}={v:#x}" for r, v in zip(abi.args, t.args)]))
                return run.pc
        return None


def _line_at(arch, body, code: bytes, pc: int | None, expands: dict) -> int | None:
    """The line in the text of the instruction at pc (where a run failed), or None."""
    if pc is None or not body.where:
        return None
    at = [i.address for i in decode(arch, code, CODE)]
    if pc not in at:
        return None
    j, seen = at.index(pc), 0
    for where, src in zip(body.where, body.source):
        seen += expands.get(src.split(None, 1)[0], 1)  # a pseudo-instruction that is several
        if j < seen:
            return where
    return None
@dataclass(frozen=True)
class ImageRun:
    """What every run of an image's functions shares."""

    image: Image
    writes: tuple  # (address, bytes) rewritten before each run: writable segments, the TLS block
    extra: dict  # registers by the emulator's id: the thread pointer
    readable: tuple  # ranges a function may read: the image, stand-in data, TLS
    writable: tuple  # ranges it may write: errno
    tp: int  # the thread pointer
    tls: tuple[int, int]  # the input's TLS block


def _lacks(run, ir: ImageRun) -> list[str]:
    """Why a run cannot be judged: it reached code or data the input does not have (a
    function or datum it names, or thread memory past its own TLS block: a runtime's
    thread control block)."""
    img = ir.image
    hint = ("give the object or archive that defines it, or state what it does: a stand-in in "
            "stubgen/verifier/standins.yaml")
    out = []
    if run.external:
        out.append(f"calls {run.external}, which is not in the input ({hint})")
    for addr, size, pc in run.reads + [(w[0], w[1], w[3]) for w in run.writes]:
        if EXTERN <= addr < EXTERN + EXTERN_SIZE:
            name = img.externs.get(addr & ~0xF, f"{addr:#x}")
            why = f"reads or writes {name} (pc {pc:#x}), which is not in the input ({hint})"
            if why not in out:
                out.append(why)
    for addr, size, pc, what in [(r[0], r[1], r[2], "reads") for r in run.reads] + \
            [(w[0], w[1], w[3], "writes") for w in run.writes]:
        allowed = ir.writable + (ir.readable if what == "reads" else ())
        if TLS_AREA <= addr < TLS_AREA + TLS_SIZE and not (ir.tls[0] <= addr < ir.tls[1]) and \
                not any(lo <= addr < hi for lo, hi in allowed):
            off = addr - ir.tp
            why = (f"{what} thread memory at tp{off:+#x} (pc {pc:#x}) that the input does not define: a runtime's "
                   "thread control block, which the verifier does not model (standins.yaml thread)")
            if why not in out:
                out.append(why)
    return out


_SEEN = re.compile(r"(?:= |holds )(0x[0-9a-f]+)")  # a value a check saw, not the one it expected


def _clobbered(problems, machine, abi, run) -> list[str]:
    """Where a wrong value is what the fake kernel left in a register at the trap
    (linux_abi.yaml cpu_clobbers: junk of each register's own, the flags, the return
    address): that register, and why."""
    out = []
    junk = dict(machine.junk)
    for t in run.traps:
        junk.update({t.pc & machine.mask: r for r in machine.next_pc})
    # What the asm itself put in the trap's registers (the number, the arguments)
    held = {}
    if run.traps:
        t = run.traps[0]
        held = {v & machine.mask: r for r, v in zip(abi.args, t.args) if v > 0xFFFF}
        held.setdefault(t.number & machine.mask, abi.number)
    for p in problems:
        for m in _SEEN.finditer(p):
            v = int(m.group(1), 16)
            reg = junk.get(v) or next((r for j, r in junk.items() if j & 0xFFFFFFFF == v and j > 0xFFFF), None)
            if reg is not None:
                why = (f"{v:#x} is what the kernel leaves in {reg} at the trap ({abi.clobbers_source}): the code "
                       f"keeps a value in {reg} across the syscall; inline assembly must list {reg} among its "
                       "clobbers")
            elif v in held and "result" in p:
                reg = held[v]
                why = (f"{v:#x} is what {reg} held at the trap: the code takes a value from {reg} that the syscall "
                       f"sequence set or the kernel replaced; inline assembly must tie {reg} to an output or list it "
                       "among its clobbers")
            else:
                continue
            if why not in out:
                out.append(why)
    return out


def _dereferences(run, setup) -> list[str]:
    """A fault at (or just past) an argument's value: the function reads or writes what
    the argument points to, and the caller hands over values, not memory."""
    if run.unmapped is None:
        return []
    for i, (value, _, _) in enumerate(setup.args):
        # compared in the low 48 bits: the emulator reports an x86-64 address without its top bits
        if (run.unmapped - value) & ((1 << 48) - 1) < 0x1000:
            return [f"reads or writes the memory argument {i + 1} points to (pc {run.pc:#x}): a C function that "
                    "looks at its arguments' data; the verifier passes distinct values, not memory"]
    return []


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
