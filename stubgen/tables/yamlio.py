"""YAML read the way users' tables and templates need it: safe_load semantics, plus
the line of every key (so that a schema error can point into the file), duplicate
keys refused (PyYAML keeps the last one silently) and YAML 1.1 booleans used as keys
(`on:`, `off:`, `no:`) named as such instead of surfacing later as False."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import StubgenError
from . import cache, inputs

# PyYAML is imported only to parse: a file read before comes from the cache (stubgen.tables.cache)
# as the Document it gave, and a run that finds everything there never imports it.
_BOOL = "tag:yaml.org,2002:bool"
_STR = "tag:yaml.org,2002:str"


@dataclass
class Document:
    path: Path
    data: object = None
    lines: dict = field(default_factory=dict)  # key path (tuple) -> 1-based line
    problems: list[str] = field(default_factory=list)  # "file:line: message", in file order

    def line(self, keypath) -> int | None:
        """The line of keypath, or of its nearest ancestor the parser saw."""
        keypath = tuple(keypath)
        while keypath:
            if keypath in self.lines:
                return self.lines[keypath]
            keypath = keypath[:-1]
        return None

    def where(self, keypath=()) -> str:
        line = self.line(keypath)
        return f"{self.path}:{line}" if line else str(self.path)


def _walk(loader, node, path: tuple, doc: Document):
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                doc.problems.append(f"{doc.path}:{line}: {dotted(path) or '(top)'}: a key must be a plain name")
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.tag == _BOOL:
                meant = yaml.constructor.SafeConstructor.bool_values.get(key_node.value.lower())
                doc.problems.append(
                    f"{doc.path}:{line}: {dotted(path + (key_node.value,))}: the key {key_node.value!r} is the "
                    f"YAML 1.1 boolean {meant}; quote it ('{key_node.value}')")
                # Read on as the string that was meant, so the rest of the file is still checked.
                key_node.tag = _STR
            key = loader.construct_object(key_node)
            try:
                first = seen.get(key)
            except TypeError:
                first = None
            if first is not None:
                doc.problems.append(f"{doc.path}:{line}: {dotted(path + (key,))}: duplicate key "
                                    f"{key!r} (first at line {first}); YAML would keep only the last")
            else:
                try:
                    seen[key] = line
                except TypeError:
                    pass
            doc.lines.setdefault(path + (key,), line)
            _walk(loader, value_node, path + (key,), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines.setdefault(path + (i,), item.start_mark.line + 1)
            _walk(loader, item, path + (i,), doc)


def dotted(path) -> str:
    """A key path as a.b.0.c; a key that is not a plain name shows as its repr, so that
    a newline or a slash in a key cannot disguise the message."""
    return ".".join(str(p) if isinstance(p, int) or (isinstance(p, str) and p.isidentifier()) else repr(p)
                    for p in path)


# Tables nest four or five levels; a document nested hundreds deep is refused before
# the recursive walks (ours, the constructor's, jsonschema's) meet it.
MAX_DEPTH = 32


def _shape_problem(node, limit: int) -> str | None:
    """Why a document's node graph is refused: nested too deep, or an alias. An alias
    is expanded once per reference, so nine of them nested make a 564-byte file that
    never finishes loading; no table needs one. Walked without recursion, each node once."""
    import yaml

    stack, seen = [(node, 1)], set()
    while stack:
        n, depth = stack.pop()
        if id(n) in seen:
            return "a YAML alias (*name): tables and rules spell every value out"
        if isinstance(n, (yaml.MappingNode, yaml.SequenceNode)):
            seen.add(id(n))
        if depth > limit:
            return f"nested more than {limit} levels deep; no table needs that"
        if isinstance(n, yaml.MappingNode):
            stack += [(v, depth + 1) for kv in n.value for v in kv]
        elif isinstance(n, yaml.SequenceNode):
            stack += [(v, depth + 1) for v in n.value]
    return None


def read(path, roots=None) -> Document:
    """Read one YAML file (confined to roots when given; a regular file of bounded
    size, see inputs). Syntax errors and key problems land in .problems (each
    "file:line[:column]: message"); .data is None when the file could not be parsed.
    A file parsed before comes from the cache, keyed by its bytes and the parser's code."""
    path = Path(path)
    doc = Document(path)
    try:
        text = inputs.read_text(path, roots, what="YAML file")
    except StubgenError as e:
        doc.problems.append(str(e))
        return doc
    key = cache.key(["yaml document", str(path), _parser_fingerprint(), cache.digest(text.encode("utf-8"))])
    cached = cache.load("yaml", key)
    if isinstance(cached, Document):
        return cached
    _parse(doc, text)
    cache.store("yaml", key, doc)
    return doc


@lru_cache(maxsize=1)
def _parser_fingerprint() -> str:
    """This module's code and PyYAML's (by the content of its package file, which holds
    its version), without importing PyYAML."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("yaml")
    files = [__file__] + ([spec.origin] if spec and spec.origin else [])
    return cache.key(["yaml parser"], files)


def _parse(doc: Document, text: str) -> None:
    import yaml

    # libyaml's parser when PyYAML has it: the same nodes, marks and tags, several times faster.
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    path = doc.path
    try:
        # The constructor already reads the text and refuses control characters.
        loader = loader_class(text)
    except yaml.YAMLError as e:
        doc.problems.append(f"{path}: YAML: {str(e).splitlines()[0]}")
        return
    try:
        node = loader.get_single_node()
        if node is None:
            # An empty file is a mistake (a truncated copy, a wrong path), never "no facts":
            # read as nothing, it would silently drop an architecture.
            doc.problems.append(f"{path}: empty (no YAML document)")
            return
        shape = _shape_problem(node, MAX_DEPTH)
        if shape:
            doc.problems.append(f"{path}: {shape}")
            return
        if node is not None:
            _walk(loader, node, (), doc)
            doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = e.problem or e.context or "not valid YAML"
        doc.problems.append(f"{where}: YAML syntax: {what}" + (f" ({e.context})" if e.context and e.problem
                                                                  else ""))
        doc.data = None
    except (yaml.YAMLError, RecursionError, ValueError) as e:
        doc.problems.append(f"{path}: YAML: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        doc.data = None
    finally:
        loader.dispose()


def schema_problems(doc: Document, schema: dict, bad_keys: set | None = None) -> list[str]:
    """jsonschema's verdict on doc.data, one line per error with file, line and key path;
    an unknown key is pointed at where it is, not at its parent. bad_keys collects the
    top-level keys that have an error (None among them: the document as a whole)."""
    # A document known to pass this schema (the same data, the same schema) is not
    # checked again: jsonschema's import and run are most of a small run's start.
    valid_key = cache.key([_parser_fingerprint(), repr(schema), repr(doc.data)])
    if cache.load("valid", valid_key) is True:
        return []
    import jsonschema

    out = []
    bad_keys = set() if bad_keys is None else bad_keys
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc.data),
                    key=lambda e: (doc.line(e.absolute_path) or 0, [str(p) for p in e.absolute_path]))
    for e in errors:
        path = tuple(e.absolute_path)
        bad_keys.add(path[0] if path else None)
        if e.validator == "additionalProperties" and isinstance(e.instance, dict):
            known = set(e.schema.get("properties", {}))
            for k in sorted((k for k in e.instance if k not in known), key=str):
                valid = ", ".join(sorted(known))
                out.append(f"{doc.where(path + (k,))}: {dotted(path + (k,))}: unknown key {k!r}"
                           + (f"; valid: {valid}" if valid else ""))
            continue
        if "propertyNames" in e.relative_schema_path:
            # e.instance is the offending name and the path is its mapping's.
            out.append(f"{doc.where(path + (e.instance,))}: {dotted(path + (e.instance,))}: "
                       f"name {short(repr(e.instance))} is not allowed ({_why_name(e)})")
            continue
        out.append(f"{doc.where(path)}: {dotted(path) or '(top)'}: {_message(e)}")
    if not errors:
        cache.store("valid", valid_key, True)
    return out


def _why_name(e) -> str:
    if "pattern" in e.schema:
        return "letters, digits and _ only, not starting with a digit" if "A-Za-z_" in e.schema["pattern"] \
            else "lower-case letters and digits"
    return e.message


def _message(e) -> str:
    if e.validator == "pattern":
        return f"{short(repr(e.instance))} is not allowed here (it must match {e.schema['pattern']})"
    if e.validator == "maxLength":
        return f"a string of {len(e.instance)} characters; at most {e.schema['maxLength']}"
    if e.validator == "anyOf" and isinstance(e.instance, str):
        return f"{short(repr(e.instance))} is not allowed here (one printable line of plain characters)"
    if e.validator in ("anyOf", "type") and not isinstance(e.instance, (str, int, float, list, dict, type(None))):
        return f"{short(repr(e.instance))} is a {type(e.instance).__name__}, not text or a number; quote it"
    return short(e.message)


def short(text: str, limit: int = 120) -> str:
    """A value quoted in a message, cut so that a huge or many-line value cannot flood it."""
    return text if len(text) <= limit else text[:limit - 3] + "..."
