"""The programs run on the real kernel (natively or under qemu-user), and their output
judged per check: madvise's modes, the callee-saved registers, and the argument shapes."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from ...tables import policies
from .. import tools
from .cbuild import build_inline, run_cc
from .checks import FAIL, KERNEL_SYSCALL, PASS, PROGRAMS, SHAPES, SKIP, Result, guard, short
from .gobuild import build_go, shapes_module


def run_mode(binary: Path, arch, mode: str, tables=None):
    env = {"STUBGEN_CROSSCHECK_MODE": mode, "PATH": "/usr/bin:/bin"}
    return tools.run_program(binary, arch, tables=tables, env=env, timeout=120)


def _death(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit {rc}"


def judge(mode: str, policy: str, proc: subprocess.CompletedProcess, how: str) -> tuple[str, str]:
    lines = proc.stdout.splitlines()
    fails = [ln[5:] for ln in lines if ln.startswith("FAIL ")]
    passes = [ln[5:] for ln in lines if ln.startswith("PASS ")]
    where = f"[{how}] "
    if mode == "misaligned" and policy == "crash":
        if any(ln.startswith("survived") for ln in lines) or proc.returncode == 0:
            return FAIL, where + "the stub returned from a failing call: " + short(proc.stdout)
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), "")
        return PASS, where + f"died: {_death(proc.returncode)}" + (f" ({short(first, 80)})" if first else "")
    if any(ln.startswith("SKIP ") for ln in lines) and not passes and not fails:
        return SKIP, where + next(ln[5:] for ln in lines if ln.startswith("SKIP "))
    if proc.returncode != 0 or fails:
        detail = "; ".join(fails) or f"{_death(proc.returncode)}: {short(proc.stderr or proc.stdout)}"
        return FAIL, where + detail
    if mode == "misaligned" and not passes:
        return PASS, where + "returned (" + next((ln for ln in lines if ln.startswith("survived")), "") + ")"
    return PASS, where + "; ".join(passes)


def kernel_rows(dialect, arch, policy, sym, modes, tables, build) -> list[Result]:
    if sym is None:
        return [Result(f"kernel {m}", arch.name, dialect, SKIP,
                       f"no {KERNEL_SYSCALL} stub was generated (the kernel programs call {KERNEL_SYSCALL})", policy)
                for m in modes]
    built = guard("build", arch.name, dialect, policy, lambda: (PASS, str(build())))
    if built.status != PASS:
        return [Result(f"kernel {m}", arch.name, dialect, built.status, built.detail, policy, built.missing)
                for m in modes]
    binary = Path(built.detail)
    out = []
    for m in modes:
        def one(m=m):
            proc, how = run_mode(binary, arch, "callee" if m == "callee-saved" else m, tables)
            return judge(m, policy, proc, how)
        out.append(guard(f"kernel {m}", arch.name, dialect, policy, one))
    return out


def six_argument_mmap(t, arch) -> str | None:
    """The six-argument mmap the shapes program calls on arch (mmap2 first), or None
    (s390x's mmap is old_mmap, one pointer)."""
    return next((c for c in ("mmap2", "mmap") if t.available(arch, c) and len(t.signature(arch, c).args) == 6),
                None)


def shape_symbols(t, arch, entry: dict) -> tuple[dict, str]:
    """The -D definitions of shapes.c for one generated file, or why it cannot be built."""
    by_call = {s["syscall"]: s for s in entry["symbols"]}
    six = six_argument_mmap(t, arch)
    pair, exit_group = by_call.get("pread64"), by_call.get("exit_group")
    if not (six in by_call and pair and exit_group):
        if six is None:
            return {}, f"{arch.name} has no six-argument mmap or mmap2 (the shapes program needs one)"
        return {}, "needs stubs of pread64, a six-argument mmap or mmap2, and exit_group (generate --all)"
    sig = t.signature(arch, "pread64")
    # pread64's offset: one 64-bit argument (4 arguments), two 32-bit halves (5: i386's
    # sys_ia32_pread64), or a pad word and the halves (6: powerpc's sys_ppc_pread64, which
    # keeps the pair aligned); the halves in the architecture's byte order.
    n = len(sig.args)
    return {"SIX": by_call[six]["name"], "SIX_PGOFF": int(six == "mmap2"), "PAIR": pair["name"],
            "PAIR_HALVES": int(n >= 5), "PAIR_PAD": int(n == 6), "PAIR_HIGH_FIRST": int(arch.endian == "big"),
            "EXIT_GROUP": exit_group["name"]}, ""


def go_shapes(t, entry, arch, policy, pkg_src, package, checks, adir, tables) -> list[Result]:
    defs, why = shape_symbols(t, arch, entry)
    if why:
        return [Result(c, arch.name, "plan9", SKIP, why, policy) for c in checks]
    names = {"six": defs["SIX"], "pair": defs["PAIR"], "exit_group": defs["EXIT_GROUP"]}

    def build():
        tools.go_tool()
        mod = shapes_module(pkg_src, adir, package, arch.goarch, names)
        return PASS, str(build_go(mod, arch.goarch, adir / "shapes"))

    env = {"STUBGEN_SIX_PGOFF": str(defs["SIX_PGOFF"])}
    return _run_shapes("plan9", arch, policy, checks, build, env, tables)


def _run_shapes(dialect, arch, policy, checks, build, env, tables) -> list[Result]:
    """Build the shapes program once, run it once per check."""
    returns = policies.POLICIES[policy].returns
    built = guard("build", arch.name, dialect, policy, build)
    results = []
    for check in checks:
        if built.status != PASS:
            results.append(Result(check, arch.name, dialect, built.status, built.detail, policy, built.missing))
        elif check != "kernel noreturn" and not returns:
            results.append(Result(check, arch.name, dialect, SKIP, f"policy {policy} returns no result to check",
                                  policy))
        else:
            def one(check=check):
                mode = SHAPES[check]
                proc, how = tools.run_program(Path(built.detail), arch, tables=tables, timeout=120, env={
                    "STUBGEN_CROSSCHECK_MODE": mode, "PATH": "/usr/bin:/bin", **env})
                return judge(mode, policy, proc, how)
            results.append(guard(check, arch.name, dialect, policy, one))
    return results


def gnu_shapes(g, t, entry, arch, policy, asm, header, checks, adir, tables) -> list[Result]:
    defs, why = shape_symbols(t, arch, entry)
    if why:
        return [Result(c, arch.name, "gnu", SKIP, why, policy) for c in checks]
    returns = policies.POLICIES[policy].returns

    def build():
        if header is None:
            raise tools.ToolFailed("no generated C header in the manifest")
        cc = tools.c_compiler(arch, tables)
        out = adir / "shapes"
        obj = tools.c_assemble(asm, arch, out.with_suffix(".o"), tables)
        handler = g.options.get("errno_handler", "stubgen_errno")
        cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-D_FILE_OFFSET_BITS=64",
               "-include", str(header), *(f"-D{k}={v}" for k, v in defs.items()),
               f"-DSTUB_RETURNS={int(returns)}", f"-DPOLICY_ERRNO={int(policy == 'errno')}",
               f"-DERRNO_HANDLER={handler}", "-o", str(out), str(PROGRAMS / "shapes.c"), str(obj)]
        run_cc(cmd, arch, tables)
        return PASS, str(out)

    return _run_shapes("gnu", arch, policy, checks, build, {}, tables)


def c_shapes(g, t, entry, arch, policy, header, checks, adir, tables) -> list[Result]:
    """The shapes program around the C dialect's header of arch: the same checks as the
    GNU stubs', the wrappers inlined by the compiler."""
    defs, why = shape_symbols(t, arch, entry)
    if why:
        return [Result(c, arch.name, "c", SKIP, why, policy) for c in checks]
    returns = policies.POLICIES[policy].returns
    defs = {**defs, "STUB_RETURNS": int(returns), "POLICY_ERRNO": int(policy == "errno"),
            "ERRNO_HANDLER": "stubgen_unused_errno_handler"}
    return _run_shapes("c", arch, policy, checks,
                       lambda: (PASS, str(build_inline(header, "shapes.c", defs, arch, adir / "shapes", tables))),
                       {}, tables)
