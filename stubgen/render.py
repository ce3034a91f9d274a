"""Jinja side: one sandboxed environment per templates path, each template compiled
once; per-dialect descriptors; discovery of the policies and traps a template offers."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .errors import StubgenError, choices


@lru_cache(maxsize=8)
def environment(search_path: tuple[str, ...]):
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(loader=FileSystemLoader(list(search_path)), undefined=StrictUndefined,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                               autoescape=False)
    env.filters["imm_chunks"] = imm_chunks
    return env


def imm_chunks(value: int, width: int, step: int, bits: int = 32) -> list[int]:
    """value as a sum of fields of `width` bits, each starting at a multiple of `step`,
    lowest first: the pieces of a constant that an instruction set builds with one
    short immediate at a time (ARM: 8 bits at an even rotation)."""
    v, out = value & ((1 << bits) - 1), []
    while v:
        low = (v & -v).bit_length() - 1
        shift = low - low % step
        field = v & (((1 << width) - 1) << shift)
        out.append(field)
        v &= ~field
    return out or [0]


class Dialect:
    """templates/<name>/dialect.yaml, and the per-architecture stub templates beside it."""

    def __init__(self, name: str, search_path: tuple[str, ...], spec: dict):
        self.name = name
        self.search_path = search_path
        self.summary = spec["summary"]
        self.dir = spec["dir"]
        self.stub_template = spec["stub_template"]
        self.files = spec["files"]
        self.symbol = spec["symbol"]
        self.verify = spec.get("verify", {})

    @property
    def env(self):
        return environment(self.search_path)

    def module(self, arch: str):
        """The compiled stub template of an architecture, as a module of macros."""
        return _module(self.env, f"{self.name}/{self.stub_template.format(arch=arch)}")

    def has_arch(self, arch: str) -> bool:
        rel = f"{self.name}/{self.stub_template.format(arch=arch)}"
        return any((Path(p) / rel).is_file() for p in self.search_path)

    def reading_rules(self, arch: str) -> dict:
        """templates/<dialect>/<arch>.lower.yaml: how the verifier reads this dialect back."""
        rel = f"{self.name}/{arch}.lower.yaml"
        for p in self.search_path:
            f = Path(p) / rel
            if f.is_file():
                return yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        raise StubgenError(f"dialect {self.name} has no {rel} for the verifier")

    def offers(self, arch: str, kind: str) -> list[str]:
        """Names of the `<kind>_<name>` macros (kind: policy or trap), in template order."""
        mod = self.module(arch)
        prefix = kind + "_"
        return sorted(n[len(prefix):] for n in mod.__dict__ if n.startswith(prefix))


@lru_cache(maxsize=64)
def _module(env, name: str):
    from jinja2 import TemplateError

    try:
        return env.get_template(name).module
    except TemplateError as e:
        raise StubgenError(f"template {name}: {e}") from None


@lru_cache(maxsize=8)
def dialects(templates_root: str | None = None) -> dict[str, Dialect]:
    from .resources import templates_dir

    shipped = str(templates_dir())
    path = (templates_root, shipped) if templates_root else (shipped,)
    found = {}
    for root in reversed(path):  # a user's dialect replaces a shipped one of the same name
        for f in sorted(Path(root).glob("*/dialect.yaml")):
            try:
                spec = yaml.safe_load(f.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise StubgenError(f"{f}: {e}") from None
            found[f.parent.name] = Dialect(f.parent.name, path, spec)
    return found


def dialect(name: str, templates_root: str | None = None) -> Dialect:
    ds = dialects(templates_root)
    if name not in ds:
        raise choices("dialect", name, ds)
    return ds[name]


def call(module, macro: str, *args) -> str:
    """Call a template macro; a template mistake becomes one clear line."""
    from jinja2 import TemplateError

    try:
        return str(getattr(module, macro)(*args))
    except (TemplateError, AttributeError, TypeError, KeyError) as e:
        raise StubgenError(f"template {module.__name__ if hasattr(module, '__name__') else module}: "
                           f"{macro}: {e}") from None


def render_file(env, name: str, **context) -> str:
    from jinja2 import TemplateError

    try:
        return env.get_template(name).render(**context)
    except (TemplateError, AttributeError, TypeError, KeyError, ValueError) as e:
        raise StubgenError(f"template {name}: {e}") from None
