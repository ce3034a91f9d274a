"""The kernel rows of a dialect whose files are compiled into C-ABI callers (Zig's, Rust's):
the same programs as the C rows (madvise.c's valid call and error path; shapes.c's six
arguments, 64-bit pair and noreturn), calling stubgen_plain_K, an exported caller of each
wrapper that the dialect's compiler inlines it into. The architecture's C compiler links
the program around the callers' object (or zig cc for engines.cc.zig_link's target, whose
C library has the ABI of LLVM's objects); it runs natively or under qemu-user. What
differs between dialects is only how the callers' object is built: a builder."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ...tables import policies
from ...verifier import llvm
from ...verifier.conventions import c_long_bytes
from .. import tools
from ..frontend import Wrapper
from .cbuild import run_cc
from .checks import KERNEL_SYSCALL, PASS, PROGRAMS, SHAPES, SKIP, Result
from .generated import file_jobs
from .kernelrun import _run_shapes, kernel_rows, shape_symbols

# (the dialect's file, its wrappers, the architecture) -> the callers' object (bytes);
# each wrapper's own 64-bit parameters (Wrapper.wide) are taken whole, as a long long.
Builder = Callable[[Path, list[Wrapper], object], bytes]
# the architecture -> the zig cc target that links the program around the callers' object
# (a C library with that object's ABI), or None: the architecture's C compiler.
Linker = Callable[[object], "str | None"]


def zig_link(arch) -> str | None:
    """The tables' engines.cc.zig_link: where the architecture's C compiler's ABI is not
    that of LLVM's objects (ppc64: ELF V1 against V2)."""
    return (arch.engines.cc or {}).get("zig_link")


def _callers(t, arch, source: Path, names: dict[str, str], returns: bool, work: Path,
             build_object: Builder) -> dict[str, str]:
    """{wrapper: its C-ABI caller} for the wrappers names ({wrapper: syscall}) of source:
    an object of callers compiled for arch (work/callers.o) and a C header declaring
    them (work/callers.h), each parameter a long, a 64-bit one a long long."""
    wrappers, decls = [], []
    for k, (name, call) in enumerate(names.items()):
        args = [p for p in t.signature(arch, call).args if p.role != "number"]
        # wider than C's long (a register, or 4 bytes on x32 and n32): a long long
        wide = tuple(i for i, p in enumerate(args) if p.type.bytes(arch) > c_long_bytes(arch))
        wrappers.append(Wrapper(name, None, len(args), number_first=False, returns=returns, wide=wide))
        params = ", ".join("long long" if i in wide else "long" for i in range(len(args))) or "void"
        decls.append(f"long stubgen_plain_{k}({params});")
    (work / "callers.o").write_bytes(build_object(source, wrappers, arch))
    (work / "callers.h").write_text("/* the wrappers' C-ABI callers (callersrun.py) */\n" + "\n".join(decls) + "\n")
    return {name: f"stubgen_plain_{k}" for k, name in enumerate(names)}


def _build(program: str, defines: dict, arch, work: Path, out: Path, tables, link: str | None) -> Path:
    """The test program, statically linked with the callers' object (by zig cc for link's
    target, or the architecture's C compiler). Its calls pass pointers to long
    parameters: -Wno-int-conversion, every other warning an error."""
    cc = tools.c_compiler(arch, tables) if not link else [str(llvm.zig()), "cc", "-target", link]
    cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-Wno-int-conversion", "-D_FILE_OFFSET_BITS=64",
           "-include", str(work / "callers.h"), *(f"-D{k}={v}" for k, v in defines.items()), "-o", str(out),
           str(PROGRAMS / program), str(work / "callers.o")]
    run_cc(cmd, arch, tables, env=llvm.env() if link else None)  # zig's caches, as for its other runs
    return out


def callers_tasks(dialect: str, build_object: Builder, g, t, wanted, work: Path, tables, linker: Linker = zig_link):
    """One task per file of dialect in the generated directory g."""
    tasks = []
    for job in file_jobs(g, t, dialect, work):
        def task(job=job):
            arch, policy, source, sym, adir, entry = job
            adir.mkdir(parents=True, exist_ok=True)
            returns = policies.POLICIES[policy].returns
            out = []
            modes = [m for m in ("valid", "misaligned") if f"kernel {m}" in wanted]
            if modes:
                def build():
                    d = adir / "madvise.d"
                    d.mkdir(exist_ok=True)
                    stub = _callers(t, arch, source, {sym["name"]: KERNEL_SYSCALL}, returns, d,
                                    build_object)[sym["name"]]
                    defs = {"STUB": stub, "STUB_RETURNS": int(returns), "POLICY_ERRNO": 0,
                            "ERRNO_HANDLER": "stubgen_unused_errno_handler", "STUB_INLINE": 1}
                    return _build("madvise.c", defs, arch, d, adir / "madvise", tables, linker(arch))
                out += kernel_rows(dialect, arch, policy, sym, modes, tables, build)
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                defs, why = shape_symbols(t, arch, entry)
                if why:
                    out += [Result(c, arch.name, dialect, SKIP, why, policy) for c in shapes]
                else:
                    by_name = {s["name"]: s["syscall"] for s in entry["symbols"]}

                    def build_shapes(defs=defs):
                        d = adir / "shapes.d"
                        d.mkdir(exist_ok=True)
                        names = {defs[k]: by_name[defs[k]] for k in ("SIX", "PAIR", "EXIT_GROUP")}
                        callers = _callers(t, arch, source, names, returns, d, build_object)
                        full = {**defs, **{k: callers[defs[k]] for k in ("SIX", "PAIR", "EXIT_GROUP")},
                                "STUB_RETURNS": int(returns), "POLICY_ERRNO": 0,
                                "ERRNO_HANDLER": "stubgen_unused_errno_handler"}
                        # the callers take the offset whole: the halves are the wrapper's to split
                        full["PAIR_HALVES"] = int(len(t.signature(arch, "pread64").args) >= 5)
                        return PASS, str(_build("shapes.c", full, arch, d, adir / "shapes", tables, linker(arch)))
                    out += _run_shapes(dialect, arch, policy, shapes, build_shapes, {}, tables)
            return out

        tasks.append(task)
    return tasks
