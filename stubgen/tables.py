"""Load arch/*.yaml, arch/numbers/*.yaml and arch/common/*.yaml into the model,
validated against the schemas; every problem of a run is reported together."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import yaml

from . import model, schema
from .errors import StubgenError


class _Problems:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, where, message):
        self.lines.append(f"{where}: {message}")

    def raise_if_any(self):
        if self.lines:
            raise StubgenError("; ".join(self.lines) if len(self.lines) == 1 else
                               f"{len(self.lines)} problems in tables:\n  " + "\n  ".join(self.lines))


def _read_yaml(path: Path, problems: _Problems):
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        problems.add(f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path, e.problem)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        problems.add(path, str(e))
    return None


def _validate(doc, sch, path: Path, problems: _Problems) -> bool:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(sch).iter_errors(doc), key=lambda e: list(e.path))
    for e in errors:
        key = ".".join(str(p) for p in e.absolute_path) or "(top)"
        problems.add(f"{path}: {key}", e.message)
    return not errors


def _check_registers(d: dict, path: Path, problems: _Problems):
    known = set(d["registers"])
    refs = {"stack_pointer": [d["stack_pointer"]],
            "kernel": [d["kernel"]["number"], d["kernel"]["result"], *d["kernel"]["args"],
                       *d["kernel"].get("clobbers", [])],
            "c_abi": [d["c_abi"]["result"], *d["c_abi"]["args"], *d["c_abi"]["callee_saved"]]}
    for ra in (d["c_abi"]["return_address"], d["go_abi0"]["return_address"]):
        if ra != "stack":
            refs["c_abi"].append(ra)
    for key, regs in refs.items():
        for r in regs:
            if r not in known:
                problems.add(f"{path}: {key}", f"register {r!r} is not one of {d['name']}'s registers "
                             f"({', '.join(sorted(known))})")


def _arch(d: dict, numbers: dict) -> model.Arch:
    k, c, g = d["kernel"], d["c_abi"], d["go_abi0"]
    return model.Arch(
        name=d["name"], aliases=tuple(d.get("aliases", ())), goarch=d["goarch"],
        gnu_triple=d["gnu_triple"], qemu_user=d.get("qemu_user", ""), word_bytes=d["word_bytes"], endian=d["endian"],
        engines=model.Engines(**d["engines"]), registers=dict(d["registers"]),
        stack_pointer=d["stack_pointer"],
        kernel=model.KernelABI(number=k["number"], args=tuple(k["args"]), result=k["result"],
                               clobbers=tuple(k.get("clobbers", ())), error_range=tuple(k["error_range"]),
                               pair_align=k.get("pair_align", 1)),
        c_abi=model.CallingConvention(
            args=tuple(c["args"]), stack_args=c["stack_args"], stack_slot=c["stack_slot"],
            return_address=c["return_address"], callee_saved=tuple(c["callee_saved"]), result=c["result"],
            stack_align=c["stack_align"], pair_align=c.get("pair_align", 1),
            pair_stack_align=c.get("pair_stack_align", c["stack_slot"])),
        go_abi0=model.GoABI0(fp=g["fp"], return_address=g["return_address"],
                             max_align=g.get("max_align", d["word_bytes"])),
        numbers=dict(numbers.get("numbers", {})), provenance=dict(numbers.get("provenance", {})),
        kernel_table=dict(d.get("kernel_table", {})), c_macro=d.get("c_macro", ""),
    )


def _signatures(raw: dict, types: dict, where, problems: _Problems) -> dict:
    out = {}
    for name, s in raw.items():
        bad = [t for t in [a["type"] for a in s["args"]] + [s["result"]] if t not in types]
        for t in bad:
            problems.add(f"{where}: {name}", f"unknown type {t!r}; valid: {', '.join(sorted(types))}")
        names = [a["name"] for a in s["args"]]
        if len(set(names)) != len(names):
            problems.add(f"{where}: {name}.args", "argument names repeat")
        roles = [i for i, a in enumerate(s["args"]) if a.get("role") == "number"]
        if roles not in ([], [0]):
            problems.add(f"{where}: {name}.args", "only the first argument may carry the number (role: number)")
        if bad:
            continue
        out[name] = model.Signature(
            name=name, result=types[s["result"]],
            args=tuple(model.Param(a["name"], types[a["type"]], a.get("go", a["name"]), a.get("role"))
                       for a in s["args"]))
    return out


@lru_cache(maxsize=8)
def load(root: str | None = None) -> model.Tables:
    """Load the tables under root (default: the shipped ones)."""
    from .resources import tables_dir

    base = Path(root) if root else tables_dir()
    if not base.is_dir():
        raise StubgenError(f"{base}: tables directory not found")
    problems = _Problems()
    types = {}
    tpath = base / "common" / "types.yaml"
    traw = _read_yaml(tpath, problems)
    if traw is not None and _validate(traw, schema.TYPES, tpath, problems):
        types = {n: model.Type(name=n, **t) for n, t in traw.items()}

    arches, aliases, arch_signatures = {}, {}, {}
    for path in sorted(base.glob("*.yaml")):
        d = _read_yaml(path, problems)
        if d is None or not _validate(d, schema.ARCH, path, problems):
            continue
        if path.stem != d["name"]:
            problems.add(f"{path}: name", f"{d['name']!r} does not match the file name {path.stem!r}")
            continue
        _check_registers(d, path, problems)
        npath = base / "numbers" / f"{d['name']}.yaml"
        numbers = _read_yaml(npath, problems) if npath.exists() else {"numbers": {}}
        if numbers is None or not _validate(numbers, schema.NUMBERS, npath, problems):
            continue
        by_number = {}
        for sc, n in numbers["numbers"].items():
            if n in by_number:
                problems.add(f"{npath}: numbers.{sc}", f"number {n} is also {by_number[n]}")
            by_number[n] = sc
        for name in (d["name"], *d.get("aliases", ())):
            if name in aliases:
                problems.add(f"{path}: aliases", f"{name!r} already names {aliases[name]}")
            aliases[name] = d["name"]
        arches[d["name"]] = _arch(d, numbers)
        if d.get("signatures"):
            arch_signatures[d["name"]] = d["signatures"]

    spath = base / "common" / "signatures.yaml"
    sraw = _read_yaml(spath, problems)
    signatures = {}
    if sraw is not None and _validate(sraw, schema.SIGNATURES, spath, problems):
        signatures = _signatures(sraw, types, spath, problems)
    for name, raw in arch_signatures.items():
        arches[name] = dataclasses.replace(arches[name], signatures=_signatures(
            raw, types, base / f"{name}.yaml: signatures", problems))
    if not arches and not problems.lines:
        problems.add(base, "no architecture tables (*.yaml)")
    problems.raise_if_any()
    return model.Tables(arches=arches, aliases=aliases, types=types, signatures=signatures, root=str(base))
