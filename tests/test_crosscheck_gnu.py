"""Cross-checks with GNU binutils, cross gcc and a real kernel: every GNU stub
assembles with the cross `as`, the raw stubs' bytes are GUIDE §4's, and static C
programs calling the stubs see madvise(MADV_DONTNEED) work, errors reported per
policy, and the callee-saved registers kept."""
import subprocess

import pytest
from conftest import need_gnu_tool, need_real
from crosscheck_support import ARCHES, POLICIES, generated, require, results

from stubgen import tables
from stubgen.realtools import crosscheck
from stubgen.realtools import tools as realtools

# GUIDE §4: GNU as on the C ABI raw stubs.
GNU_ANCHORS = {
    "386": "538b5c24088b4c240c8b542410b8db000000cd805bc3",
    "amd64": "b81c0000000f05c3",
    "arm": "04702de5dc70a0e3000000ef04709de41eff2fe1",
    # ARCHES.md §4: mov x8, #233; svc #0; ret, and li a7, 233; ecall; ret.
    "arm64": "281d80d2010000d4c0035fd6",
    "riscv64": "9308900e7300000067800000",
    # ARCHES.md §4: li 0,205; sc; bns+ over neg 3,3 (musl's powerpc64 syscall_arch.h); blr.
    "ppc64le": "cd000038020000440800e340d000637c2000804e",
}

GNU_CASES = [(p, a) for p in POLICIES["gnu"] for a in ARCHES]


@pytest.mark.crosscheck
@pytest.mark.parametrize("policy,arch", GNU_CASES)
def test_gnu_as_assembles_every_stub_without_warnings(policy, arch):
    require(results(policy, arch).get(("gnu as", arch, "gnu")))


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", sorted(GNU_ANCHORS))
def test_gnu_as_bytes_equal_guide_anchors(arch):
    need_gnu_tool(arch, "as"), need_gnu_tool(arch, "objcopy"), need_gnu_tool(arch, "nm")
    code = realtools.gnu_asm_bytes(generated("raw", arch) / "gnu" / f"stubs_linux_{arch}.S", arch)
    assert code["sys_madvise"].hex() == GNU_ANCHORS[arch]


@pytest.mark.crosscheck
@pytest.mark.parametrize("mode", ["valid", "misaligned", "callee-saved"])
@pytest.mark.parametrize("policy,arch", GNU_CASES)
def test_c_program_on_the_kernel(policy, arch, mode):
    r = require(results(policy, arch).get((f"kernel {mode}", arch, "gnu")))
    if mode != "misaligned":
        assert "rss: dropped" in r.detail and "zero: 0 nonzero" in r.detail
    if mode == "callee-saved":
        assert "callee-saved: kept" in r.detail
    elif mode == "misaligned":
        want = {"raw": "returned -22", "errno": "errno 22", "crash": "died: killed by", "ignore": "returned"}
        assert want[policy] in r.detail, r.detail


# A stub that forgets to save a callee-saved register, per architecture: the
# caller must notice. Each edit is checked to have changed the text.
CLOBBERS = {
    "386": lambda s: s.replace("\tpush\t%ebx\n", "\tpush\t%eax\n").replace("\tpop\t%ebx\n", "\tpop\t%ecx\n"),
    "amd64": lambda s: s.replace("\tsyscall\n", "\tsyscall\n\txor\t%r12d, %r12d\n"),
    "arm": lambda s: s.replace("\tldr\tr7, [sp], #0x4\n", "\tldr\tr6, [sp], #0x4\n"),
    "arm64": lambda s: s.replace("\tsvc\t#0x0\n", "\tsvc\t#0x0\n\tmov\tx19, #0x0\n"),
    "riscv64": lambda s: s.replace("\tecall\n", "\tecall\n\tli\ts0, 0x0\n"),
    **{a: lambda s: s.replace("\tsyscall\n", "\tsyscall\n\tor\t$s0, $zero, $zero\n")
       for a in ("mips", "mipsle", "mips64le", "mips64")},
    "s390x": lambda s: s.replace("\tsvc\t0x0\n", "\tsvc\t0x0\n\tlghi\t%r6, 0x0\n"),
    **{a: lambda s: s.replace("\tsc\n", "\tsc\n\tli\t%r31, 0x0\n") for a in ("ppc64le", "ppc64")},
}


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ARCHES)
def test_callee_saved_check_catches_a_clobbering_stub(arch, tmp_path):
    need_gnu_tool(arch, "gcc")
    src = generated("raw", arch) / "gnu" / f"stubs_linux_{arch}.S"
    text = src.read_text()
    broken = CLOBBERS[arch](text)
    assert broken != text, "the clobbering edit no longer applies to the template's output"
    asm = tmp_path / src.name
    asm.write_text(broken)
    binary = crosscheck.build_c(asm, generated("raw", arch) / "gnu" / "stubs.h", arch, "sys_madvise", "raw",
                                "stubgen_errno", tmp_path / "madvise")
    proc, how = need_real(crosscheck.run_mode, binary, arch, "callee")
    status, detail = crosscheck.judge("callee-saved", "raw", proc, how)
    assert status == crosscheck.FAIL and "callee-saved" in detail, detail


@pytest.mark.crosscheck
def test_cross_as_is_the_one_for_the_triple():
    """The assembler found for each table is configured for that table's triple."""
    for arch in tables.load().arches.values():
        if arch.c_toolchain.get("gnu_absent"):  # none exists for it (loong64): nothing to compare
            continue
        asm = need_gnu_tool(arch, "as")
        out = subprocess.run([asm, "--version"], capture_output=True, text=True).stdout
        assert arch.gnu_triple in out, out
