"""Where the verifier's Specs come from: stubs from stubgen.generate(), and the files of a
generated directory as its manifest lists them."""
from __future__ import annotations

from ..tables.manifest import read_listed, read_manifest, snapshot_lock
from .checker import Verifier
from .spec import Report, Spec


def stub_specs(stubs) -> list[tuple[str, Spec]]:
    """(text, Spec) for stubs from stubgen.generate(); only stubs rendered from the
    shipped templates count as rendered (a user's templates can make any text)."""
    return [(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap,
                          s.options.errno_handler, rendered=s.options.templates is None)) for s in stubs]


def verify(stubs, tables: str | None = None, templates: str | None = None) -> list[Report]:
    """Check stubs from stubgen.generate(); returns one report per stub."""
    if stubs:
        tables = tables or stubs[0].options.tables
        templates = templates or stubs[0].options.templates
    v = Verifier(tables, templates)
    return v.check_many(stub_specs(stubs))


def manifest_specs(directory) -> list[tuple[str, Spec]]:
    """The stubs a generated directory holds, read from its files as they are on disk
    (confined to the directory, regular files of bounded size). Text from disk is never
    rendered: the manifest's sha256 is input too and cannot vouch for it."""
    with snapshot_lock(directory):  # every file read under it: a snapshot of one run's set
        man = read_manifest(directory)
        texts: dict[str, str] = {f["path"]: read_listed(directory, f["path"])
                                 for f in man.get("files", []) if f.get("arch")}
    handler = man.get("options", {}).get("errno_handler", "stubgen_errno")
    out = []
    for f in man.get("files", []):
        if not f.get("arch"):
            continue
        text = texts[f["path"]]
        for s in f.get("symbols", ()):
            out.append((text, Spec(s["arch"], f["dialect"], s["name"], s["syscall"], s["number"], s["policy"],
                                   s.get("trap", ""), handler, rendered=False, path=f["path"])))
    return out
