"""JSON Schemas for the YAML tables in arch/."""

_IDENT = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_REG = {"type": "string", "pattern": r"^[a-z][a-z0-9]*$"}
_REGS = {"type": "array", "items": _REG, "uniqueItems": True}
_ENGINE = {
    "type": "object",
    "required": ["arch", "mode"],
    "properties": {"arch": _IDENT, "mode": _IDENT, "consts": _IDENT, "prefix": _IDENT, "pc": _REG},
    "additionalProperties": False,
}


def _obj(required, properties, optional=None):
    props = dict(properties, **(optional or {}))
    return {"type": "object", "required": list(required), "properties": props, "additionalProperties": False}


# Relative to the kernel source tree, and never out of it.
_KERNEL_PATH = {"type": "string", "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$))[A-Za-z0-9_.+/-]+$"}
_ABI = {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}
KERNEL_TABLE = _obj(["path", "abis"], {
    "path": _KERNEL_PATH,
    "abis": {"type": "array", "items": _ABI, "minItems": 1, "uniqueItems": True},
    # Generic architectures share scripts/syscall.tbl and add ABI tags in a Makefile.
    "abis_from": _obj(["path", "variable"], {"path": _KERNEL_PATH, "variable": _IDENT}),
    # The architecture's directory, whose definitions and headers apply to it (others'
    # never do); by default the arch/<dir> that path or abis_from.path lies under.
    "arch_dir": {"type": "string", "pattern": r"^arch/[A-Za-z0-9_]+$"},
    "extra": _obj(["base", "calls"], {
        "base": {"type": "integer", "minimum": 0},
        "calls": {"type": "object", "minProperties": 1, "propertyNames": _IDENT,
                  "additionalProperties": {"type": "integer", "minimum": 0}},
    }),
})


ARCH = _obj(
    ["name", "goarch", "gnu_triple", "word_bytes", "endian", "engines", "registers", "stack_pointer",
     "kernel", "c_abi", "go_abi0"],
    {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"},
        "aliases": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"}},
        "goarch": {"type": "string", "pattern": r"^[a-z0-9]+$"},
        "c_macro": _IDENT,
        "gnu_triple": {"type": "string", "pattern": r"^[a-z0-9_]+(-[a-z0-9_]+)+$"},
        "qemu_user": {"type": "string", "pattern": r"^qemu-[a-z0-9_]+$"},
        "word_bytes": {"enum": [4, 8]},
        "endian": {"enum": ["little", "big"]},
        "engines": _obj(["keystone", "capstone", "unicorn"],
                        {"keystone": _ENGINE, "capstone": _ENGINE, "unicorn": _ENGINE}),
        "registers": {"type": "object", "minProperties": 1,
                      "propertyNames": _REG,
                      "additionalProperties": {"type": "string", "pattern": r"^[A-Z][A-Z0-9]*$"}},
        "stack_pointer": _REG,
        "kernel": _obj(["number", "args", "result", "error_range"], {
            "number": _REG,
            "args": dict(_REGS, minItems=6, maxItems=7),
            "result": _REG,
            "clobbers": _REGS,
            "error_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
            "pair_align": {"enum": [1, 2]},
        }),
        "c_abi": _obj(["args", "stack_args", "stack_slot", "return_address", "callee_saved", "result",
                       "stack_align"], {
            "args": _REGS,
            "stack_args": {"type": "integer", "minimum": 0, "maximum": 64},
            "stack_slot": {"enum": [4, 8]},
            "return_address": _REG,
            "callee_saved": _REGS,
            "result": _REG,
            "stack_align": {"enum": [4, 8, 16]},
            "pair_align": {"enum": [1, 2]},
            "pair_stack_align": {"enum": [4, 8]},
        }),
        "go_abi0": _obj(["fp", "return_address"], {
            "fp": {"type": "integer", "minimum": 0, "maximum": 64},
            "return_address": _REG,
            "max_align": {"enum": [4, 8]},
        }),
        "kernel_table": KERNEL_TABLE,
        "signatures": {"$ref": "#/$defs/signatures"},
    },
)

NUMBERS = _obj(["numbers"], {
    "provenance": {"type": "object"},
    "numbers": {"type": "object", "propertyNames": _IDENT,
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 0x7fffffff}},
    # The signature (a key of common/signatures.yaml) of each call whose entry point
    # is not sys_<its name>, from the kernel table.
    "entry_points": {"type": "object", "propertyNames": _IDENT, "additionalProperties": _IDENT},
    # Numbered calls without a signature, and why.
    "untyped": {"type": "object", "propertyNames": _IDENT,
                "additionalProperties": {"type": "string", "pattern": r"^[^\n]+$"}},
})

TYPES = {
    "type": "object",
    "propertyNames": _IDENT,
    "additionalProperties": _obj(["size", "signed", "go", "c"], {
        "size": {"oneOf": [{"const": "word"}, {"enum": [1, 2, 4, 8]}]},
        # The bits of the value the kernel reads, where fewer than the size holds
        # (umode_t: 16 bits of a 32-bit argument).
        "bits": {"enum": [8, 16, 32]},
        "signed": {"type": "boolean"},
        "go": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*$"},
        "c": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_ ]*\**$"},
    }),
}

SIGNATURES = {
    "type": "object",
    "propertyNames": _IDENT,
    "additionalProperties": _obj(["args", "result"], {
        # Up to six kernel arguments plus the number of a generic stub.
        "args": {"type": "array", "maxItems": 7, "items": _obj(["name", "type"], {
            "name": _IDENT, "type": _IDENT, "go": _IDENT,
            # The kernel's spelling of the type, without __user and qualifiers.
            "c": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_ ]*\**$"},
            # number: the argument is the syscall number (a generic stub); it goes to the
            # kernel's number register and the stub needs no number of its own.
            "role": {"enum": ["number"]}})},
        "result": _IDENT,
        "from": {"type": "string", "pattern": r"^[^\n]+$"},  # where the signature was read
        # noreturn: the stub traps and never comes back (policy noreturn);
        # returns_twice: the call returns in a parent and a child.
        "special": {"enum": ["noreturn", "returns_twice"]},
        "untyped": {"type": "string", "pattern": r"^[^\n]+$"},  # why no typed stub is made
    }),
}
ARCH["$defs"] = {"signatures": SIGNATURES}

# templates/<dialect>/dialect.yaml. Format strings are checked for their placeholders
# separately (render.FIELDS); a path that leaves the output directory is refused when
# writing, after it is resolved.
_TEMPLATE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.{}-]+$"}
DIALECT = _obj(["summary", "dir", "stub_template", "symbol", "files"], {
    "summary": {"type": "string", "pattern": r"^[^\n]*$"},
    "dir": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"},
    "stub_template": _TEMPLATE_NAME,
    "symbol": {"type": "string", "pattern": r"^[A-Za-z0-9_{}]+$"},
    "files": {"type": "array", "minItems": 1, "items": _obj(["template", "path", "per"], {
        "template": _TEMPLATE_NAME,
        "path": {"type": "string", "minLength": 1, "pattern": r"^[A-Za-z0-9_./{}-]+$"},
        "per": {"enum": ["arch", "dialect"]},
        "symbols": {"type": "boolean"},
        "skip_empty": {"type": "boolean"},
    })},
    "verify": _obj([], {"reader": _IDENT, "convention": {"enum": ["c_abi", "go_abi0"]}, "reference": _IDENT}),
})

# What `stubgen verify` needs of a manifest.json, which may have been edited by hand.
MANIFEST = {
    "type": "object", "required": ["files"],
    "properties": {
        "options": {"type": "object", "properties": {"errno_handler": _IDENT}},
        "files": {"type": "array", "items": {
            "type": "object", "required": ["path", "dialect"],
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "dialect": _IDENT,
                "arch": {"type": ["string", "null"]},
                "symbols": {"type": "array", "items": {
                    "type": "object", "required": ["name", "syscall", "number", "arch", "policy"],
                    "properties": {"name": _IDENT, "syscall": _IDENT, "number": {"type": ["integer", "null"]},
                                   "arch": {"type": "string"}, "policy": _IDENT, "trap": {"type": "string"}}}},
            }}},
    },
}


def _anchor_end(node):
    # jsonschema matches with re.search, where "$" also matches before a final newline:
    # "madvise\n" would pass as a name and carry the newline into a file or a symbol.
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str) and v.endswith("$"):
                node[k] = v[:-1] + r"\Z"
            else:
                _anchor_end(v)
    elif isinstance(node, list):
        for v in node:
            _anchor_end(v)


for _s in (ARCH, NUMBERS, TYPES, SIGNATURES, KERNEL_TABLE, DIALECT, MANIFEST):
    _anchor_end(_s)
