"""Signatures for `stubgen tables import`: each .tbl row's entry point found among the
kernel's definitions (kernelc), its C types mapped to the tables' types, and the
hand-written overrides (arch/common/overrides.yaml) applied. The result is
signatures.yaml (one signature per kernel function, with the file and line it came
from) and, per architecture, which function takes each numbered call."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StubgenError
from . import kernelc, syscalltbl

ENOSYS = "sys_ni_syscall"


@dataclass
class ArchSignatures:
    """One architecture's side: syscall -> signature key, why a number has none, and
    the reserved numbers (a .tbl row with no entry point: the kernel answers ENOSYS)."""

    entry_points: dict = field(default_factory=dict)  # only where the key is not the syscall's name
    untyped: dict = field(default_factory=dict)
    reserved: list = field(default_factory=list)


@dataclass
class Result:
    signatures: dict  # key -> the record written to signatures.yaml
    arches: dict  # arch name -> ArchSignatures


def _key_base(function: str) -> str:
    return function[4:] if function.startswith("sys_") else function


def _type_of(c_type: str, overrides: dict, where: str, unknown: dict) -> str:
    if "*" in c_type or "[" in c_type:
        return "pointer"
    t = overrides["kernel_types"].get(c_type)
    if t is None:
        unknown.setdefault(c_type, where)
        return "?"
    return t


def _arg_name(name: str | None, i: int, reserved: set) -> str:
    if not name or not re.match(r"^[A-Za-z_]\w*$", name):
        return f"a{i + 1}"
    return name + "_" if name in reserved else name


def _record(key: str, params, result: str, source: str, overrides: dict, unknown: dict) -> dict:
    reserved = set(overrides.get("reserved_names", ()))
    drop = set(overrides.get("not_arguments", ()))
    fds = overrides.get("fd_arguments") or {}
    fd_names, fd_types = set(fds.get("names", ())), fds.get("types", {})
    args: list[dict] = []
    for p in params:
        if p.c_type in drop:
            continue
        type_ = fd_types.get(p.c_type) if p.name in fd_names else None
        args.append({"name": _arg_name(p.name, len(args), reserved),
                     "type": type_ or _type_of(p.c_type, overrides, source, unknown), "c": p.c_type})
    return {"args": args, "result": _type_of(result, overrides, source, unknown), "from": source}


def _discriminator(d: kernelc.Definition, config: set) -> str:
    named = [c for c in config if d.conditions and re.search(rf"\b{c}\b", d.conditions[-1])]
    if named:
        return named[0].removeprefix("CONFIG_").lower()
    if d.path.startswith("arch/"):
        return d.path.split("/")[1]
    return "generic"


def _wrappers(overrides: dict) -> dict[str, str]:
    """overrides.yaml's wrappers (macro -> "__{function}"), checked: a macro name and a
    name template that uses {function} and nothing else."""
    wrappers = overrides.get("wrappers") or {}
    if not isinstance(wrappers, dict):
        raise StubgenError("overrides.yaml: wrappers must map a macro to the name it makes, e.g. "
                           "save_static_function: \"__{function}\"")
    for macro, made in wrappers.items():
        try:
            ok = isinstance(macro, str) and macro.isidentifier() and isinstance(made, str) \
                and "{function}" in made and made.format(function="f").isidentifier()
        except (KeyError, IndexError, ValueError):
            ok = False
        if not ok:
            raise StubgenError(f"overrides.yaml: wrappers.{macro}: {made!r} is not a name made from "
                               "{function} (a C identifier, e.g. \"__{function}\")")
    return wrappers


def _built(candidates: list, word_bytes: int) -> list:
    """The candidates a kernel of this word size compiles: of two sibling files named
    <x>_32.c and <x>_64.c (powerpc's pci_32.c and pci_64.c, signal_32.c and signal_64.c),
    only the one of its width defines its syscalls."""
    own, other = f"_{8 * word_bytes}.c", f"_{64 if word_bytes == 4 else 32}.c"
    paths = {d.path for d in candidates}
    return [d for d in candidates if not (d.path.endswith(other) and d.path[:-len(other)] + own in paths)]


class _BuiltDefs(Mapping):
    """defs as a kernel of one word size sees them (_built), for kernelc.resolve_entry."""

    def __init__(self, defs: dict, word_bytes: int):
        self.defs, self.word_bytes = defs, word_bytes

    def __getitem__(self, function: str) -> list:
        return _built(self.defs[function], self.word_bytes)

    def __iter__(self):
        return iter(self.defs)

    def __len__(self) -> int:
        return len(self.defs)


def build(src: Path, arches: list, overrides: dict) -> Result:
    """arches: (Arch, tbl path, abis, arch_dir) per architecture to import."""
    defs = kernelc.scan(src, _wrappers(overrides))
    special = overrides.get("special", {})
    by_call = {n: "noreturn" for n in special.get("noreturn", ())}
    by_call.update({n: "returns_twice" for n in special.get("returns_twice", ())})
    untyped_calls = dict(special.get("untyped", {}))
    by_call.update({n: "returns_twice" for n in untyped_calls})
    untyped_entries = dict(special.get("untyped_entry_points", {}))
    addresses = set(overrides.get("address_results", ()))

    chosen: dict = {}  # (arch name, syscall) -> Definition or a private record
    results = {}
    for arch, tbl, abis, arch_dir in arches:
        name = arch.name
        config = set(overrides.get("config", {}).get(name, ()))
        aliases = overrides.get("entry_aliases", {}).get(name, {})
        side = ArchSignatures()
        results[name] = side
        built = _BuiltDefs(defs, arch.word_bytes)
        for e in syscalltbl.parse(tbl, abis):
            if not e.entry or e.entry in (ENOSYS, "-"):
                side.reserved.append(e.name)
                continue
            if e.entry in untyped_entries:
                side.untyped[e.name] = untyped_entries[e.entry]
                continue
            function = aliases.get(e.entry, e.entry)
            try:
                d = kernelc.resolve_entry(function, built, arch_dir, config)
            except LookupError as err:
                side.untyped[e.name] = f"entry point {e.entry}: {err}" if not str(err).startswith(e.entry + ":") \
                    else f"entry point {err}"
                continue
            chosen[(name, e.name)] = (d, config, e.noreturn)
        private = overrides.get("private", {}).get(name, {})
        for call in arch.kernel_table.get("extra", {}).get("calls", {}):
            spec = private.get(call)
            if spec is None:
                side.untyped[call] = "numbered outside the .tbl, and no private entry in overrides.yaml"
                continue
            params = tuple(kernelc.Param(c, n) for c, n in spec["args"])
            chosen[(name, call)] = (kernelc.Definition(call, params, "long", spec["from"], 0, (), False),
                                    set(), False)

    # One key per distinct definition: the plain name unless two architectures read
    # different definitions of one function.
    variants: dict = {}
    for (_, _), (d, config, _) in chosen.items():
        variants.setdefault(d.function, {})[(d.function, d.path, d.line)] = (d, config)
    keys = {}
    for function, found in variants.items():
        base = _key_base(function)
        if len(found) == 1:
            keys.update({loc: base for loc in found})
            continue
        mine = {}
        for loc, (d, config) in found.items():
            disc = _discriminator(d, config)
            mine[loc] = base if disc == "generic" else f"{base}__{disc}"
        # Two definitions in one architecture's directory, one per word size (powerpc's
        # signal_32.c and signal_64.c): the width tells them apart.
        for loc, key in mine.items():
            width = re.search(r"_(32|64)\.c$", loc[1])
            if width and list(mine.values()).count(key) > 1:
                key += width.group(1)
            keys[loc] = key

    unknown: dict = {}
    signatures: dict = {}
    for (aname, call), (d, _, noreturn) in sorted(chosen.items()):
        key = keys[(d.function, d.path, d.line)]
        source = d.where if d.line else d.path
        rec = signatures.get(key)
        if rec is None:
            rec = signatures[key] = _record(key, d.params, d.result, source, overrides, unknown)
        mark = "noreturn" if noreturn else by_call.get(call)
        if mark:
            rec["special"] = mark
        if call in untyped_calls:
            rec["untyped"] = untyped_calls[call]
        if call in addresses:
            rec["result"] = "pointer"
        if key != call:
            results[aname].entry_points[call] = key
    if unknown:
        raise StubgenError("C types with no entry in kernel_types of overrides.yaml: "
                           + "; ".join(f"{t!r} ({w})" for t, w in sorted(unknown.items())))
    for key, go in overrides.get("go", {}).items():
        rec = signatures.get(key)
        if rec is None:
            continue
        if len(go["args"]) != len(rec["args"]):
            raise StubgenError(f"overrides.yaml: go.{key} names {len(go['args'])} arguments, the kernel's "
                               f"{rec['from']} has {len(rec['args'])}")
        for a, (c_name, go_name, type_) in zip(rec["args"], go["args"]):
            a["name"], a["go"], a["type"] = c_name, go_name, type_
        rec["result"] = go["result"]
        rec["from"] += "; Go names and types: overrides.yaml go"
    for key, n in overrides.get("generic", {}).items():
        signatures[key] = {
            "args": [{"name": "trap", "type": "sysarg", "role": "number"}]
            + [{"name": f"a{i}", "type": "sysarg"} for i in range(1, n + 1)],
            "result": "sysarg", "from": "overrides.yaml generic"}
    return Result(dict(sorted(signatures.items())), results)


def arch_dir(kernel_table: dict) -> str:
    """The architecture's directory in the kernel tree (arch/x86): stated as
    kernel_table.arch_dir, or the arch/<name> that its table or Makefile lives under."""
    if kernel_table.get("arch_dir"):
        return kernel_table["arch_dir"]
    for path in (kernel_table["path"], kernel_table.get("abis_from", {}).get("path", "")):
        parts = path.split("/")
        if len(parts) > 2 and parts[0] == "arch":
            return "/".join(parts[:2])
    raise StubgenError(f"kernel_table {kernel_table['path']}: cannot tell the architecture's directory; "
                       "set kernel_table.arch_dir (e.g. arch/arm64)")
