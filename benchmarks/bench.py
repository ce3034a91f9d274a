"""Generate and verify the whole matrix (every syscall with a signature x every
architecture x both dialects x every policy a dialect offers) in one process, and
time the same GNU stubs assembled the binutils way (one `as` and one `objcopy`
process per stub). Run by hand:

    python benchmarks/bench.py --scale N [--json] [--binutils-sample K]

--scale repeats the matrix N times (each time rendered afresh), so that a table
with few signatures still approximates the 2,700 stubs of 450 syscalls x 3
architectures x 2 dialects.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_STUBS = 2700  # 450 syscalls x 3 architectures x 2 dialects


def matrix(tables, templates=None):
    """(syscalls, arch, dialect, policy) batches covering everything generate can produce."""
    from stubgen import render

    out = []
    for dname, d in render.dialects(templates).items():
        for aname, arch in tables.arches.items():
            if not d.has_arch(aname):
                continue
            names = [n for n in tables.signatures if n in arch.numbers]
            if not names:
                continue
            for policy in d.offers(aname, "policy"):
                out.append((names, aname, dname, policy))
    return out


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else 0.0


def help_start(runs=10):
    """Median wall time of `python -m stubgen --help`, and whether it imported an engine."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stubgen", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    bare = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bare.append(time.perf_counter() - t)
    probe = ("import sys, runpy; sys.argv = ['stubgen', '--help']\n"
             "try:\n    runpy.run_module('stubgen', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('unicorn', 'keystone', 'capstone', 'jinja2', 'yaml') if m in sys.modules),"
             " file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return statistics.median(times), statistics.median(bare), ast.literal_eval(r.stderr.strip().splitlines()[-1])


def binutils_times(stubs, limit):
    """Seconds per GNU stub for `as` + `objcopy -O binary -j .text`, each stub in its own
    file; None and a note where the tools are missing."""
    from stubgen import realtools
    from stubgen.output import render_files

    gnu = [s for s in stubs if s.dialect == "gnu"]
    if limit:
        step = max(1, len(gnu) // limit)
        gnu = gnu[::step][:limit]
    per, missing = [], set()
    with tempfile.TemporaryDirectory(prefix="stubgen-bench-") as tmp:
        for i, s in enumerate(gnu):
            try:
                asm = realtools.gnu_tool(s.context.arch, "as")
                objcopy = realtools.gnu_tool(s.context.arch, "objcopy")
            except realtools.ToolMissing as e:
                missing.add(str(e))
                continue
            # The per-architecture file that defines the stub (not the header, not tables of numbers).
            (text,) = [txt for txt, meta in render_files([s]).values()
                       if meta["arch"] == s.arch and any(x["name"] == s.symbol for x in meta["symbols"])]
            src, obj, binf = (Path(tmp) / f"s{i}{ext}" for ext in (".S", ".o", ".bin"))
            t = time.perf_counter()
            src.write_text(text, encoding="utf-8")
            subprocess.run([asm, "-o", str(obj), str(src)], check=True, capture_output=True)
            subprocess.run([objcopy, "-O", "binary", "-j", ".text", str(obj), str(binf)], check=True,
                           capture_output=True)
            binf.read_bytes()
            per.append(time.perf_counter() - t)
    return per, sorted(missing)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=int, default=0, metavar="N",
                    help=f"repeat the matrix N times (default: enough for about {TARGET_STUBS} stubs)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--binutils-sample", type=int, default=200, metavar="K",
                    help="GNU stubs assembled with binutils, spread over the run (0: all); default 200")
    ap.add_argument("--no-binutils", action="store_true")
    ap.add_argument("--help-runs", type=int, default=10, metavar="N")
    a = ap.parse_args(argv)

    t_import = time.perf_counter()
    import stubgen
    from stubgen import tables as tables_mod
    from stubgen.verifier import Verifier, emulator, stub_specs
    import_s = time.perf_counter() - t_import

    wall0 = time.perf_counter()
    t = tables_mod.load()
    batches = matrix(t)
    per_matrix = sum(len(b[0]) for b in batches)
    scale = a.scale or max(1, round(TARGET_STUBS / max(1, per_matrix)))

    # Render: templates compile on first use, like any run; every repetition renders afresh.
    t0 = time.perf_counter()
    stubs = []
    for _ in range(scale):
        for names, aname, dname, policy in batches:
            stubs += stubgen.generate(names, [aname], [dname], policy)
    render_s = time.perf_counter() - t0

    # Verify: engines are made on first use and reused; the time to the code write
    # (read back, assemble, decode) and after it (emulate 7 runs, check) is split.
    marks = []
    load = emulator.Machine.load

    def timed_load(self, code):
        marks.append(time.perf_counter())
        return load(self, code)

    emulator.Machine.load = timed_load
    v = Verifier()
    specs = stub_specs(stubs)
    per, front, back, failed, runs = [], [], [], 0, 0
    t0 = time.perf_counter()
    v.prefetch(specs)  # LLVM (riscv64) assembles every stub in one process, not one per stub
    for text, spec in specs:
        marks.clear()
        s = time.perf_counter()
        rep = v.check(text, spec)
        e = time.perf_counter()
        per.append(e - s)
        if marks:
            front.append(marks[0] - s)
            back.append(e - marks[0])
        failed += not rep.ok
        runs += rep.runs
    verify_s = time.perf_counter() - t0
    emulator.Machine.load = load
    wall_s = time.perf_counter() - wall0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    n = len(stubs)
    res = {
        "stubs": n, "matrix_stubs": per_matrix, "scale": scale, "failed": failed, "emulated_runs": runs,
        "batches": len(batches), "syscalls": len(t.signatures), "cpus": os.cpu_count(),
        "import_s": import_s, "render_s": render_s, "verify_s": verify_s, "wall_s": wall_s,
        "stubs_per_s": n / verify_s if verify_s else 0.0,
        "stubs_per_s_with_render": n / (render_s + verify_s) if verify_s else 0.0,
        "render_us": render_s / n * 1e6 if n else 0.0,
        "verify_median_us": statistics.median(per) * 1e6 if per else 0.0,
        "verify_p95_us": pct(per, 95) * 1e6,
        "assemble_median_us": statistics.median(front) * 1e6 if front else 0.0,
        "emulate_median_us": statistics.median(back) * 1e6 if back else 0.0,
        "peak_rss_mb": rss_mb,
    }
    if not a.no_binutils:
        bt, missing = binutils_times(stubs, a.binutils_sample)
        res["binutils_missing"] = missing
        if bt:
            res["binutils_stubs"] = len(bt)
            res["binutils_median_us"] = statistics.median(bt) * 1e6
            res["binutils_mean_us"] = statistics.fmean(bt) * 1e6
            res["binutils_est_s"] = statistics.fmean(bt) * sum(1 for s in stubs if s.dialect == "gnu")
            res["binutils_ratio"] = res["binutils_median_us"] / res["assemble_median_us"]
            res["binutils_ratio_full_verify"] = res["binutils_median_us"] / res["verify_median_us"]
    help_s, bare_s, engines = help_start(a.help_runs)
    res.update(help_median_ms=help_s * 1e3, python_bare_ms=bare_s * 1e3, help_imports=engines)

    if a.json:
        print(json.dumps(res, indent=2))
        return 1 if failed else 0
    rows = [
        ("stubs", f"{n} ({per_matrix} per matrix x {scale}; {failed} failed, {runs} emulated runs)"),
        ("verify", f"{verify_s:.3f} s, {res['stubs_per_s']:.0f} stubs/s"),
        ("  per stub", f"median {res['verify_median_us']:.0f} us, p95 {res['verify_p95_us']:.0f} us "
                       f"(assemble {res['assemble_median_us']:.0f} + emulate {res['emulate_median_us']:.0f})"),
        ("render", f"{render_s:.3f} s ({res['render_us']:.0f} us a stub)"),
        ("render+verify", f"{render_s + verify_s:.3f} s, {res['stubs_per_s_with_render']:.0f} stubs/s"),
        ("wall (in process)", f"{wall_s:.3f} s, plus {import_s * 1e3:.0f} ms of imports"),
        ("peak RSS", f"{rss_mb:.0f} MB"),
    ]
    if "binutils_median_us" in res:
        rows.append(("binutils as+objcopy", f"median {res['binutils_median_us'] / 1e3:.1f} ms a GNU stub "
                     f"({res['binutils_stubs']} timed); {res['binutils_ratio']:.0f}x Keystone+Capstone, "
                     f"{res['binutils_ratio_full_verify']:.0f}x a whole verification; "
                     f"~{res['binutils_est_s']:.1f} s for these GNU stubs"))
    elif not a.no_binutils:
        rows.append(("binutils", "skipped: missing " + ", ".join(res["binutils_missing"])))
    if res.get("binutils_missing") and "binutils_median_us" in res:
        rows.append(("binutils missing", ", ".join(res["binutils_missing"])))
    rows.append(("stubgen --help", f"median {res['help_median_ms']:.0f} ms of {a.help_runs} "
                 f"(python -c pass: {res['python_bare_ms']:.0f} ms); imported: {engines}"))
    w = max(len(k) for k, _ in rows)
    for k, val in rows:
        print(f"{k:<{w}}  {val}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
