"""`stubgen crosscheck DIR`: check generated stubs with real tools — go vet and Go's
assembler, GNU as, and the running kernel (natively, or under qemu-user where
this kernel cannot run an architecture's binaries).

Checks, each one row per architecture and dialect:
  go vet            the Plan 9 package passes go vet (asmdecl) for the GOARCH
  go vet catches    vet reports a wrong frame size and a wrong FP offset (so a pass means something)
  go asm            go tool asm assembles every Plan 9 stub
  gnu as            the cross as assembles every GNU stub with --fatal-warnings
  gnu link          the stubs link into a shared library (-shared) and a PIE (-pie) beside a C unit
                    that includes <sys/syscall.h> and every generated header: no warning, no TEXTREL
  llvm as           LLVM's assembler (where the tables name an llvm target) assembles the GNU
                    file and every stub's bytes equal GNU as's: two assemblers nobody here wrote
  kernel valid      a program maps 64 MiB, touches it, calls the madvise stub with
                    MADV_DONTNEED: result 0, RSS drops by 60 MiB, the pages read back zero
  kernel misaligned the stub on a misaligned address: -22 (raw), -1 and errno 22 (errno),
                    the process dies (crash), it returns (ignore)
  kernel callee-saved (C) known values in every callee-saved register survive the call
  kernel six args   a six-argument mmap (mmap2 where the table has it) maps page 1 of a
                    file: the fifth and sixth arguments arrive (on the stack on i386 and arm)
  kernel pair       pread64 at 4 GiB + 0x1230 reads back a marker: both halves of the
                    64-bit offset arrive (two u32 on i386, an even register pair on arm)
  kernel noreturn   a forked child calls exit_group(42); the parent sees exit status 42
                    (the three shape checks run the Plan 9 stubs from a Go program too)
"""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import policies, realtools, render
from . import tables as tables_mod
from .errors import StubgenError

PROGRAMS = Path(__file__).parent / "crosscheck_programs"
KERNEL_SYSCALL = "madvise"
PASS, FAIL, SKIP = "pass", "FAIL", "skip"
CHECKS = ("go vet", "go vet catches", "go asm", "gnu as", "gnu link", "llvm as", "kernel valid", "kernel misaligned",
          "kernel callee-saved", "kernel six args", "kernel pair", "kernel noreturn")
# The argument shapes, by the syscalls that have them and the mode of shapes.c.
SHAPES = {"kernel six args": "six", "kernel pair": "pair", "kernel noreturn": "noreturn"}


@dataclass
class Result:
    check: str
    arch: str
    dialect: str
    status: str
    detail: str = ""
    policy: str = ""
    missing: str = ""  # the package to install, when skipped for a missing tool


@dataclass
class Generated:
    """What manifest.json says a generated directory holds."""

    root: Path
    options: dict
    files: list

    def asm_files(self, dialect: str) -> list[dict]:
        return [f for f in self.files if f["dialect"] == dialect and f.get("arch") and f["symbols"]]

    def dialect_dir(self, dialect: str) -> Path | None:
        for f in self.files:
            if f["dialect"] == dialect:
                return self.root / Path(f["path"]).parent
        return None

    def c_headers(self, arch: str) -> list[Path]:
        """Every generated C header an architecture's program may include: the shared ones
        (prototypes, the umbrella) and the architecture's own."""
        return [self.root / f["path"] for f in self.files
                if f["dialect"] == "gnu" and f["path"].endswith(".h") and f.get("arch") in (None, arch)]

    def header(self) -> Path | None:
        for f in self.files:
            if f["dialect"] == "gnu" and f["path"].endswith(".h"):
                return self.root / f["path"]
        return None


def load(directory) -> Generated:
    """The manifest through the one checked, confined reader (inputs.read_manifest)."""
    from .inputs import read_manifest

    m = read_manifest(directory)
    files = [dict(f, symbols=f.get("symbols", [])) for f in m["files"]]
    return Generated(Path(directory), dict(m.get("options", {})), files)


def _symbol(entry: dict, syscall: str) -> dict | None:
    return next((s for s in entry["symbols"] if s["syscall"] == syscall), None)


def _guard(check, arch, dialect, policy, fn) -> Result:
    """Run one check; a missing tool is a skip, a tool's refusal a failure."""
    try:
        status, detail = fn()
        return Result(check, arch, dialect, status, detail, policy)
    except realtools.ToolMissing as e:
        return Result(check, arch, dialect, SKIP, str(e), policy, e.package)
    except (realtools.ToolFailed, subprocess.TimeoutExpired) as e:
        return Result(check, arch, dialect, FAIL, _short(str(e)), policy)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- Go -----------------------------------------------------------------------------

GO_MODULE = "crosscheck"
_WRAPPER = """// Added by stubgen crosscheck: an exported way in for the test program.

package {package}

import "unsafe"

func StubgenCrosscheckMadvise(addr unsafe.Pointer, n uintptr, flags int32) (int32, bool) {{
{body}
}}
"""


def go_module(plan9_dir: Path, work: Path, package: str, symbol: str | None, returns: bool) -> Path:
    """A module holding the generated package as ./stubs and, when the package has a
    madvise stub (symbol: its Go name, from the manifest), the kernel test program and
    the wrapper it calls; without one, the package alone (vet and asm still apply)."""
    mod = _fresh_module(plan9_dir, work / "gomod")
    pkg = mod / "stubs"
    if symbol is not None:
        call = f"{symbol}(addr, n, flags)"
        body = f"\treturn {call}, true" if returns else f"\t{call}\n\treturn 0, false"
        (pkg / "zz_crosscheck_export.go").write_text(_WRAPPER.format(package=package, body=body))
        shutil.copy(PROGRAMS / "madvise_main.go", mod / "main.go")
    return mod


def _fresh_module(plan9_dir: Path, mod: Path) -> Path:
    """mod, emptied, holding go.mod and the generated package as ./stubs."""
    if mod.exists():
        shutil.rmtree(mod)
    _copy_package(plan9_dir, mod / "stubs")
    (mod / "go.mod").write_text(f"module {GO_MODULE}\n\ngo 1.21\n")
    return mod


def _copy_package(src: Path, dst: Path):
    """The package's own files, read through the confined reader (regular files inside
    src, bounded in size), its assembly checked like any text a real tool is given:
    go vet and go build preprocess .s files, and #include could read any file."""
    import fnmatch

    from . import inputs

    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if any(fnmatch.fnmatch(f.name, pat) for pat in ("go.mod", "go.sum", "*_test.go")):
            continue
        if f.suffix not in (".go", ".s", ".h") or f.is_dir():
            continue
        data = inputs.read_bytes(f, [src], what="package file")
        if f.suffix == ".s":
            realtools.check_go_source(data.decode("utf-8", errors="replace"), f.name)
        (dst / f.name).write_bytes(data)


_SHAPES_WRAPPER = """// Added by stubgen crosscheck: the stubs of other argument shapes, for the test program.

package {package}

func ShapeSix() any       {{ return {six} }}
func ShapePair() any      {{ return {pair} }}
func ShapeExitGroup() any {{ return {exit_group} }}
"""


def shapes_module(plan9_dir: Path, work: Path, package: str, goarch: str, names: dict) -> Path:
    """A module holding the generated package as ./stubs, the functions of each shape
    exported for goarch, and the shapes test program."""
    mod = _fresh_module(plan9_dir, work / "gomod-shapes")
    pkg = mod / "stubs"
    (pkg / f"zz_crosscheck_shapes_{goarch}.go").write_text(_SHAPES_WRAPPER.format(package=package, **names))
    shutil.copy(PROGRAMS / "shapes_main.go", mod / "main.go")
    return mod


def go(args, cwd: Path, goarch: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([realtools.go_tool(), *args], cwd=cwd, env=realtools.go_env(goarch),
                          capture_output=True, text=True, timeout=timeout)


def go_vet(pkg_dir: Path, goarch: str) -> subprocess.CompletedProcess:
    return go(["vet", "."], pkg_dir, goarch)


def vet_mutants(asm_text: str) -> dict[str, str]:
    """Two broken copies of a Plan 9 file: the first TEXT's argument size off by one
    word, and the first named FP slot's offset off by one word."""
    out = {}
    frame = re.compile(r"^(TEXT\s[^\n]*\$-?\d+-)(\d+)", re.M)
    m = frame.search(asm_text)
    if m:
        out["wrong frame size"] = asm_text[:m.start(2)] + str(int(m[2]) + 4) + asm_text[m.end(2):]
    slot = re.compile(r"\b([A-Za-z_]\w*)\+(\d+)\(FP\)")
    m = slot.search(asm_text)
    if m:
        out["wrong FP offset"] = asm_text[:m.start(2)] + str(int(m[2]) + 4) + asm_text[m.end(2):]
    return out


def vet_catches(pkg_dir: Path, asm_name: str, goarch: str, work: Path) -> tuple[str, str]:
    """(status, detail): does go vet report each mutant of asm_name?"""
    text = (pkg_dir / asm_name).read_text(encoding="utf-8")
    mutants = vet_mutants(text)
    if len(mutants) < 2:
        return FAIL, "no TEXT frame size or named FP slot to break"
    missed: list[str] = []
    seen: list[str] = []
    for what, mtext in mutants.items():
        d = work / f"vet-{goarch}-{what.replace(' ', '-')}"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(pkg_dir, d)
        (d / asm_name).write_text(mtext, encoding="utf-8")
        if not (d / "go.mod").exists():
            (d / "go.mod").write_text("module example.com/vetmutant\n\ngo 1.21\n")
        r = go_vet(d, goarch)
        msg = _vet_message(r.stdout + r.stderr, asm_name)
        (seen if r.returncode != 0 and msg else missed).append(f"{what}: {msg or 'not reported'}")
    return (FAIL, "; ".join(missed)) if missed else (PASS, "; ".join(seen))


def _vet_message(text: str, asm_name: str) -> str:
    for line in text.splitlines():
        if asm_name in line and ": " in line:
            return line.split(": ", 1)[1].strip()
    return ""


def build_go(module: Path, goarch: str, out: Path) -> Path:
    r = go(["build", "-o", str(out), "."], module, goarch)
    if r.returncode != 0:
        raise realtools.ToolFailed(f"go build GOARCH={goarch}: {(r.stderr or r.stdout).strip()}")
    return out


# --- C ------------------------------------------------------------------------------

def _cc(cmd: list, arch, tables=None, warnings_fail: bool = False) -> subprocess.CompletedProcess:
    """Run the C compiler (cmd starts with realtools.c_compiler's command); a missing C
    library is a missing tool, any other refusal (or, with warnings_fail, any word on
    stderr) a failure."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300,
                       env=realtools.c_env(arch, tables))
    msg, name = (r.stderr or r.stdout).strip(), Path(cmd[0]).name
    if r.returncode != 0 and ("cannot find -lc" in msg or "crt1.o" in msg or "stdio.h" in msg
                              or "sys/syscall.h: No such file" in msg):
        raise realtools.ToolMissing(f"the C library for {name}", realtools.gcc_package(arch, tables))
    if r.returncode != 0 or (warnings_fail and r.stderr.strip()):
        raise realtools.ToolFailed(f"{name}: {msg}")
    return r


def link_c(asm: Path, headers: list[Path], arch, errno_handler: str, work: Path, tables=None) -> tuple[str, str]:
    """(status, detail): the stubs linked -shared and -pie with a PIC C unit that includes
    <sys/syscall.h> and every generated header; a warning or a TEXTREL fails."""
    cc = realtools.c_compiler(arch, tables)
    obj = realtools.c_assemble(asm, arch, work / "stubs.o", tables)
    unit = work / "link_unit.o"
    # <sys/syscall.h> first, as a program would: a macro the generated headers define
    # again is then reported in them (GCC says nothing about a system header's own).
    source = work / "link_unit.c"
    source.write_text("".join(f'#include {h}\n' for h in
                              ["<sys/syscall.h>", *(f'"{p.resolve()}"' for p in headers),
                               f'"{(PROGRAMS / "link.c").resolve()}"']))
    _cc([*cc, "-c", "-fPIC", "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
         f"-DERRNO_HANDLER={errno_handler}", "-o", unit, source], arch, tables, True)
    done = []
    for kind, flags in (("-shared", ["-shared"]), ("-pie", ["-fPIE", "-pie"])):
        out = work / f"link{kind}"
        _cc([*cc, *flags, *realtools.c_text_flags(arch, tables), "-o", out, unit, obj], arch, tables, True)
        if realtools.has_textrel(out, arch, tables):
            return FAIL, f"{kind}: the output has DT_TEXTREL"
        done.append(kind)
    return PASS, f"{' and '.join(done)}: no warning, no TEXTREL ({len(headers)} headers with <sys/syscall.h>)"


def build_c(asm: Path, header: Path, arch, symbol: str, policy: str, errno_handler: str, out: Path,
            tables=None) -> Path:
    """Statically link the test program with the stub, assembled on its own (GNU as, or
    LLVM where the tables name no GNU tools)."""
    cc = realtools.c_compiler(arch, tables)
    obj = realtools.c_assemble(asm, arch, out.with_suffix(".o"), tables)
    returns = int(policies.POLICIES[policy].returns)
    cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-include", str(header),
           f"-DSTUB={symbol}", f"-DSTUB_RETURNS={returns}", f"-DPOLICY_ERRNO={int(policy == 'errno')}",
           f"-DERRNO_HANDLER={errno_handler}", "-o", str(out), str(PROGRAMS / "madvise.c"), str(obj)]
    _cc(cmd, arch, tables)
    return out


# --- running and judging --------------------------------------------------------------

def run_mode(binary: Path, arch, mode: str, tables=None):
    env = {"STUBGEN_CROSSCHECK_MODE": mode, "PATH": "/usr/bin:/bin"}
    return realtools.run_program(binary, arch, tables=tables, env=env, timeout=120)


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
            return FAIL, where + "the stub returned from a failing call: " + _short(proc.stdout)
        first = next((ln for ln in proc.stderr.splitlines() if ln.strip()), "")
        return PASS, where + f"died: {_death(proc.returncode)}" + (f" ({_short(first, 80)})" if first else "")
    if any(ln.startswith("SKIP ") for ln in lines) and not passes and not fails:
        return SKIP, where + next(ln[5:] for ln in lines if ln.startswith("SKIP "))
    if proc.returncode != 0 or fails:
        detail = "; ".join(fails) or f"{_death(proc.returncode)}: {_short(proc.stderr or proc.stdout)}"
        return FAIL, where + detail
    if mode == "misaligned" and not passes:
        return PASS, where + "returned (" + next((ln for ln in lines if ln.startswith("survived")), "") + ")"
    return PASS, where + "; ".join(passes)


# --- the whole run ------------------------------------------------------------------------

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
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
            futures = [ex.submit(fn) for fn in tasks]
            results = [r for f in futures for r in f.result()]
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    order = {c: i for i, c in enumerate(CHECKS)}
    return sorted(results, key=lambda r: (order[r.check], r.dialect, r.arch))


def _policy(entry: dict) -> str:
    """The policy the file was generated with (not one the tables impose on some calls)."""
    return next((s.get("policy") for s in entry["symbols"] if s.get("policy", policies.DEFAULT) in policies.CHOSEN),
                policies.DEFAULT)


def _plan9_tasks(g: Generated, t, wanted, work: Path, tables):
    files = g.asm_files("plan9")
    pkg_src = g.dialect_dir("plan9")
    if not files or pkg_src is None:
        return []
    package = g.options.get("go_package", "stubs")
    tasks = []
    for entry in files:
        arch = t.arch(entry["arch"])
        policy = _policy(entry)
        asm_name = Path(entry["path"]).name
        sym = _symbol(entry, KERNEL_SYSCALL)
        adir = work / f"go-{arch.name}"

        def task(arch=arch, policy=policy, asm_name=asm_name, sym=sym, adir=adir, entry=entry):
            out = []
            adir.mkdir(parents=True, exist_ok=True)
            returns = policies.POLICIES[policy].returns
            mod_holder = {}

            def module():
                if "m" not in mod_holder:
                    realtools.go_tool()
                    mod_holder["m"] = go_module(pkg_src, adir, package, sym and sym["name"], returns)
                return mod_holder["m"]

            def vet():
                r = go_vet(module() / "stubs", arch.goarch)
                if r.returncode:
                    return FAIL, _short(r.stdout + r.stderr)
                return PASS, f"GOARCH={arch.goarch}"

            def asm():
                syms = realtools.go_asm_bytes(module() / "stubs" / asm_name, arch, tables=tables)
                return _every_symbol(entry, syms, "in the listing")

            if "go vet" in wanted:
                out.append(_guard("go vet", arch.name, "plan9", policy, vet))
            if "go vet catches" in wanted:
                out.append(_guard("go vet catches", arch.name, "plan9", policy,
                                  lambda: vet_catches(module() / "stubs", asm_name, arch.goarch, adir)))
            if "go asm" in wanted:
                out.append(_guard("go asm", arch.name, "plan9", policy, asm))
            modes = [m for m in ("valid", "misaligned") if f"kernel {m}" in wanted]
            if modes:
                out += _kernel("plan9", arch, policy, sym, modes, tables,
                               lambda: build_go(module(), arch.goarch, adir / "madvise"))
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                out += _go_shapes(t, entry, arch, policy, pkg_src, package, shapes, adir, tables)
            return out

        tasks.append(task)
    return tasks


def _every_symbol(entry: dict, syms: dict, where: str):
    """PASS with each symbol's size when a real assembler made code for every symbol of a file."""
    names = [s["name"] for s in entry["symbols"]]
    missing = [n for n in names if not syms.get(n)]
    if missing:
        return FAIL, f"no code for {', '.join(missing)} {where}"
    return PASS, ", ".join(f"{n} {len(syms[n])} B" for n in names)


def _gnu_tasks(g: Generated, t, wanted, work: Path, tables):
    tasks = []
    header = g.header()
    for entry in g.asm_files("gnu"):
        arch = t.arch(entry["arch"])
        policy = _policy(entry)
        asm = g.root / entry["path"]
        sym = _symbol(entry, KERNEL_SYSCALL)
        adir = work / f"gnu-{arch.name}"

        def task(arch=arch, policy=policy, asm=asm, sym=sym, adir=adir, entry=entry):
            adir.mkdir(parents=True, exist_ok=True)
            out = []

            def gas():
                return _every_symbol(entry, realtools.gnu_asm_bytes(asm, arch, tables=tables), "in .text")

            if "gnu as" in wanted:
                out.append(_guard("gnu as", arch.name, "gnu", policy, gas))
            why_not_pic = not_pic(arch.name)
            if "gnu link" in wanted and why_not_pic:
                out.append(Result("gnu link", arch.name, "gnu", SKIP, why_not_pic, policy))
            elif "gnu link" in wanted:
                handler = g.options.get("errno_handler", "stubgen_errno")
                out.append(_guard("gnu link", arch.name, "gnu", policy,
                                  lambda: link_c(asm, g.c_headers(arch.name), arch, handler, adir, tables)))
            if "llvm as" in wanted and arch.engines.llvm:
                out.append(_guard("llvm as", arch.name, "gnu", policy,
                                  lambda: realtools.llvm_agrees_with_gnu(asm, arch, entry, tables)))
            modes = [m for m in ("valid", "misaligned", "callee-saved") if f"kernel {m}" in wanted]
            if modes:
                def build():
                    if header is None:
                        raise realtools.ToolFailed("no generated C header in the manifest")
                    return build_c(asm, header, arch, sym["name"], policy,
                                   g.options.get("errno_handler", "stubgen_errno"), adir / "madvise", tables)
                out += _kernel("gnu", arch, policy, sym, modes, tables, build)
            shapes = [c for c in SHAPES if c in wanted]
            if shapes:
                out += _shapes(g, t, entry, arch, policy, asm, header, shapes, adir, tables)
            return out

        tasks.append(task)
    return tasks


def _kernel(dialect, arch, policy, sym, modes, tables, build) -> list[Result]:
    if sym is None:
        return [Result(f"kernel {m}", arch.name, dialect, SKIP,
                       f"no {KERNEL_SYSCALL} stub was generated (the kernel programs call {KERNEL_SYSCALL})", policy)
                for m in modes]
    built = _guard("build", arch.name, dialect, policy, lambda: (PASS, str(build())))
    if built.status != PASS:
        return [Result(f"kernel {m}", arch.name, dialect, built.status, built.detail, policy, built.missing)
                for m in modes]
    binary = Path(built.detail)
    out = []
    for m in modes:
        def one(m=m):
            proc, how = run_mode(binary, arch, "callee" if m == "callee-saved" else m, tables)
            return judge(m, policy, proc, how)
        out.append(_guard(f"kernel {m}", arch.name, dialect, policy, one))
    return out


def six_argument_mmap(t, arch) -> str | None:
    """The six-argument mmap the shapes program calls on arch (mmap2 first), or None
    (s390x's mmap is old_mmap, one pointer)."""
    return next((c for c in ("mmap2", "mmap") if t.available(arch, c) and len(t.signature(arch, c).args) == 6),
                None)


def not_pic(arch_name: str) -> str | None:
    """Why the shipped GNU template's stubs do not link into a shared object or PIE, or
    None (a fact the template states, like MIPS's)."""
    return getattr(render.dialect("gnu").module(arch_name), "not_pic", None)


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
    return {"SIX": by_call[six]["name"], "SIX_PGOFF": int(six == "mmap2"), "PAIR": pair["name"],
            "PAIR_HALVES": int(len(sig.args) == 5), "EXIT_GROUP": exit_group["name"]}, ""


def _go_shapes(t, entry, arch, policy, pkg_src, package, checks, adir, tables) -> list[Result]:
    defs, why = shape_symbols(t, arch, entry)
    if why:
        return [Result(c, arch.name, "plan9", SKIP, why, policy) for c in checks]
    names = {"six": defs["SIX"], "pair": defs["PAIR"], "exit_group": defs["EXIT_GROUP"]}

    def build():
        realtools.go_tool()
        mod = shapes_module(pkg_src, adir, package, arch.goarch, names)
        return PASS, str(build_go(mod, arch.goarch, adir / "shapes"))

    env = {"STUBGEN_SIX_PGOFF": str(defs["SIX_PGOFF"])}
    return _run_shapes("plan9", arch, policy, checks, build, env, tables)


def _run_shapes(dialect, arch, policy, checks, build, env, tables) -> list[Result]:
    """Build the shapes program once, run it once per check."""
    returns = policies.POLICIES[policy].returns
    built = _guard("build", arch.name, dialect, policy, build)
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
                proc, how = realtools.run_program(Path(built.detail), arch, tables=tables, timeout=120, env={
                    "STUBGEN_CROSSCHECK_MODE": mode, "PATH": "/usr/bin:/bin", **env})
                return judge(mode, policy, proc, how)
            results.append(_guard(check, arch.name, dialect, policy, one))
    return results


def _shapes(g, t, entry, arch, policy, asm, header, checks, adir, tables) -> list[Result]:
    defs, why = shape_symbols(t, arch, entry)
    if why:
        return [Result(c, arch.name, "gnu", SKIP, why, policy) for c in checks]
    returns = policies.POLICIES[policy].returns

    def build():
        if header is None:
            raise realtools.ToolFailed("no generated C header in the manifest")
        cc = realtools.c_compiler(arch, tables)
        out = adir / "shapes"
        obj = realtools.c_assemble(asm, arch, out.with_suffix(".o"), tables)
        handler = g.options.get("errno_handler", "stubgen_errno")
        cmd = [*cc, "-static", "-O2", "-std=gnu11", "-Wall", "-Werror", "-D_FILE_OFFSET_BITS=64",
               "-include", str(header), *(f"-D{k}={v}" for k, v in defs.items()),
               f"-DSTUB_RETURNS={int(returns)}", f"-DPOLICY_ERRNO={int(policy == 'errno')}",
               f"-DERRNO_HANDLER={handler}", "-o", str(out), str(PROGRAMS / "shapes.c"), str(obj)]
        _cc(cmd, arch, tables)
        return PASS, str(out)

    return _run_shapes("gnu", arch, policy, checks, build, {}, tables)


# --- presentation -------------------------------------------------------------------------

def table(results, versions: dict | None = None) -> str:
    rows = [("check", "arch", "dialect", "policy", "result", "detail")]
    for r in results:
        detail = f"missing tool: install {r.missing}" if r.status == SKIP and r.missing else r.detail
        rows.append((r.check, r.arch, r.dialect, r.policy, r.status, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5] for row in rows]
    if versions:
        lines.append("")
        lines += [f"{k}: {v}" for k, v in versions.items()]
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, SKIP)}
    lines.append("")
    lines.append(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")
    return "\n".join(lines)


def main(directory, tables=None, checks=None, jobs: int = 2) -> int:
    results = run(directory, tables=tables, checks=checks, jobs=jobs)
    print(table(results, realtools.tool_versions(tables)))
    return 1 if any(r.status == FAIL for r in results) else 0
