"""Cross-checks with the Go toolchain and a real kernel: go vet notices broken
frames, Go's assembler gives GUIDE §4's bytes, and Go programs calling the
generated stubs see madvise(MADV_DONTNEED) work (natively, or under qemu-user)."""
import pytest
from crosscheck_support import ARCHES, POLICIES, generated, require, results

from stubgen import tables
from stubgen.realtools import tools as realtools
from stubgen.realtools.tools import ToolFailed, parse_go_listing

# GUIDE §4: Go's assembler on the Go runtime's madvise (raw policy).
GO_ANCHORS = {
    "386": "b8db0000008b5c24048b4c24088b54240ccd8089442410c3",
    "amd64": "488b7c2408488b7424108b542418b81c0000000f0589442420c3",
    "arm": "04009de508109de50c209de5dc70a0e3000000ef10008de500f08ee2",
    # ARCHES.md §3: ldr, ldr, ldrsw (b9801be2), movz, svc #0, str w0, ret, and the 4 bytes
    # of zero padding Go adds after a function on arm64.
    "arm64": "e00740f9e10b40f9e21b80b9281d80d2010000d4e02300b9c0035fd600000000",
    # Go 1.27 compresses by default: c.ldsp (2265), c.ldsp, c.lwsp (6246), li a7 (addi),
    # ecall, c.swsp (2ad0), and RET as an uncompressed jalr x0, 0(ra).
    "riscv64": "2265c2656246" "9308900e" "73000000" "2ad0" "67800000",
    # ARCHES.md §3: ld 3,32(1); ld 4,40(1); lwa 5,48(1); SYSCALL $205 as li 0,205; sc;
    # xor 0,0,0; then bns over neg 3,3; stw 3,56(1); blr (no padding).
    "ppc64le": "200061e8280081e83200a1e8" "cd000038" "02000044" "7802007c" "08008340d000637c380061902000804e",
}

GO_CASES = [(p, a) for p in POLICIES["plan9"] for a in ARCHES]


@pytest.mark.crosscheck
@pytest.mark.parametrize("policy,arch", GO_CASES)
def test_vet_reports_wrong_frame_size_and_fp_offset(policy, arch):
    r = require(results(policy, arch).get(("go vet catches", arch, "plan9")))
    assert "wrong argument size" in r.detail and "invalid offset" in r.detail, r.detail


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", sorted(GO_ANCHORS))
def test_go_asm_bytes_equal_guide_anchors(go_env, arch):
    goarch = tables.load().arch(arch).goarch
    code = realtools.go_asm_bytes(generated("raw", arch) / "plan9" / f"stubs_linux_{goarch}.s", arch)
    assert code["madvise"].hex() == GO_ANCHORS[arch]


@pytest.mark.crosscheck
@pytest.mark.parametrize("policy,arch", GO_CASES)
def test_go_asm_assembles_every_stub(policy, arch):
    require(results(policy, arch).get(("go asm", arch, "plan9")))


@pytest.mark.crosscheck
@pytest.mark.parametrize("mode", ["valid", "misaligned"])
@pytest.mark.parametrize("policy,arch", GO_CASES)
def test_go_program_on_the_kernel(policy, arch, mode):
    r = require(results(policy, arch).get((f"kernel {mode}", arch, "plan9")))
    if mode == "valid":
        assert "rss: dropped" in r.detail and "zero: 0 nonzero" in r.detail
    elif policy == "raw":
        assert "returned -22" in r.detail
    elif policy == "crash":
        assert "died" in r.detail


# The listing parser needs no tool: these are `go tool asm -S` lines as Go 1.27 prints them.
LISTING = (
    "example.com/stubs.madvise STEXT nosplit asm size=26 align=0x0 args=0x1c locals=0x0 funcid=0x0\n"
    "\t0x0000 00000 (x_linux_amd64.s:3)\tTEXT\texample.com/stubs.madvise(SB), NOSPLIT|NOFRAME, $0-28\n"
    "\t0x0000 00000 (x_linux_amd64.s:4)\tMOVQ\taddr+8(FP), DI\n"
    "\t0x0019 00025 (x_linux_amd64.s:10)\tRET\n"
    "\t0x0000 48 8b 7c 24 08 48 8b 74 24 10 8b 54 24 18 b8 1c  H.|$.H.t$..T$...\n"
    "\t0x0010 00 00 00 0f 05 89 44 24 20 c3                    ......D$ .$\n"
    "\trel 19+4 t=R_ADDR runtime._vdso+0\n"
)


def test_go_listing_parser():
    s = parse_go_listing(LISTING, "example.com/stubs")["madvise"]
    assert s.kind == "STEXT" and s.size == 26 and s.code.hex() == GO_ANCHORS["amd64"]
    assert s.instructions[1] == (0, "x_linux_amd64.s:4", "MOVQ\taddr+8(FP), DI")
    assert s.relocations == [(19, 4, "R_ADDR", "runtime._vdso+0")]


@pytest.mark.parametrize("broken", [
    LISTING.replace("0x0010 00 00 00", "0x0011 00 00 00"),       # a gap in the dump
    LISTING.replace("size=26", "size=27"),                       # short of the header's size
    "\t0x0000 c3                 .\n",                            # bytes before any header
])
def test_go_listing_parser_rejects_inconsistent_listings(broken):
    with pytest.raises(ToolFailed):
        parse_go_listing(broken)
