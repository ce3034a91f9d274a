"""The constant names Keystone, Capstone and Unicorn define, so that a table's engine
settings and register names are checked when the tables are loaded, naming file and
line, instead of failing as an AttributeError deep in the verifier. The names are
read from the bindings' Python sources, not imported: loading the tables must not
load three native libraries (`generate` without `--verify` never needs them)."""
from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

_ASSIGN = re.compile(r"^([A-Z][A-Z0-9_]*)\s*=", re.M)
# Where each binding defines its architecture and mode constants.
_SOURCES = {"keystone": "keystone_const", "capstone": "__init__", "unicorn": "unicorn_const"}
_PREFIX = {"keystone": "KS_", "capstone": "CS_", "unicorn": "UC_"}


@cache
def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@cache
def names(package: str, module: str) -> frozenset[str] | None:
    """The constants module `package.module` assigns; None when the binding is not
    installed (then nothing can be checked, and the verifier says it is missing)."""
    d = _package_dir(package)
    if d is None:
        return None
    f = d / f"{module}.py"
    if not f.is_file():
        return frozenset()
    return frozenset(_ASSIGN.findall(f.read_text(encoding="utf-8", errors="replace")))


def problems(data) -> list[tuple[tuple, str]]:
    """(key path, message) for every engine setting or register of an architecture
    table that its engine does not know."""
    out: list[tuple[tuple, str]] = []
    engines = data["engines"]
    for engine, module in _SOURCES.items():
        e = engines.get(engine)  # an engine the architecture does without is absent
        known = names(engine, module)
        if e is None or known is None:
            continue
        for key, kind in (("arch", "ARCH"), ("mode", "MODE"), ("thumb_mode", "MODE")):
            if key not in e:
                continue
            want = f"{_PREFIX[engine]}{kind}_"
            for value in e[key] if isinstance(e[key], list) else [e[key]]:  # a list of modes is OR-ed
                if not value.startswith(want) or value not in known:
                    valid = sorted(n for n in known if n.startswith(want))
                    out.append((("engines", engine, key), f"{value!r} is not a {engine} constant; valid: "
                                f"{', '.join(valid)}"))
    u = engines.get("unicorn")
    if u is None:
        return out
    missing = [k for k in ("consts", "prefix", "pc") if k not in u]
    if missing:
        out.append((("engines", "unicorn"), f"needs {', '.join(missing)} (the register constants' module, "
                    "their prefix, and the program counter)"))
        return out
    regs = names("unicorn", u["consts"])
    if regs is None:
        return out
    if not regs:
        out.append((("engines", "unicorn", "consts"), f"unicorn has no module {u['consts']!r} (e.g. x86_const)"))
        return out
    alias = u.get("names", {})  # a table name Unicorn spells otherwise (MIPS n64 a4 is its 8)
    wanted = [*data["registers"], u["pc"]]
    if not any(u["prefix"] + alias.get(n, n).upper() in regs for n in wanted):
        out.append((("engines", "unicorn", "prefix"), f"no register of this table is {u['prefix']}<NAME> in "
                    f"unicorn.{u['consts']}"))
        return out
    for name in wanted:
        const = u["prefix"] + alias.get(name, name).upper()
        if const not in regs:
            keypath = ("registers", name) if name in data["registers"] else ("engines", "unicorn", "pc")
            out.append((keypath, f"Unicorn has no register {const} in unicorn.{u['consts']} "
                        f"(register names are the engine's, lower case; check engines.unicorn.prefix)"))
    return out
