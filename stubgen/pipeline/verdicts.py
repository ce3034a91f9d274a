"""Each stub's verdict kept between runs of `stubgen verify DIR` and `generate --verify`,
in the cache of tables/cache.py (same place, same rules), under a key of everything
that decides it: the stub's text and Spec (symbol, syscall, number, policy, trap,
errno handler, file), the content of every file of the tables, the templates and
stubgen's own code (its .py and .yaml, the verifier's ABI statement among them),
stubgen's and Python's versions, --kernel-abi's content, the engines' versions, and
the real tools that take part (go tool asm, GNU as and its binutils: where each is and
its size and time, or why it is missing). A changed byte in any of them is another
key: an entry is never stale. An unchanged tree then verifies in a fraction of a second.

Entries are data (JSON), read with O_NOFOLLOW (a planted link is refused) and at most
MAX_BYTES; one that cannot be read or does not hold a report is rebuilt. A verdict is
kept as it was, failed or passed; only a check the run itself cut short (a child that
hit its time limit on a busy machine) is not kept. STUBGEN_NO_CACHE=1 or --no-cache
turns it off; STUBGEN_NO_VERDICT_CACHE=1 turns off this cache alone (the test suite,
which verifies the same trees under patched code, keeping the tables' cache)."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .. import dialects
from .. import tables as tables_mod
from ..errors import StubgenError
from ..generator.outcache import _files
from ..realtools import tools
from ..resources import code_dir, tables_dir, templates_dir
from ..tables import cache
from ..verifier.assembler import backends
from ..verifier.spec import Report
from . import verify_rust

KIND = "verdicts"
OFF = "STUBGEN_NO_VERDICT_CACHE"
MAX_BYTES = 1 << 20  # an entry larger than this is not read (a report is a few KiB at most)
FORMAT = 1
FIELDS = ("problems", "listing", "runs", "warnings", "unverified", "agreed", "not_run", "line")
ENGINES = ("unicorn", "keystone-engine", "capstone", "ziglang")
GNU_TOOLS = ("as", "objcopy", "nm", "objdump")  # in the order gnu_asm_code looks for them
UNKEPT = ("cannot check:",)  # problems of a check cut short, not a verdict on the stub


def _engines() -> list[str]:
    from importlib import metadata

    out = []
    for name in ENGINES:
        try:
            out.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} absent")
    return out


def _where(path: str) -> str:
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as e:
        return f"{real}: {e}"
    return f"{real} {st.st_size} {st.st_mtime_ns}"


def real_tool(arch, kind: str) -> tuple[str, str | None]:
    """(identity, note): which real assembler a reference of kind ("go", "gnu") uses for
    arch, and the note the run gives where it is missing (references.py's)."""
    try:
        if kind == "go":
            return f"go {_where(tools.go_tool())}", None
        return "gnu " + " ".join(_where(tools.gnu_tool(arch, t)) for t in GNU_TOOLS), None
    except tools.ToolMissing as e:
        return f"{kind} missing: {e}", str(e)


class Verdicts:
    """The cache for one run: made once (the shared part of every key), then asked per stub."""

    def __init__(self, specs, tables: str | None, templates: str | None, kernel_abi: str | None,
                 real_tools: bool):
        self.on = cache.directory() is not None and os.environ.get(OFF, "") in ("", "0")
        self.notes: dict[tuple[str, str], str | None] = {}  # (arch, dialect) -> a missing real tool's note
        self.base = ""
        self._texts: dict[str, str] = {}
        if not self.on:
            return
        t = tables_mod.load(tables)
        parts = [f"format {FORMAT}", f"real tools {real_tools}", *_engines()]
        for arch_name, dialect in sorted({(s.arch, s.dialect) for _, s in specs}):
            try:
                arch = t.arch(arch_name)
                kind = dialects.dialect(dialect, templates).verify.get("reference") if real_tools else None
            except StubgenError:  # the check itself reports it
                continue
            parts.append(f"{arch_name}/{dialect} assemblers {sorted(backends(arch).items())}")
            if dialects.dialect(dialect, templates).verify.get("reader") == verify_rust.READER:
                parts.append(f"{arch_name}/{dialect} {verify_rust.compiler_identity()}")
            if kind:
                ident, self.notes[(arch_name, dialect)] = real_tool(arch, kind)
                parts.append(f"{arch_name}/{dialect} {ident}")
        files: list[Path] = []
        for root, only in ((tables, None), (tables_dir(), None), (templates, None), (templates_dir(), None),
                           (code_dir(), (".py", ".yaml", ".j2", ".rs"))):
            found = _files(Path(root).resolve(), only) if root and Path(root).is_dir() else []
            if found is None:  # too many files to hash on every run: no caching
                self.on = False
                return
            files += found
        if kernel_abi:
            files.append(Path(kernel_abi))
        roots = [r for r in (tables, tables_dir(), templates, templates_dir(), code_dir(), kernel_abi) if r]
        self.base = cache.key(parts + [f"tables {tables}", f"templates {templates}"], files, roots)

    def key(self, text: str, spec) -> str:
        # A file's text is every stub of the file: hashed once, not once per stub.
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = cache.digest(text.encode("utf-8", "surrogateescape"))
        return cache.key([self.base, repr(spec), found])

    def load(self, k: str, spec) -> tuple[Report, tuple] | None:
        """(Report, compared-with) stored under k, or None (missing, refused, corrupt)."""
        d = cache.directory()
        if not self.on or d is None or cache.private(d, create=False) is None:
            return None
        data = _read(d / KIND / f"{k}.json")
        try:
            found = json.loads(data) if data is not None else None
            if not isinstance(found, dict) or found.get("format") != FORMAT:
                return None
            r = found["report"]
            rep = Report(spec, **{f: r[f] for f in FIELDS})
            if not all(isinstance(getattr(rep, f), list) and all(isinstance(x, str) for x in getattr(rep, f))
                       for f in ("problems", "warnings", "unverified", "agreed", "not_run")) \
                    or not isinstance(rep.listing, str) or not isinstance(rep.runs, int) \
                    or not (rep.line is None or isinstance(rep.line, int)):
                return None
            compared = tuple(found["compared"])
            if not all(isinstance(x, str) for x in compared):
                return None
        except (ValueError, KeyError, TypeError):
            return None
        return rep, compared

    def store(self, k: str, rep: Report, compared) -> None:
        if not self.on or any(p.startswith(UNKEPT) for p in rep.problems):
            return
        d = cache.directory()
        if d is None or cache.private(d, create=True) is None:
            return
        value = {"format": FORMAT, "report": {f: getattr(rep, f) for f in FIELDS}, "compared": list(compared)}
        tmp = None
        try:
            (d / KIND).mkdir(mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d / KIND, prefix=f".{k}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f)
            os.replace(tmp, d / KIND / f"{k}.json")
            tmp = None
        except OSError:
            pass
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def prune(self) -> None:
        d = cache.directory()
        if self.on and d is not None:
            cache.prune(d / KIND, KEEP)


# Verdicts kept: a whole `generate --all` tree in every dialect and policy, twice over.
KEEP = 262144


def _read(path: Path) -> bytes | None:
    """An entry's bytes: a regular file, never through a link, at most MAX_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        import stat

        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
            return None
        data = os.read(fd, MAX_BYTES + 1)
        return data if len(data) <= MAX_BYTES else None
    except OSError:
        return None
    finally:
        os.close(fd)


def cached_verify(specs, verify, v: Verdicts, notes: set) -> Iterator[tuple[Report, tuple, bool]]:
    """(Report, compared-with, from the cache) for every (text, Spec), in order: hits
    from the cache, the rest from verify(misses) (an iterator of (Report, compared-with)
    in their order), each stored as it comes."""
    if not v.on:
        for rep, compared in verify(specs):
            yield rep, compared, False
        return
    keys = [v.key(text, spec) for text, spec in specs]
    found = [v.load(k, spec) for k, (_, spec) in zip(keys, specs)]
    misses = [i for i, f in enumerate(found) if f is None]
    made = iter(verify([specs[i] for i in misses]))
    for i, (k, f) in enumerate(zip(keys, found)):
        if f is None:
            rep, compared = next(made)
            v.store(k, rep, compared)
            yield rep, compared, False
        else:
            note = v.notes.get((specs[i][1].arch, specs[i][1].dialect))
            if note:
                notes.add(note)
            yield f[0], f[1], True
    if misses:
        v.prune()
