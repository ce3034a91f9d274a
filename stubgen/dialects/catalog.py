"""The dialects: templates/<name>/dialect.yaml (a user's --templates overlaying the
shipped ones) and the per-architecture stub templates beside it, with the policies
and traps each template offers."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import cast

from .. import resources
from ..errors import StubgenError, choices
from ..tables import schema, yamlio
from .rules import format_fields, reading_rules
from .sandbox import environment, template_module


class Dialect:
    """templates/<name>/dialect.yaml, and the per-architecture stub templates beside it."""

    def __init__(self, name: str, search_path: tuple[str, ...], spec: dict):
        self.name = name
        self.search_path = search_path
        self.summary = spec["summary"]
        self.dir = spec["dir"]
        self.alone_in_output = spec.get("alone_in_output", False)
        self.default = spec.get("default", True)
        self.stub_template = spec["stub_template"]
        self.files = spec["files"]
        self.symbol = spec["symbol"]
        self.verify = spec.get("verify", {})
        self.names = spec.get("names", {})
        self.absent: dict[str, str] = dict(spec.get("absent", {}))

    @property
    def env(self):
        return environment(self.search_path)

    def module(self, arch: str):
        """The compiled stub template of an architecture, as a module of macros."""
        return template_module(self.env, f"{self.name}/{self.stub_template.format(arch=arch)}")

    @property
    def needs_go_port(self) -> bool:
        """Whether this dialect's output is Go's: verified in Go's ABI0 frame, or written
        per GOARCH. An architecture without a Go port cannot have it."""
        return self.verify.get("convention") == "go_abi0" or any("{goarch}" in f["path"] for f in self.files)

    def cannot_write(self, arch) -> str:
        """Why this dialect cannot be written for arch (a tables Arch), or "": Go's output
        where Go has no port, or an architecture the dialect says it lacks (absent)."""
        if self.needs_go_port and arch.no_go_port:
            return f"dialect {self.name} needs a Go port; {arch.no_go_port}"
        if arch.name in self.absent:
            return f"dialect {self.name} cannot be written for {arch.name}: {self.absent[arch.name]}"
        return ""

    def has_arch(self, arch: str) -> bool:
        rel = f"{self.name}/{self.stub_template.format(arch=arch)}"
        return any((Path(p) / rel).is_file() for p in self.search_path)

    def reading_rules(self, arch: str) -> dict:
        """templates/<dialect>/<arch>.lower.yaml: how the verifier reads this dialect back,
        checked: its shape, every placeholder of its format strings, every mutation regex."""
        rel = f"{self.name}/{arch}.lower.yaml"
        for p in self.search_path:
            f = Path(p) / rel
            if f.exists() or f.is_symlink():
                st = f.lstat()  # the file as it is now: an edited file is read afresh
                return reading_rules(f, p, self.verify.get("reader"), (st.st_mtime_ns, st.st_size, st.st_ino))
        raise StubgenError(f"dialect {self.name} has no {rel} for the verifier")

    def offers(self, arch: str, kind: str) -> list[str]:
        """Names of the `<kind>_<name>` macros (kind: policy or trap), in template order."""
        mod = self.module(arch)
        prefix = kind + "_"
        return sorted(n[len(prefix):] for n in mod.__dict__ if n.startswith(prefix))



@lru_cache(maxsize=8)
def dialects(templates_root: str | None = None) -> dict[str, Dialect]:
    shipped = str(resources.templates_dir())
    path = (templates_root, shipped) if templates_root else (shipped,)
    if templates_root and not Path(templates_root).is_dir():
        raise StubgenError(f"{templates_root}: templates directory not found")
    found, problems = {}, []
    for root in reversed(path):  # a user's dialect replaces a shipped one of the same name
        for f in sorted(Path(root).glob("*/dialect.yaml")):
            doc = yamlio.read(f, roots=[root])
            problems += doc.problems
            if doc.data is None:
                continue
            found_here = yamlio.schema_problems(doc, schema.DIALECT)
            if not found_here:
                found_here = _format_problems(doc)
            problems += found_here
            if not found_here and not doc.problems:
                found[f.parent.name] = Dialect(f.parent.name, path, cast(dict, doc.data))
    dirs: dict[str, str] = {}
    for name, d in sorted(found.items()):
        if d.dir in dirs:
            problems.append(f"dialect {name}: dir {d.dir!r} is also dialect {dirs[d.dir]}'s; each dialect "
                            "writes into a directory of its own")
        dirs.setdefault(d.dir, name)
    if problems:
        raise StubgenError(problems[0] if len(problems) == 1 else
                           f"{len(problems)} problems in templates:\n  " + "\n  ".join(problems))
    return found


# The placeholders each format string of dialect.yaml may use; anything else (an
# attribute, an index, a conversion) could pull text from Python objects into a path.

FIELDS = {"stub_template": {"arch"}, "symbol": {"prefix", "syscall", "Syscall", "ident"},
          "path": {"package", "arch", "goarch"}}


def _format_problems(doc) -> list[str]:

    out = []
    spots: list[tuple[tuple, str, set]] = [(("stub_template",), doc.data["stub_template"], FIELDS["stub_template"]),
             (("symbol",), doc.data["symbol"], FIELDS["symbol"])]
    spots += [(("files", i, "path"), f["path"], FIELDS["path"]) for i, f in enumerate(doc.data["files"])]
    if "exported_symbol" in doc.data.get("names", {}):
        spots.append((("names", "exported_symbol"), doc.data["names"]["exported_symbol"], FIELDS["symbol"]))
    for i, f in enumerate(doc.data["files"]):
        if f["per"] == "arch" and "{arch}" not in f["path"] and "{goarch}" not in f["path"]:
            out.append(f"{doc.where(('files', i, 'path'))}: files.{i}.path: a file per arch needs {{arch}} or "
                       "{goarch} in its path (else every architecture writes the same file)")
    for keypath, text, allowed in spots:
        for field, spec, conv in format_fields(doc, keypath, text, out):
            if field not in allowed or spec or conv:
                out.append(f"{doc.where(keypath)}: {yamlio.dotted(keypath)}: placeholder "
                           f"{{{field}{'!' + conv if conv else ''}{':' + spec if spec else ''}}} is not "
                           f"allowed; valid: {', '.join('{' + a + '}' for a in sorted(allowed))}")
    return out


def dialect(name: str, templates_root: str | None = None) -> Dialect:
    ds = dialects(templates_root)
    if name not in ds:
        raise choices("dialect", name, ds)
    return ds[name]
