"""`stubgen crosscheck DIR`: every check on a generated directory, as rows in a stable
order; the checks of one file run together, files side by side."""
from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ... import tables as tables_mod
from ...errors import StubgenError
from ...tables import policies
from .. import tools
from .cbuild import build_c, build_inline, link_c
from .checks import CHECKS, FAIL, KERNEL_SYSCALL, PASS, SHAPES, Result, guard, short
from .generated import Generated, every_symbol, file_jobs, load, policy_of, symbol_of
from .gobuild import build_go, go_module, go_vet, vet_catches
from .kernelrun import c_shapes, gnu_shapes, go_shapes, kernel_rows
from .rustrun import rust_tasks
from .zigrun import zig_tasks


def run(directory, tables=None, checks=None, jobs: int = 2, work=None) -> list[Result]:
    """Every check on the stubs in directory, as Results in a stable order."""
    g = load(directory)
    t = tables_mod.load(tables)
    wanted = set(checks or CHECKS)
    unknown = wanted - set(CHECKS)
    if unknown:
        raise StubgenError(f"unknown check {sorted(unknown)[0]!r}; valid: {', '.join(CHECKS)}")
    own_work = work is None
    work = Path(tempfile.mkdtemp(prefix="stubgen-crosscheck-")) if own_work else Path(work)
    tasks = []  # (order, callable returning a list of Results)
    try:
        tasks += _plan9_tasks(g, t, wanted, work, tables)
        tasks += _gnu_tasks(g, t, wanted, work, tables)
        tasks += _c_tasks(g, t, wanted, work, tables)
        tasks += zig_tasks(g, t, wanted, work, tables)
        tasks += rust_tasks(g, t, wanted, work, tables)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
            futures = [ex.submit(fn) for fn in tasks]
            results = [r for f in futures for r in f.result()]
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    order = {c: i for i, c in enumerate(CHECKS)}
    return sorted(results, key=lambda r: (order[r.check], r.dialect, r.arch))


def _plan9_tasks(g: Generated, t, wanted, work: Path, tables):
    files = g.asm_files("plan9")
    pkg_src = g.dialect_dir("plan9")
    if not files or pkg_src is None:
        return []
    package = g.options.get("go_package", "stubs")
    tasks = []
    for entry in files:
        arch = t.arch(entry["arch"])
        policy = policy_of(entry)
        asm_name = Path(entry["path"]).name
        sym = symbol_of(entry, KERNEL_SYSCALL)
        adir = work / f"go-{arch.name}"

        def task(arch=arch, policy=policy, asm_name=asm_name, sym=sym, adir=adir, entry=entry):
            out = []
            adir.mkdir(parents=True, exist_ok=True)
            returns = policies.POLICIES[policy].returns
            mod_holder = {}

            def module():
                if "m" not in mod_holder:
                    tools.go_tool()
                    mod_holder["m"] = go_module(pkg_src, adir, package, sym and sym["name"], returns)
                return mod_holder["m"]

            def vet():
                r = go_vet(module() / "stubs", arch.goarch)
                if r.returncode:
                    return FAIL, short(r.stdout + r.stderr)
                return PASS, f"GOARCH={arch.goarch}"

            def asm():
                syms = tools.go_asm_bytes(module() / "stubs" / asm_name, arch, tables=tables)
                return every_symbol(entry, syms, "in the listing")

            if "go vet" in wanted:
                out.append(guard("go vet", arch.name, "plan9", policy, vet))
            if "go vet catches" in wanted:
                out.append(guard("go vet catches", arch.name, "plan9", policy,
                                  lambda: vet_catches(module() / "stubs", asm_name, arch.goarch, adir)))
            if "go asm" in wanted:
                out.append(guard("go asm", arch.name, "plan9", policy, asm))
            modes = [m for m in ("valid", "misaligned") if f"kernel {m}" in wanted]
            if modes:
                out += kernel_rows("plan9", arch, policy, sym, modes, tables,
                               lambda: build_go(module(), arch.goarch, adir / "madvise"))
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                out += go_shapes(t, entry, arch, policy, pkg_src, package, shapes, adir, tables)
            return out

        tasks.append(task)
    return tasks


def _gnu_tasks(g: Generated, t, wanted, work: Path, tables):
    tasks = []
    header = g.header()
    for job in file_jobs(g, t, "gnu", work):
        def task(job=job):
            arch, policy, asm, sym, adir, entry = job
            adir.mkdir(parents=True, exist_ok=True)
            out = []

            def gas():
                return every_symbol(entry, tools.gnu_asm_bytes(asm, arch, tables=tables), "in .text")

            if "gnu as" in wanted:
                out.append(guard("gnu as", arch.name, "gnu", policy, gas))
            if "gnu link" in wanted:
                handler = g.options.get("errno_handler", "stubgen_errno")
                out.append(guard("gnu link", arch.name, "gnu", policy,
                                  lambda: link_c(asm, g.c_headers(arch.name), arch, handler, adir, tables)))
            if "llvm as" in wanted and arch.engines.llvm:
                out.append(guard("llvm as", arch.name, "gnu", policy,
                                  lambda: tools.llvm_agrees_with_gnu(asm, arch, entry, tables)))
            modes = [m for m in ("valid", "misaligned", "callee-saved") if f"kernel {m}" in wanted]
            if modes:
                def build():
                    if header is None:
                        raise tools.ToolFailed("no generated C header in the manifest")
                    return build_c(asm, header, arch, sym["name"], policy,
                                   g.options.get("errno_handler", "stubgen_errno"), adir / "madvise", tables)
                out += kernel_rows("gnu", arch, policy, sym, modes, tables, build)
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                out += gnu_shapes(g, t, entry, arch, policy, asm, header, shapes, adir, tables)
            return out

        tasks.append(task)
    return tasks


def _c_tasks(g: Generated, t, wanted, work: Path, tables):
    """The C dialect's headers (-d c): madvise's valid call and error path, and the shapes
    (six arguments, a 64-bit pair, noreturn), each a program that includes the header.
    No callee-saved row: that program calls the stub's symbol from assembly, and an
    inline wrapper has none (the compiler saves what the asm declares clobbered)."""
    tasks = []
    for job in file_jobs(g, t, "c", work):
        def task(job=job):
            arch, policy, header, sym, adir, entry = job
            adir.mkdir(parents=True, exist_ok=True)
            out = []
            modes = [m for m in ("valid", "misaligned") if f"kernel {m}" in wanted]
            if modes:
                def build():
                    defs = {"STUB": sym["name"], "STUB_RETURNS": int(policies.POLICIES[policy].returns),
                            "POLICY_ERRNO": int(policy == "errno"), "ERRNO_HANDLER": "stubgen_unused_errno_handler",
                            "STUB_INLINE": 1}
                    return build_inline(header, "madvise.c", defs, arch, adir / "madvise", tables)
                out += kernel_rows("c", arch, policy, sym, modes, tables, build)
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                out += c_shapes(g, t, entry, arch, policy, header, shapes, adir, tables)
            return out

        tasks.append(task)
    return tasks
