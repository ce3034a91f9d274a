"""Load arch/*.yaml, arch/numbers/*.yaml and arch/common/*.yaml into the model,
validated against the schemas; every problem of a run is reported together."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import cast

from .. import resources
from ..errors import StubgenError
from . import cache, engine_names, model, schema, yamlio


class _Problems:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, where, message):
        self.lines.append(f"{where}: {message}")

    def at(self, doc: yamlio.Document, keypath, message):
        """A problem at a key of a file: file:line: key.path: message."""
        self.lines.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath) or '(top)'}: {message}")

    def raise_if_any(self):
        if self.lines:
            raise StubgenError(self.lines[0] if len(self.lines) == 1 else
                               f"{len(self.lines)} problems in tables:\n  " + "\n  ".join(self.lines))


def _read_yaml(path: Path, problems: _Problems, roots=None) -> yamlio.Document:
    doc = yamlio.read(path, roots)
    problems.lines += doc.problems
    return doc


def _validate(doc: yamlio.Document, sch, problems: _Problems, bad_keys: set | None = None) -> bool:
    """Whether doc is usable; a file that parsed is checked even when it had key problems,
    so that one run reports them all."""
    if doc.data is None:
        return False
    found = yamlio.schema_problems(doc, sch, bad_keys)  # a document known to pass is not checked again
    problems.lines += found
    return not found and not doc.problems


def _check_registers(doc: yamlio.Document, problems: _Problems):
    d = cast(dict, doc.data)  # validated against schema.ARCH before this is called
    known = set(d["registers"])
    k, c = d["kernel"], d["c_abi"]
    refs: list[tuple[tuple, str]] = [(("stack_pointer",), d["stack_pointer"]), (("kernel", "number"), k["number"]),
            (("kernel", "result"), k["result"]), (("c_abi", "result"), c["result"])]
    refs += [(("kernel", "args", i), r) for i, r in enumerate(k["args"])]
    if "error_flag" in k:
        refs.append((("kernel", "error_flag"), k["error_flag"]))
    refs += [(("kernel", "clobbers", i), r) for i, r in enumerate(k.get("clobbers", ()))]
    if len(k["args"]) < MAX_KERNEL_ARGS and "stack_args" not in k:
        problems.at(doc, ("kernel", "args"), f"{len(k['args'])} registers for up to {MAX_KERNEL_ARGS} arguments: "
                    "say where the rest go (stack_args)")
    for key in ("args", "callee_saved"):
        refs += [(("c_abi", key, i), r) for i, r in enumerate(c[key])]
    refs += [(("c_abi", "scratch", i), r) for i, r in enumerate(c.get("scratch", ()))]
    g = d.get("go_abi0", {})
    refs += [(("go_abi0", "scratch", i), r) for i, r in enumerate(g.get("scratch", ()))]
    ras = [(("c_abi", "return_address"), c["return_address"])]
    if g:
        ras.append((("go_abi0", "return_address"), g["return_address"]))
    for keypath, ra in ras:
        if ra != "stack":
            refs.append((keypath, ra))
    for keypath, r in refs:
        if r not in known:
            problems.at(doc, keypath, f"register {r!r} is not one of {d['name']}'s registers "
                        f"({', '.join(sorted(known))})")


def _check_numbers(ndoc: yamlio.Document, problems: _Problems) -> bool:
    data = ndoc.data if isinstance(ndoc.data, dict) else {}
    table = data.get("numbers")
    if not isinstance(table, dict):
        return False
    ok = True
    by_number: dict[int, str] = {}
    for sc, n in table.items():
        if isinstance(n, float) and n.is_integer():
            problems.at(ndoc, ("numbers", sc), f"{n!r} is not a whole number")
            ok = False
        elif isinstance(n, int) and not isinstance(n, bool):
            if n in by_number:
                problems.at(ndoc, ("numbers", sc), f"number {n} is also {by_number[n]}")
                ok = False
            by_number.setdefault(n, sc)
    reserved = data.get("reserved")
    for i, sc in enumerate(reserved if isinstance(reserved, list) else ()):
        if isinstance(sc, str) and sc not in table:
            problems.at(ndoc, ("reserved", i), f"{sc!r} is reserved but has no number in numbers")
            ok = False
    return ok


def _arch(d: dict, numbers: dict) -> model.Arch:
    k, c, g = d["kernel"], d["c_abi"], d.get("go_abi0")
    return model.Arch(
        name=d["name"], aliases=tuple(d.get("aliases", ())), goarch=d.get("goarch", ""),
        go_absent=d.get("go_absent", ""),
        gnu_triple=d["gnu_triple"], qemu_user=d.get("qemu_user", ""), qemu_absent=d.get("qemu_absent", ""),
        gnu_flags=tuple(d.get("gnu_flags", ())), gnu_tools=dict(d.get("gnu_tools", {})), word_bytes=d["word_bytes"], endian=d["endian"],
        engines=model.Engines(**d["engines"]), registers=dict(d["registers"]),
        stack_pointer=d["stack_pointer"],
        kernel=model.KernelABI(number=k["number"], args=tuple(k["args"]), result=k["result"],
                               error_range=tuple(k["error_range"]),
                               pair_align=k.get("pair_align", 1), stack_args=k.get("stack_args"),
                               stack_slot=k.get("stack_slot", d["word_bytes"]),
                               pair_stack_align=k.get("pair_stack_align", k.get("stack_slot", d["word_bytes"])),
                               error_flag=k.get("error_flag", ""), clobbers=tuple(k.get("clobbers", ())),
                               clobbers_other=tuple(k.get("clobbers_other", ()))),
        c_abi=model.CallingConvention(
            args=tuple(c["args"]), stack_args=c["stack_args"], stack_slot=c["stack_slot"],
            return_address=c["return_address"], callee_saved=tuple(c["callee_saved"]), result=c["result"],
            stack_align=c["stack_align"], pair_align=c.get("pair_align", 1),
            pair_stack_align=c.get("pair_stack_align", c["stack_slot"]), scratch=tuple(c.get("scratch", ())),
            long_bytes=c.get("long_bytes", 0), long_args=c.get("long_args", "")),
        go_abi0=None if g is None else model.GoABI0(
            fp=g["fp"], return_address=g["return_address"], max_align=g.get("max_align", d["word_bytes"]),
            scratch=tuple(g.get("scratch", ()))),
        numbers=dict(numbers.get("numbers", {})), provenance=dict(numbers.get("provenance", {})),
        entry_points=dict(numbers.get("entry_points", {})), untyped=dict(numbers.get("untyped", {})),
        reserved=tuple(numbers.get("reserved", ())),
        kernel_table=dict(d.get("kernel_table", {})), c_macro=_macros(d.get("c_macro", ())),
        system_calls=d.get("system_calls", ""), c_toolchain=dict(d.get("c_toolchain", {})),
    )


# The kernel passes at most six arguments; a generic stub's number comes on top.
MAX_KERNEL_ARGS = 6


def _signatures(doc: yamlio.Document, prefix: tuple, raw: dict, types: dict, problems: _Problems) -> dict:
    out = {}
    for name, s in raw.items():
        at = prefix + (name,)
        bad: list[tuple[tuple, object]] = [(("result",), s["result"])] if s["result"] not in types else []
        bad += [(("args", i, "type"), a["type"]) for i, a in enumerate(s["args"]) if a["type"] not in types]
        for keypath, t in bad:
            problems.at(doc, at + keypath, f"unknown type {t!r}; valid: {', '.join(sorted(types))}")
        names = [a["name"] for a in s["args"]]
        for i, n in enumerate(names):
            if n in names[:i]:
                problems.at(doc, at + ("args", i, "name"), f"argument name {n!r} repeats")
        roles = [i for i, a in enumerate(s["args"]) if a.get("role") == "number"]
        if roles not in ([], [0]):
            problems.at(doc, at + ("args",), "only the first argument may carry the number (role: number)")
        kernel_args = len(s["args"]) - len(roles)
        if kernel_args > MAX_KERNEL_ARGS:
            problems.at(doc, at + ("args",), f"{kernel_args} arguments; a Linux syscall takes at most "
                        f"{MAX_KERNEL_ARGS}")
        if bad:
            continue
        out[name] = model.Signature(
            name=name, result=types[s["result"]],
            args=tuple(model.Param(a["name"], types[a["type"]], a.get("go", a["name"]), a.get("role"),
                                   a.get("c", types[a["type"]].c))
                       for a in s["args"]),
            source=s.get("from", ""), special=s.get("special"), untyped=s.get("untyped"))
    return out


def _overlay(base: Path, shipped: Path | None, rel: str) -> Path:
    """base/rel when the user's directory has it, else the shipped one."""
    own = base / rel
    return own if own.exists() or shipped is None else shipped / rel


@lru_cache(maxsize=8)
def load(root: str | None = None) -> model.Tables:
    """Load the tables under root (default: the shipped ones). A user's directory
    overlays the shipped tables file by file: a file it has (arch/<name>.yaml,
    numbers/<name>.yaml, common/types.yaml, common/signatures.yaml) replaces the shipped
    file of the same path, every other file comes from the shipped tables; so a
    directory may hold one new architecture, or just one architecture's numbers."""
    shipped = resources.tables_dir()
    base = Path(root) if root else shipped
    if not base.is_dir():
        raise StubgenError(f"{base}: tables directory not found")
    under = None if base.resolve() == shipped.resolve() else shipped
    roots = [base] + ([under] if under else [])  # every file read must lie inside one of them
    cache_key = _cache_key([base] + ([under] if under else []))
    cached = cache.load("tables", cache_key)
    if isinstance(cached, model.Tables):
        return cached
    problems = _Problems()
    types: dict[str, model.Type] = {}
    tdoc = _read_yaml(_overlay(base, under, "common/types.yaml"), problems, roots)
    bad: set = set()
    if _validate(tdoc, schema.TYPES, problems, bad) or (tdoc.data is not None and None not in bad):
        types = {n: model.Type(name=n, **t) for n, t in cast(dict, tdoc.data).items() if n not in bad}

    arch_files = {p.name: p for p in sorted((under or base).glob("*.yaml"))}
    arch_files.update({p.name: p for p in sorted(base.glob("*.yaml"))})
    arches: dict[str, model.Arch] = {}
    aliases: dict[str, str] = {}
    arch_signatures: dict[str, yamlio.Document] = {}
    for fname in sorted(arch_files):
        path = arch_files[fname]
        doc = _read_yaml(path, problems, roots)
        # A user's <arch>.yaml without its numbers keeps the shipped numbers, whichever
        # directory the architecture's own file comes from.
        npath = _overlay(base, under, f"numbers/{path.stem}.yaml")
        # The numbers are checked even when the architecture's file is not, so that one
        # run reports both files' problems.
        listed = npath.exists() or npath.is_symlink()
        ndoc = _read_yaml(npath, problems, roots) if listed else yamlio.Document(npath, {"numbers": {}})
        numbers_ok = _validate(ndoc, schema.NUMBERS, problems)
        numbers_ok = _check_numbers(ndoc, problems) and numbers_ok
        if not _validate(doc, schema.ARCH, problems):
            continue
        d = cast(dict, doc.data)  # validated against schema.ARCH
        if path.stem != d["name"]:
            problems.at(doc, ("name",), f"{d['name']!r} does not match the file name {path.stem!r}")
            continue
        _check_registers(doc, problems)
        for keypath, message in engine_names.problems(d):
            problems.at(doc, keypath, message)
        if not numbers_ok:
            continue
        numbers = cast(dict, ndoc.data)  # validated against schema.NUMBERS
        for i, name in enumerate((d["name"], *d.get("aliases", ()))):
            if name in aliases:
                problems.at(doc, ("aliases", i - 1) if i else ("name",), f"{name!r} already names {aliases[name]}")
            aliases.setdefault(name, d["name"])
        arches[d["name"]] = _arch(d, numbers)
        if d.get("signatures"):
            arch_signatures[d["name"]] = doc

    sdoc = _read_yaml(_overlay(base, under, "common/signatures.yaml"), problems, roots)
    signatures = {}
    bad = set()
    if _validate(sdoc, schema.SIGNATURES, problems, bad) or (sdoc.data is not None and None not in bad):
        signatures = _signatures(sdoc, (), {k: v for k, v in cast(dict, sdoc.data).items() if k not in bad}, types, problems)
    for name, doc in arch_signatures.items():
        arches[name] = dataclasses.replace(arches[name], signatures=_signatures(
            doc, ("signatures",), cast(dict, doc.data)["signatures"], types, problems))
    if not arches and not problems.lines:
        problems.add(base, "no architecture tables (*.yaml)")
    problems.raise_if_any()
    loaded = model.Tables(arches=arches, aliases=aliases, types=types, signatures=signatures, root=str(base))
    cache.store("tables", cache_key, loaded)
    return loaded


# The modules that read and validate the tables: their source is part of the cache key.
_CODE = tuple(Path(__file__).with_name(f"{m}.py") for m in ("loader", "model", "schema", "yamlio", "engine_names"))


def _cache_key(roots) -> str:
    """The key of the tables loaded from roots (the user's directory, then the shipped
    one): every YAML file that may be read, by path and content, and the code that reads
    and validates them."""
    files = []
    for root in roots:
        root = Path(root).resolve()
        for pattern in ("*.yaml", "numbers/*.yaml", "common/*.yaml"):
            files += sorted(root.glob(pattern))
    return cache.key([cache.code_hash(*_CODE), *map(str, roots)], files)


def _macros(value) -> tuple[str, ...]:
    """c_macro as written: one macro, or several that must all be defined (o32 MIPS
    little-endian is __MIPSEL__ and _ABIO32: mips64el defines __MIPSEL__ too)."""
    return (value,) if isinstance(value, str) else tuple(value)
