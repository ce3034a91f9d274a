"""Go's declarations of the functions a package writes in assembly: each parameter's
and result's name, type, offset and size in the ABI0 argument frame, as go vet's
asmdecl lays them out. They are data handed to the verifier (read by a real Go parser,
realtools/godecls.py), checked here for shape: nothing in them runs."""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("signed", "unsigned", "pointer", "bool", "float", "other", "unknown")
MAX_VALUES = 64  # parameters and results of one function: a syscall wrapper has a dozen


@dataclass(frozen=True)
class GoValue:
    """One parameter or result."""

    name: str
    type: str  # as written in the declaration
    kind: str  # one of KINDS: how a register holds it
    offset: int  # in the ABI0 argument frame (arg+offset(FP))
    size: int


@dataclass(frozen=True)
class GoDecl:
    name: str
    where: str  # file:line of the declaration
    params: tuple[GoValue, ...]
    results: tuple[GoValue, ...]
    argsize: int  # the ABI0 argument frame, results included: TEXT's $frame-argsize


class DeclError(ValueError):
    """Declarations that do not have the shape the Go program prints."""


def _value(d) -> GoValue:
    if not isinstance(d, dict):
        raise DeclError("a parameter is not an object")
    name, typ, kind, off, size = (d.get(k) for k in ("name", "type", "kind", "offset", "size"))
    if not (isinstance(name, str) and isinstance(typ, str) and kind in KINDS and isinstance(off, int)
            and isinstance(size, int) and 0 <= off < 1 << 20 and 0 <= size < 1 << 20):
        raise DeclError(f"parameter {d!r} is not name, type, kind, offset, size")
    return GoValue(name, typ, kind, off, size)


def decls_from_json(doc) -> dict[str, GoDecl]:
    """{function name: GoDecl} from the Go program's output (a decoded JSON object)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("funcs"), list):
        raise DeclError("expected an object with a funcs list")
    out: dict[str, GoDecl] = {}
    for f in doc["funcs"]:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            raise DeclError("a function without a name")
        params, results = f.get("params"), f.get("results")
        if not isinstance(params, list) or not isinstance(results, list) or len(params) + len(results) > MAX_VALUES:
            raise DeclError(f"{f['name']}: params and results must be lists of at most {MAX_VALUES}")
        argsize = f.get("argsize")
        if not isinstance(argsize, int) or not 0 <= argsize < 1 << 20:
            raise DeclError(f"{f['name']}: argsize {argsize!r}")
        out[f["name"]] = GoDecl(f["name"], str(f.get("where", "")), tuple(map(_value, params)),
                                tuple(map(_value, results)), argsize)
    return out
