"""Machine code in: the functions of ELF relocatable objects and `ar` archives (a whole
libc.a), each found in the symbol table (its names and aliases, its size), linked with
what it reaches (link.py: the archive's other members, stand-ins, or names of what the
input lacks) and run from its entry with the whole image around it (image.py). What
the verifier is given as text (a .S file, a header) becomes an object first, by a real
assembler or compiler, and comes here."""
from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import StubgenError
from ...tables import policies
from ..checker import Verifier
from ..contract import check
from ..conventions import conventions
from ..elffile import ElfError, Member, archive_symbols, check_machine, header, members
from ..image import ImageFunction
from ..link import link, plan, scan
from ..spec import Spec
from .choice import Choice
from .judge import Verdict, settle, syscall_of

DIALECT = "elf"  # what a verdict on machine code says its dialect is


@dataclass
class Objects:
    """One file of machine code, as read: its ELF members and notes about it."""

    name: str
    members: list[Member]
    index: dict[str, int] = field(default_factory=dict)  # archive symbol -> member index
    notes: list[str] = field(default_factory=list)
    linked: bool = False  # an executable or shared object: loaded as it is (dynamic.py), not linked


def read_objects(name: str, data: bytes, arch) -> Objects:
    """The members of an ELF file or archive, each for arch (or an error naming it)."""
    ms = members(name, data)
    facts = conventions(arch.name).elf
    kept: list[Member] = []
    notes: list[str] = []
    for m in ms:
        h = header(m)
        check_machine(m, h, arch, facts)
        if h.kind != "ET_REL":
            if len(ms) == 1:
                return Objects(name, ms, linked=True)
            raise ElfError(f"{m.name}: an ELF {h.kind} file inside an archive; an archive's members are "
                           "relocatable objects (give the file on its own)")
        kept.append(m)
    by_offset = {m.offset: i for i, m in enumerate(kept)}
    index = {n: by_offset[o] for n, o in archive_symbols(data).items() if o in by_offset}
    return Objects(name, kept, index, notes)


def _wanted(name: str, arch, tables, choices: dict[str, Choice]) -> bool:
    return name in choices or syscall_of(name, arch, tables) is not None


def check_objects(verifier: Verifier, objs: Objects, arch, choices: dict[str, Choice],
                  policy: str = policies.DEFAULT, label: str | None = None, dialect: str = DIALECT) -> list[Verdict]:
    """A verdict for every function of objs named after a syscall or chosen with --stub
    (the others skipped). label: the file name verdicts carry (an archive's member is
    added in parentheses); dialect: what the verdicts say the input was (gnu for an
    assembled file). Runs the engines: call it in an isolated child."""
    tables = verifier.tables
    label = label or objs.name
    if objs.linked:
        return _check_linked(verifier, objs, arch, choices, policy, label, dialect)
    archive = len(objs.members) > 1
    if archive and objs.index:
        chosen = sorted({i for n, i in objs.index.items() if _wanted(n, arch, tables, choices)})
        scans = None
    else:
        scans = {i: scan(m) for i, m in enumerate(objs.members)}
        chosen = [i for i, s in scans.items() if any(_wanted(n, arch, tables, choices) for n in s.defined)] \
            if archive else list(scans)
    index = objs.index or ({n: i for i, s in (scans or {}).items() for n in s.defined} if archive else None)
    if not chosen:
        return []
    places = _addresses()

    def resolve(name, _tls):
        return places.get(("function", name), places.get(("data", name)))

    cc = arch.engines.cc
    thumb = bool(arch.engines.capstone and arch.engines.capstone.get("thumb_mode"))
    groups = [chosen]
    out: list[Verdict] = []
    while groups:
        group = groups.pop(0)
        p = plan(objs.members, group, resolve, index, scans)
        try:
            img = link(label, objs.members, p, cc, thumb)
        except ElfError as e:
            if len(group) > 1:  # one member's clash spoils a batch: halve it until it stands alone
                half = len(group) // 2
                groups[:0] = [group[:half], group[half:]]
                continue
            m = objs.members[group[0]]
            out.append(Verdict(_where(label, m, archive), "(object)", None, arch.name, dialect, None, "unverified",
                               [f"cannot link: {e}"]))
            continue
        members = {objs.members[i].name: objs.members[i] for i in group}
        # Functions pulled in from the archive to resolve a symbol are not under test.
        out += _check_functions(verifier, img, arch, choices, policy, dialect,
                                {fn: _where(label, members[fn.member], archive) for fn in img.functions
                                 if fn.member in members})
    return out


def _check_linked(verifier: Verifier, objs: Objects, arch, choices: dict[str, Choice], policy: str, label: str,
                  dialect: str) -> list[Verdict]:
    """check_objects for an executable or a shared object, loaded as it is."""
    from ..dynamic import load_linked
    from ..standins import catalog

    places = _addresses()
    thumb = bool(arch.engines.capstone and arch.engines.capstone.get("thumb_mode"))
    # What a started program's own data holds where the catalog states it (an integer).
    initial = {s.name: (s.holds, s.size or arch.word_bytes) for s in catalog(arch.name).of_kind("data")
               if isinstance(s.holds, int)}
    img = load_linked(objs.members[0], arch, conventions(arch.name).elf,
                      lambda name: places.get(("function", name), places.get(("data", name))), thumb, initial)
    wanted = {fn: label for fn in img.functions if any(_wanted(n, arch, verifier.tables, choices) for n in fn.names)}
    return _check_functions(verifier, img, arch, choices, policy, dialect, wanted)


def _check_functions(verifier: Verifier, img, arch, choices: dict[str, Choice], policy: str, dialect: str,
                     where: dict[ImageFunction, str]) -> list[Verdict]:
    """A verdict for each function of img in where (function -> the place it is reported at)."""
    jobs, verdicts = [], []
    for fn, at in where.items():
        v, spec = _judge(fn, arch, verifier.tables, choices, policy, at, dialect)
        verdicts.append(v)
        if spec is not None:
            jobs.append((fn, spec, v))
    reports = verifier.check_image(img, [(fn, spec) for fn, spec, _ in jobs])
    for (_, _, v), rep in zip(jobs, reports):
        settle(v, rep)
    return verdicts


def _addresses() -> dict:
    """(kind, name) -> where each of the shipped catalog's stand-ins is placed."""
    from ..emulator import STANDIN_CODE, STANDIN_DATA, STANDIN_SLOT
    from ..standins import catalog

    cat = catalog()
    out = {("function", s.name): STANDIN_CODE + STANDIN_SLOT * i
           for i, s in enumerate(sorted(cat.of_kind("function"), key=lambda s: s.name))}
    out.update({("data", s.name): STANDIN_DATA + STANDIN_SLOT * i
                for i, s in enumerate(sorted(cat.of_kind("data"), key=lambda s: s.name))})
    return out


def _where(label: str, m: Member, archive: bool) -> str:
    return f"{label}({m.name})" if archive else label


def _judge(fn: ImageFunction, arch, tables, choices: dict[str, Choice], policy: str, where: str, dialect: str):
    """(Verdict, Spec or None): what fn is checked as, or why not."""
    choice = next((choices[n] for n in fn.names if n in choices), None)
    syscall = choice.syscall if choice else next((s for n in fn.names if (s := syscall_of(n, arch, tables))), None)
    name = choice.symbol if choice else fn.name
    v = Verdict(where, name, syscall, arch.name, dialect, None, "skipped")
    if fn.aliases:
        v.aliases = [n for n in fn.names if n != name]
    if syscall is None:
        v.reasons.append(f"not a syscall in the tables (--stub {fn.name}=SYSCALL checks it)")
        return v, None
    v.policy = (choice.policy if choice else None) or policy
    if choice is not None and choice.problem:
        raise StubgenError(choice.problem)
    sig = tables.signature(arch, syscall)
    if (choice is None or not choice.policy) and sig is not None and sig.special == "noreturn":
        v.policy = "noreturn"  # exit, exit_group: nothing after the trap is checked
    if sig is None:
        v.verdict = "unverified"
        v.reasons.append(f"the tables have no signature for {syscall}")
        return v, None
    number = None if sig.generic else arch.numbers.get(syscall)
    return v, Spec(arch.name, DIALECT, name, syscall, number, v.policy, rendered=False, foreign=True,
                   own_policy=choice.own if choice else False, contract=choice.contract if choice else None)


def choices_by_symbol(texts, arch, tables) -> dict[str, Choice]:
    from .choice import parse_choice

    out = {}
    for text in texts:
        c = parse_choice(text)
        if c.problem:
            out[c.symbol] = c  # a Go function's arguments: an error only where machine code has the symbol
            continue
        if c.contract is not None:
            try:
                bound = check(c.contract, arch, tables)
            except StubgenError as e:
                if c.args is None:
                    raise
                # Read as a Go function's arguments it may still be right (syscall6($0, ...)
                # takes the number as $0): an error only where machine code has the symbol.
                out[c.symbol] = Choice(c.symbol, c.syscall, c.policy, c.args, None, str(e))
                continue
            c = Choice(c.symbol, c.syscall, bound.policy, contract=bound)
        elif not tables.available(arch, c.syscall):
            raise StubgenError(f"--stub {text!r}: {c.syscall!r} has no number and signature on {arch.name} "
                               "in the tables (stubgen list shows them)")
        out[c.symbol] = c
    return out
