"""Turn stubs into files: render each dialect's file templates (the stubs of an
architecture, the declarations, the numbers) and describe them in the manifest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..dialects import dialect, render_file
from ..errors import StubgenError
from ..tables import load as load_tables
from ..tables.manifest import MANIFEST
from ..version import __version__
from .output import check_texts, plan_texts, write_texts


def _provenance(arch) -> str:
    p = arch.provenance
    return ", ".join(f"{k} {v}" for k, v in sorted(p.items()) if isinstance(v, (str, int))) or "no provenance"


def render_files(stubs) -> dict[str, tuple[str, dict]]:
    """Relative path -> (text, manifest entry), for every file the stubs need."""
    if not stubs:
        raise StubgenError("nothing to write: no stubs")
    opts = stubs[0].options
    t = load_tables(opts.tables)
    files: dict[str, tuple[str, dict]] = {}
    by_dialect: dict[str, list] = {}
    for s in stubs:
        by_dialect.setdefault(s.dialect, []).append(s)
    for dname, dstubs in by_dialect.items():
        d = dialect(dname, opts.templates)
        # A dialect that writes a package of its own (Go) writes it into the output
        # directory itself when it is the run's only dialect.
        subdir = "" if d.alone_in_output and len(by_dialect) == 1 else f"{d.dir}/"
        arch_names = list(dict.fromkeys(s.arch for s in dstubs))
        everywhere = _Everywhere(dstubs, arch_names)
        for f in d.files:
            groups = [[a] for a in arch_names] if f["per"] == "arch" else [arch_names]
            for group in groups:
                gstubs = [s for s in dstubs if s.arch in group]
                arch = t.arches[group[0]]
                rel = subdir + f["path"].format(package=opts.go_package, arch=arch.name, goarch=arch.goarch)
                views = [_View(s) for s in gstubs]
                text = render_file(
                    d.env, f"{dname}/{f['template']}", stubs=views, arch=arch, version=__version__,
                    provenance=_provenance(arch), package=opts.go_package, m=d.module(arch.name),
                    goarches=[t.arches[a].goarch for a in group], errno_handler=opts.errno_handler,
                    guard=f"STUBGEN_{opts.go_package.upper()}_H", arches=[t.arches[a] for a in group],
                    everywhere=everywhere)
                # A file with nothing to say for this run (no declaration differs) is left out.
                if f.get("skip_empty") and not text.strip():
                    continue
                listed = gstubs if f.get("symbols", True) else []
                if rel in files:
                    raise StubgenError(f"dialect {dname}: two files would be written to {rel}; each needs a path "
                                       "of its own")
                files[rel] = (text, {
                    "path": rel, "dialect": dname, "arch": group[0] if f["per"] == "arch" else None,
                    "arches": group, "kind": f["template"],
                    "sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "symbols": [{"name": s.symbol, "syscall": s.syscall, "number": s.number, "arch": s.arch,
                                 "policy": s.policy, "trap": s.trap} for s in listed],
                })
    return files


class _Everywhere:
    """everywhere(s, "go_decl"): whether every architecture of the run has a stub with
    s's declaration, so one shared file can declare it; a declaration that exists on
    some architectures only, or differs between them, goes where only they see it."""

    def __init__(self, stubs, arch_names):
        seen: dict = {}
        for s in stubs:
            for attr in ("go_decl", "c_decl"):
                seen.setdefault((attr, getattr(s._context, attr)), set()).add(s.arch)
        self.full = {k for k, v in seen.items() if len(v) == len(arch_names)}

    def __call__(self, stub, attr: str) -> bool:
        return (attr, getattr(stub, attr)) in self.full


class _View:
    """A stub as the file templates see it: its context plus its rendered text."""

    def __init__(self, stub):
        self._stub = stub

    def __getattr__(self, name):
        if name == "text":
            return self._stub.text
        return getattr(self._stub._context, name)


def manifest(stubs, files: dict) -> dict:
    opts = stubs[0].options
    t = load_tables(opts.tables)
    used = sorted({s.arch for s in stubs})
    return {
        "generator": f"stubgen {__version__}",
        "options": {"go_package": opts.go_package, "symbol_prefix": opts.symbol_prefix,
                    "errno_handler": opts.errno_handler},
        "tables": {a: t.arches[a].provenance for a in used},
        "files": [entry for _, entry in files.values()],
    }


def texts(stubs) -> list[tuple[str, str]]:
    """(relative path, text) of every file the stubs make, the manifest last."""
    files = render_files(stubs)
    man = json.dumps(manifest(stubs, files), indent=2, sort_keys=True) + "\n"
    return [(rel, text) for rel, (text, _) in files.items()] + [(MANIFEST, man)]


def plan(stubs, directory, force: bool = False) -> list[tuple[str, Path, str]]:
    """(relative path, resolved path, text) for every file of the stubs, the manifest last."""
    return plan_texts(texts(stubs), directory, force)


def write(stubs, directory, force: bool = False) -> list[Path]:
    """Write the stubs' files under directory, the manifest last, all or nothing (see
    above). A file without stubgen's generated-code mark is not overwritten unless force."""
    if not stubs:
        raise StubgenError("nothing to write: no stubs")
    return write_texts(texts(stubs), directory, force)


def check(stubs, directory) -> str:
    """A unified diff from the files on disk to what write() would put there (a
    missing file diffs from /dev/null); empty when they match. Writes nothing (a run
    that was killed mid-commit is an error to repair with generate, not to diff)."""
    if not stubs:
        raise StubgenError("nothing to write: no stubs")
    return check_texts(texts(stubs), directory)
