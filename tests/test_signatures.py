"""Signatures beyond madvise: 64-bit arguments as register pairs, the generic stubs
syscall0..syscall6, --all, the number constants, and list --coverage. The register
facts are the kernel's (syscall(2), ARM EABI's even-register rule), written here by
hand rather than read back from the tables."""
import json
import re
import shutil
import subprocess

import pytest
import yaml

import stubgen
from stubgen import tables
from stubgen.cli import main
from stubgen.dialects.sandbox import imm_chunks
from stubgen.generator import layout
from stubgen.resources import tables_dir
from stubgen.verifier import Spec, Verifier, verify
from stubgen.verifier.caller import arg_value
from stubgen.verifier.kernel import linux_abi

ARCHES = ["386", "amd64", "arm"]


@pytest.fixture(scope="module")
def verifier():
    return Verifier()


def _plan(arch, name):
    t = tables.load()
    a = t.arch(arch)
    return layout.plan(a, t.signature(a, name), True)


def _kregs(frame):
    return [[p.kreg for p in a.parts] for a in frame.args]


# (arch, syscall): kernel registers per argument, from syscall(2) and the ARM EABI rule.
PAIRS = {
    ("arm", "pread64"): [["r0"], ["r1"], ["r2"], ["r4", "r5"]],  # r3 skipped
    ("arm", "pwrite64"): [["r0"], ["r1"], ["r2"], ["r4", "r5"]],
    ("arm", "ftruncate64"): [["r0"], ["r2", "r3"]],  # r1 skipped
    ("arm", "fallocate"): [["r0"], ["r1"], ["r2", "r3"], ["r4", "r5"]],
    ("arm", "arm_fadvise64_64"): [["r0"], ["r1"], ["r2", "r3"], ["r4", "r5"]],
    ("arm", "arm_sync_file_range"): [["r0"], ["r1"], ["r2", "r3"], ["r4", "r5"]],
    # i386's entry points take the halves as two u32 arguments (sys_ia32_pread64 and
    # friends in arch/x86/kernel/sys_ia32.c): the same registers, low word first.
    ("386", "pread64"): [["ebx"], ["ecx"], ["edx"], ["esi"], ["edi"]],
    ("386", "ftruncate64"): [["ebx"], ["ecx"], ["edx"]],
    ("386", "fallocate"): [["ebx"], ["ecx"], ["edx"], ["esi"], ["edi"], ["ebp"]],
    ("386", "sync_file_range"): [["ebx"], ["ecx"], ["edx"], ["esi"], ["edi"], ["ebp"]],
    # fanotify_mark's __u64 mask is a pair on 386 (sys_fanotify_mark, no ia32 wrapper)
    ("386", "fanotify_mark"): [["ebx"], ["ecx"], ["edx", "esi"], ["edi"], ["ebp"]],
    ("arm", "fanotify_mark"): [["r0"], ["r1"], ["r2", "r3"], ["r4"], ["r5"]],
    ("amd64", "pread64"): [["rdi"], ["rsi"], ["rdx"], ["r10"]],
    ("amd64", "fallocate"): [["rdi"], ["rsi"], ["rdx"], ["r10"]],
}


@pytest.mark.parametrize("arch, name", sorted(PAIRS))
def test_pairs_land_in_the_kernels_registers(arch, name):
    assert _kregs(_plan(arch, name)) == PAIRS[(arch, name)]


def test_pread64_on_arm_every_side():
    f = _plan("arm", "pread64")
    pos = f.args[3]
    # Go ABI0: int64 aligned to 4 on arm, halves named as go vet expects.
    assert [(p.go_name, p.fp) for p in pos.parts] == [("pos_lo", 12), ("pos_hi", 16)]
    assert (f.result.fp, f.argsize) == (20, 24)
    # AAPCS: r3 cannot start a pair, so pos goes to the stack, 8-aligned.
    assert [(p.c_reg, p.c_stack) for p in pos.parts] == [(None, 0), (None, 4)]
    # The verifier's own statement puts the halves in r4:r5, low word first.
    abi = linux_abi("arm")
    args = [(arg_value(i, s), s) for i, s in enumerate([4, 4, 4, 8])]
    where = abi.placement(args, 4, "little")
    assert [abi.args[r] for _, r, _, _ in where] == ["r0", "r1", "r2", "r4", "r5"]
    assert where[3][2] == args[3][0] & 0xFFFFFFFF and where[4][2] == args[3][0] >> 32


def test_ftruncate64_on_arm_c_pair_in_r2_r3():
    (s,) = stubgen.generate(["ftruncate64"], ["arm"], ["gnu"])
    length = s._context.frame.args[1]
    assert [p.c_reg for p in length.parts] == ["r2", "r3"]
    assert "mov\tr2" not in s.text and "ldr" not in s.text.split("svc")[0]  # already where the kernel wants it


def test_pair_stubs_pass_and_386_c_stack_is_unaligned(verifier):
    f = _plan("386", "fanotify_mark")
    assert [p.c_stack for p in f.args[2].parts] == [12, 16]  # cdecl: no padding before a long long
    names = sorted({n for a, n in PAIRS if a != "amd64"})
    stubs = stubgen.generate(names, ["386", "arm"], policy="raw")
    assert len(stubs) >= 2 * len(PAIRS) - 6
    for rep in verify(stubs):
        assert rep.ok, rep.describe()


def _tables_with(tmp_path, arch, edit):
    root = tmp_path / "tables"
    shutil.copytree(tables_dir(), root)
    p = root / f"{arch}.yaml"
    d = yaml.safe_load(p.read_text())
    edit(d)
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return str(root)


def test_wrong_pair_alignment_in_a_table_is_rejected(tmp_path):
    """A table that forgets EABI's even-register rule makes stubs that put pread64's
    pos in r3:r4; the verifier, which keeps its own statement of the rule, says no."""
    root = _tables_with(tmp_path, "arm", lambda d: d["kernel"].update(pair_align=1))
    for dialect in ("plan9", "gnu"):
        (s,) = stubgen.generate(["pread64"], ["arm"], [dialect], tables=root)
        assert [p.kreg for p in s._context.frame.args[3].parts] == ["r3", "r4"]
        (rep,) = verify([s])
        assert not rep.ok
        assert any("argument 4 (32-bit part of a 64-bit value) in r4" in p for p in rep.problems), rep.problems


def test_swapped_halves_are_rejected(verifier):
    import dataclasses

    from stubgen.dialects import dialect
    from stubgen.generator.stubs import render_stub

    for arch, name, i in (("386", "fanotify_mark", 2), ("arm", "pread64", 3)):
        (s,) = stubgen.generate([name], [arch], ["plan9"])
        f = s._context.frame
        lo, hi = f.args[i].parts
        args = list(f.args)
        args[i] = dataclasses.replace(args[i], parts=(dataclasses.replace(lo, kreg=hi.kreg),
                                                      dataclasses.replace(hi, kreg=lo.kreg)))
        ctx = dataclasses.replace(s._context, frame=dataclasses.replace(f, args=tuple(args)))
        text = render_stub(dialect("plan9").module(arch), ctx)
        rep = verifier.check(text, Spec(arch, "plan9", s.symbol, s.syscall, s.number, s.policy, s.trap))
        assert not rep.ok


@pytest.mark.parametrize("dialect", ["plan9", "gnu"])
@pytest.mark.parametrize("arch", ARCHES)
def test_generic_stubs_0_to_6(verifier, arch, dialect):
    names = [f"syscall{n}" for n in range(7)]
    for policy in (["raw", "errno"] if dialect == "gnu" else ["raw", "crash"]):
        stubs = stubgen.generate(names, [arch], [dialect], policy)
        assert [s.syscall for s in stubs] == names
        for n, s in enumerate(stubs):
            assert s.number is None
            assert len(s._context.frame.args) == n + 1
            number_part = s._context.frame.args[0].parts[0]
            assert number_part.kreg == tables.load().arch(arch).kernel.number
            rep = verifier.check(s.text, Spec(s.arch, s.dialect, s.symbol, s.syscall, None, s.policy, s.trap))
            assert rep.ok, rep.describe()


def test_generic_stub_that_ignores_the_passed_number_is_rejected(verifier):
    for arch, dialect, old, new in [("amd64", "plan9", "MOVQ\ttrap+0(FP), AX", "MOVQ\t$39, AX"),
                                    ("arm", "gnu", "mov\tr7, r0", "mov\tr7, #0x14")]:
        (s,) = stubgen.generate(["syscall3"], [arch], [dialect])
        assert old in s.text
        rep = verifier.check(s.text.replace(old, new),
                             Spec(arch, dialect, s.symbol, s.syscall, None, s.policy, s.trap))
        assert any("number register" in p for p in rep.problems), rep.problems


def test_signatures_cover_the_brief():
    t = tables.load()
    wanted = ("mmap mmap2 munmap mprotect madvise mincore mremap msync mlock munlock brk read write openat close "
              "exit exit_group futex rt_sigaction rt_sigprocmask rt_sigreturn sigaltstack nanosleep "
              "clock_gettime getpid gettid tgkill sched_yield sched_getaffinity epoll_create1 epoll_ctl epoll_pwait "
              "pipe2 setitimer timer_create timer_settime timer_delete getrandom prctl arch_prctl set_thread_area "
              "set_tls pread64 pwrite64 ftruncate64 fallocate arm_fadvise64_64 arm_sync_file_range").split()
    missing = [n for n in wanted if not any(t.available(a, n) for a in t.arches.values())]
    assert not missing
    assert t.available(t.arch("amd64"), "arch_prctl") and t.available(t.arch("386"), "set_thread_area")
    assert t.available(t.arch("arm"), "set_tls") and not t.available(t.arch("amd64"), "mmap2")
    # 386's number 90 is sys_old_mmap: one pointer; mmap2 carries the six arguments.
    assert [p.name for p in t.signature(t.arch("386"), "mmap").args] == ["arg"]
    assert len(t.signature(t.arch("amd64"), "mmap").args) == 6
    # CONFIG_CLONE_BACKWARDS on 386 and arm: tls is the fourth argument there.
    assert [p.name for p in t.signature(t.arch("arm"), "clone").args][3] == "tls"
    assert [p.name for p in t.signature(t.arch("amd64"), "clone").args][4] == "tls"
    # ...but clone gets no typed stub: it returns on a new stack.
    assert "new stack" in t.exclusion(t.arch("amd64"), "clone")
    # every signature says where the kernel states it
    assert t.signature(t.arch("amd64"), "madvise").source.startswith("mm/madvise.c:")


def test_explicit_syscall_skips_arches_without_its_number():
    stubs = stubgen.generate(["mmap2"], dialects=["gnu"])
    assert sorted(s.arch for s in stubs) == sorted(a.name for a in tables.load().arches.values()
                                                   if "mmap2" in a.numbers)
    assert {"386", "arm"} <= {s.arch for s in stubs} and "amd64" not in {s.arch for s in stubs}
    with pytest.raises(stubgen.errors.StubgenError, match="arch_prctl.*no number on arm"):
        stubgen.generate(["arch_prctl"], ["arm"])
    with pytest.raises(stubgen.errors.StubgenError, match="vfork.*no typed stub.*shared stack"):
        stubgen.generate(["vfork"], ["amd64"])


def test_arm_numbers_beyond_one_immediate(verifier):
    assert imm_chunks(0xF0005, 8, 2) == [0x5, 0xF0000]
    assert imm_chunks(0x14E, 8, 2) == [0x4E, 0x100]
    assert imm_chunks(0, 8, 2) == [0]
    stubs = stubgen.generate(["set_tls", "openat", "epoll_pwait"], ["arm"])
    gnu = {s.syscall: s.text for s in stubs if s.dialect == "gnu"}
    assert "mov\tr7, #0x5\n\torr\tr7, r7, #0xf0000" in gnu["set_tls"]
    assert "mov\tr7, #0x42\n\torr\tr7, r7, #0x100" in gnu["openat"]  # 322
    plan9 = {s.syscall: s.text for s in stubs if s.dialect == "plan9"}
    assert "MOVW\t$983045, R7" in plan9["set_tls"]
    for rep in verify(stubs):
        assert rep.ok, rep.describe()


@pytest.fixture(scope="module")
def all_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("all")
    assert main(["generate", "--all", "-o", str(out)]) == 0
    return out


def test_generate_all_verify_passes(tmp_path, capsys):
    assert main(["generate", "--all", "-o", str(tmp_path), "--verify"]) == 0
    out = capsys.readouterr().out
    # every stub passed, or (ppc64le's Go stubs, every loong64 stub) was assembled and compared but not emulated
    m = re.search(r"verified (\d+) stubs .*: (\d+) passed, (?:(\d+) not emulated \(assembled and compared only\), )?"
                  r"0 failed", out)
    assert m and int(m.group(1)) == int(m.group(2)) + int(m.group(3) or 0) and int(m.group(1)) >= 300, out


def test_all_makes_one_stub_per_signature_and_number(all_dir):
    t = tables.load()
    man = json.loads((all_dir / "manifest.json").read_text())
    made = {(s["arch"], f["dialect"], s["syscall"]) for f in man["files"] for s in f["symbols"] if f["arch"]}
    for a in t.arches.values():
        want = set(t.names(a))
        # the goal: 95% of the implemented calls (numbered, less the reserved numbers)
        assert sum(1 for n in a.numbers if n in want) >= 0.95 * (len(a.numbers) - len(a.reserved)), a.name
        for d in ("plan9", "gnu") if a.goarch else ("gnu",):  # no Go port (ppc): no Go stubs
            assert {n for arch, dd, n in made if arch == a.name and dd == d} == want
        if not a.goarch:
            assert not {n for arch, dd, n in made if arch == a.name and dd == "plan9"}


def test_constants_files(all_dir):
    t = tables.load()
    for a in t.arches.values():
        if a.goarch:
            go = (all_dir / "plan9" / f"stubs_sysnum_linux_{a.goarch}.go").read_text()
            consts = dict(re.findall(r"^\tSYS_(\w+)\s+= (\d+)$", go, flags=re.M))
            assert {k: int(v) for k, v in consts.items()} == {k.upper(): v for k, v in a.numbers.items()}
        h = (all_dir / "gnu" / f"stubs_sysnum_{a.name}.h").read_text()
        defines = dict(re.findall(r"^#define STUBGEN_SYS_(\w+) (\d+)$", h, flags=re.M))
        assert {k: int(v) for k, v in defines.items()} == a.numbers
    assert re.search(r"\tSYS_MADVISE += 219\n", (all_dir / "plan9" / "stubs_sysnum_linux_386.go").read_text())
    assert "#define STUBGEN_SYS_set_tls 983045" in (all_dir / "gnu" / "stubs_sysnum_arm.h").read_text()
    man = json.loads((all_dir / "manifest.json").read_text())
    kinds = {f["path"]: f for f in man["files"]}
    assert kinds["gnu/stubs_sysnum_arm.h"]["symbols"] == [] and kinds["gnu/stubs_sysnum_arm.h"]["arch"] == "arm"


def test_arch_specific_declarations_are_guarded(all_dir):
    shared = (all_dir / "plan9" / "stubs_linux.go").read_text()
    assert "func mmap(" not in shared and "func madvise(" in shared
    assert "func mmap(arg unsafe.Pointer) unsafe.Pointer" in (all_dir / "plan9" / "stubs_linux_386.go").read_text()
    assert "func arch_prctl(" not in (all_dir / "plan9" / "stubs_linux_arm.go").read_text()
    h = (all_dir / "gnu" / "stubs.h").read_text()
    i386 = h[h.index("#if defined(__i386__)"):]
    assert "long sys_mmap(void *arg);" in i386[:i386.index("#endif")]


@pytest.mark.crosscheck
@pytest.mark.parametrize("goarch", ARCHES)
def test_go_vet_all(go_env, all_dir, goarch):
    pkg = all_dir / "plan9"
    (pkg / "go.mod").write_text("module example.com/stubs\n\ngo 1.21\n")
    for cmd in (["vet", "."], ["build", "."]):
        r = subprocess.run(["go", *cmd], cwd=pkg, env=dict(go_env, GOARCH=goarch), capture_output=True, text=True)
        assert r.returncode == 0, f"go {' '.join(cmd)} GOARCH={goarch}:\n{r.stdout}{r.stderr}"


def _coverage_sections(out: str) -> dict:
    """arch -> (its summary line's figures, left-out reasons, reserved names, reserved reason)."""
    found = {}
    for block in out.split("\n\n")[1:]:
        head, *rest = block.splitlines()
        m = re.fullmatch(r"(\S+): (\d+) of (\d+) implemented syscalls typed and verified "
                         r"\((\d+\.\d)%; (\d+) numbered, (\d+) of them reserved\)"
                         r"(?:, by every oracle but emulation: \d+ stubs were assembled and compared, not emulated)?"
                         r"; left out \((\d+)\):", head)
        assert m, head
        arch, verified, implemented, share, numbered, reserved, left_count = m.groups()
        figures = (int(verified), int(implemented), share, int(numbered), int(reserved), int(left_count))
        left = dict(re.findall(r"^  (\w+): (.+)$", "\n".join(rest), flags=re.M))
        reserved_text = " ".join(line.strip() for line in rest if line.startswith(("  reserved (", "    ")))
        names, why = [], ""
        if reserved_text:
            why, listed = re.fullmatch(r"reserved \((.+)\): (.+)", reserved_text).groups()
            names = listed.split(", ")
        found[arch] = (figures, left, names, why)
    return found


def test_list_coverage(capsys):
    assert main(["list", "--coverage", "--no-real-tools"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["arch", "numbered", "typed", "verified", "generic", "stubs"]
    t = tables.load()
    sections = _coverage_sections(out)
    assert sorted(sections) == sorted(t.arches)
    for line in lines[1:1 + len(t.arches)]:
        arch, numbered, typed, verified, generic, gv = re.match(
            r"(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) \((\d+) verified\)", line).groups()
        a = t.arch(arch)
        assert int(numbered) == len(a.numbers)
        typed_names = {n for n in a.numbers if t.available(a, n)}
        assert int(typed) == len(typed_names)
        assert verified == typed and generic == gv == "7"
        # emulation where the tables name an emulator (QEMU where qemu-user is installed);
        # elsewhere the stubs are counted as not emulated
        qemu = a.engines.qemu is not None and shutil.which(a.qemu_user) is not None
        assert ("(emulation" in line) == (a.engines.unicorn is not None or qemu) and "not run" in line
        if a.engines.unicorn is None:
            assert "Unicorn: " in line
            assert (f"({2 * int(typed) + 14} stubs not emulated)" in line) == (not qemu), line
            assert ("LLVM + QEMU (emulation on QEMU)" in line) == qemu, line
        # Below the table: the share is of the implemented calls, those with an entry point.
        (s_verified, implemented, share, s_numbered, reserved, left_count), left, names, why = sections[arch]
        assert s_verified == int(verified) and s_numbered == len(a.numbers)
        assert reserved == len(a.reserved) and implemented == len(a.numbers) - len(a.reserved)
        assert share == f"{100.0 * int(verified) / implemented:.1f}" and float(share) >= 95.0, arch
        # every implemented call is typed or named with its reason; every reserved one is listed
        assert set(left) == set(a.numbers) - typed_names - set(a.reserved) and all(left.values())
        assert left_count == len(left) == implemented - int(typed)
        assert names == [n for n in a.numbers if n in a.reserved]
        assert why == f"no entry point in {a.provenance['sources'][0]['path']}; the kernel answers ENOSYS"
        assert not set(names) & set(left)
    assert "  vfork: returns twice on one shared stack" in out
    assert "break" in sections["386"][2] and "break" not in sections["386"][1]
    assert sections["386"][3] == "no entry point in arch/x86/entry/syscalls/syscall_32.tbl; the kernel answers ENOSYS"
    # MIPS: fork and sysmips are typed through their wrappers; pipe and the indirect call say why not
    for arch in ("mips", "mipsle"):
        left = sections[arch][1]
        assert "fork" not in left and "sysmips" not in left
        assert "v0 and v1" in left["pipe"] and "syscall0..syscall6" in left["syscall"]
        assert "new stack" in left["clone"] and "new stack" in left["clone3"]
    # generate's advice about Go builtins (close) is not repeated here
    assert "builtin" not in captured.err and captured.err == ""


def test_generate_still_warns_once_about_a_shadowed_builtin(tmp_path, capsys):
    assert main(["generate", "-s", "close", "-a", "amd64,arm64", "-d", "plan9", "-o", str(tmp_path)]) == 0
    assert capsys.readouterr().err.count("shadows the Go builtin 'close'") == 1


def test_list_json_shape(capsys):
    assert main(["list", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["version"] == 1 and d["kernel"] == "7.1.5"
    madvise = d["arches"]["amd64"]["syscalls"]["madvise"]
    assert madvise["number"] == 28 and madvise["special"] is None
    assert madvise["args"][0] == {"name": "addr", "c_type": "unsigned long", "go_type": "unsafe.Pointer",
                                  "bytes": 8, "signed": False, "kernel_registers": ["rdi"], "kernel_stack": [None],
                                  "kernel_bits": 64}
    assert [a["kernel_registers"] for a in madvise["args"]] == [["rdi"], ["rsi"], ["rdx"]]
    # a pair lists both registers, in order (ARM EABI: pread64's pos in r4:r5)
    assert d["arches"]["arm"]["syscalls"]["pread64"]["args"][3]["kernel_registers"] == ["r4", "r5"]
    # the kernel reads 16 bits of a umode_t
    mode = d["arches"]["amd64"]["syscalls"]["openat"]["args"][3]
    assert (mode["c_type"], mode["bytes"], mode["kernel_bits"], mode["kernel_registers"]) == \
        ("umode_t", 4, 16, ["r10"])
    assert d["arches"]["386"]["syscalls"]["break"]["args"] is None
    # a reserved number (no entry point: ENOSYS) says so, and why it has no stub
    t = tables.load()
    for name, arch in d["arches"].items():
        a = t.arch(name)
        for call, entry in arch["syscalls"].items():
            assert entry["reserved"] is (call in a.reserved), (name, call)
            assert (entry["excluded"] is None) is entry["typed"], (name, call)
            if entry["reserved"]:
                assert not entry["typed"] and entry["args"] is None
                assert entry["excluded"] == f"reserved: no entry point in {a.provenance['sources'][0]['path']}; " \
                                           "the kernel answers ENOSYS"
    assert d["arches"]["386"]["syscalls"]["break"]["reserved"] is True
    assert d["arches"]["386"]["syscalls"]["clone"]["reserved"] is False
    assert "new stack" in d["arches"]["386"]["syscalls"]["clone"]["excluded"]
    assert d["arches"]["mips"]["syscalls"]["fork"]["typed"] is True
    assert "v0 and v1" in d["arches"]["mips"]["syscalls"]["pipe"]["excluded"]
    assert d["arches"]["amd64"]["syscalls"]["exit_group"]["special"] == "noreturn"
    assert d["arches"]["amd64"]["syscalls"]["openat"]["result"] == {"c_type": "long", "go_type": "int"}


def test_tables_and_verifier_agree_on_pair_alignment():
    for a in tables.load().arches.values():
        assert a.kernel.pair_align == linux_abi(a.name).pair_align, a.name
