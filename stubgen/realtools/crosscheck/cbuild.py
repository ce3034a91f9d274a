"""C programs around the GNU stubs: built and linked by the architecture's C compiler
(GNU, or LLVM where the tables say), into a shared object and a PIE, or a static test
program."""
from __future__ import annotations

import subprocess
from pathlib import Path

from ...tables import policies
from .. import tools
from .checks import FAIL, PASS, PROGRAMS


def run_cc(cmd: list, arch, tables=None, warnings_fail: bool = False, env=None) -> subprocess.CompletedProcess:
    """Run the C compiler (cmd starts with tools.c_compiler's command, or env's: zig
    cc's); a missing C library is a missing tool, any other refusal (or, with
    warnings_fail, any word on stderr) a failure."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300,
                       env=env or tools.c_env(arch, tables))
    msg, name = (r.stderr or r.stdout).strip(), Path(cmd[0]).name
    if r.returncode != 0 and ("cannot find -lc" in msg or "crt1.o" in msg or "stdio.h" in msg
                              or "sys/syscall.h: No such file" in msg):
        raise tools.ToolMissing(f"the C library for {name}", tools.gcc_package(arch, tables))
    if r.returncode != 0 or (warnings_fail and r.stderr.strip()):
        raise tools.ToolFailed(f"{name}: {msg}")
    return r


def link_c(asm: Path, headers: list[Path], arch, errno_handler: str, work: Path, tables=None) -> tuple[str, str]:
    """(status, detail): the stubs linked -shared and -pie with a PIC C unit that includes
    <sys/syscall.h> and every generated header; a warning or a TEXTREL fails."""
    cc = tools.c_compiler(arch, tables)
    obj = tools.c_assemble(asm, arch, work / "stubs.o", tables)
    unit = work / "link_unit.o"
    # <sys/syscall.h> first, as a program would: a macro the generated headers define
    # again is then reported in them (GCC says nothing about a system header's own).
    source = work / "link_unit.c"
    source.write_text("".join(f'#include {h}\n' for h in
                              ["<sys/syscall.h>", *(f'"{p.resolve()}"' for p in headers),
                               f'"{(PROGRAMS / "link.c").resolve()}"']))
    run_cc([*cc, "-c", "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
         f"-DERRNO_HANDLER={errno_handler}", "-o", unit, source], arch, tables, True)
    done = []
    for kind, flags in (("-shared", ["-shared"]), ("-pie", ["-fPIE", "-pie"])):
        out = work / f"link{kind}"
        run_cc([*cc, *flags, *tools.c_text_flags(arch, tables), "-o", out, unit, obj], arch, tables, True)
        if tools.has_textrel(out, arch, tables):
            return FAIL, f"{kind}: the output has DT_TEXTREL"
        done.append(kind)
    return PASS, f"{' and '.join(done)}: no warning, no TEXTREL ({len(headers)} headers with <sys/syscall.h>)"


def build_inline(header: Path, program: str, defines: dict, arch, out: Path, tables=None) -> Path:
    """Statically link one of the test programs around a header of inline wrappers (the
    C dialect: no stub object, the wrappers are compiled into the program), with every
    warning an error."""
    cc = tools.c_compiler(arch, tables)
    cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-D_FILE_OFFSET_BITS=64", "-include", str(header),
           *(f"-D{k}={v}" for k, v in defines.items()), "-o", str(out), str(PROGRAMS / program)]
    run_cc(cmd, arch, tables)
    return out


def build_c(asm: Path, header: Path, arch, symbol: str, policy: str, errno_handler: str, out: Path,
            tables=None) -> Path:
    """Statically link the test program with the stub, assembled on its own (GNU as, or
    LLVM where the tables name no GNU tools)."""
    cc = tools.c_compiler(arch, tables)
    obj = tools.c_assemble(asm, arch, out.with_suffix(".o"), tables)
    returns = int(policies.POLICIES[policy].returns)
    cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-include", str(header),
           f"-DSTUB={symbol}", f"-DSTUB_RETURNS={returns}", f"-DPOLICY_ERRNO={int(policy == 'errno')}",
           f"-DERRNO_HANDLER={errno_handler}", "-o", str(out), str(PROGRAMS / "madvise.c"), str(obj)]
    run_cc(cmd, arch, tables)
    return out
