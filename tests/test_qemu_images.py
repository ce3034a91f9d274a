"""The QEMU engine runs linked images too (stubgen/verifier/qemu/machine.py load_image):
the C dialect's headers, compiled into callers and linked, run under qemu-user's
gdbstub on the architectures Unicorn cannot run (loong64) or runs only as a 32-bit
core (ppc64le, ppc64: whose zig cc objects are of the ELF V2 ABI, entered with r12). A sample passes, emulated, with what the engine cannot observe said;
broken wrappers (the mutator's breaks, templates/c/*.lower.yaml) fail. Skipped, or
failed under STUBGEN_REQUIRE_TOOLS=1, where qemu-user is not installed."""
import pytest
from conftest import need_tool

import stubgen
from stubgen.pipeline.mutants import mutants
from stubgen.pipeline.verify_header import check_header_specs, check_mutant
from stubgen.verifier import llvm, manifest_specs
from stubgen.verifier.emulator import IMAGE, LINKER
from stubgen.verifier.qemu.gdbremote import ProtocolError
from stubgen.verifier.qemu.machine import QemuMachine

pytestmark = pytest.mark.skipif(not llvm.available(), reason="needs LLVM (pip install 'stubgen[llvm]')")
QEMU = {"loong64": "qemu-loongarch64", "ppc64le": "qemu-ppc64le", "ppc64": "qemu-ppc64"}


def _stub(arch, syscall):
    need_tool(QEMU[arch], "qemu-user")
    (s,) = stubgen.generate(syscalls=[syscall], arches=[arch], dialects=["c"])
    return s


@pytest.mark.parametrize("arch", sorted(QEMU))
def test_a_c_header_runs_on_qemu_and_passes(tmp_path, arch):
    need_tool(QEMU[arch], "qemu-user")
    stubgen.write(stubgen.generate(syscalls=["read", "syscall3"], arches=[arch], dialects=["c"]), tmp_path)
    reps = [rep for rep, _ in check_header_specs(tmp_path, manifest_specs(tmp_path))]
    assert len(reps) == 2
    for rep in reps:
        assert rep.ok and rep.emulated and rep.runs, rep.describe()
        assert not any("emulat" in n for n in rep.not_run), rep.not_run
        assert QemuMachine.blind_image in rep.warnings  # what the engine could not observe is said


@pytest.mark.parametrize("arch, kind", [("loong64", "clobber_dropped"), ("loong64", "swap_args"),
                                        ("ppc64le", "clobber_dropped")])
def test_a_broken_wrapper_fails_on_qemu(arch, kind):
    stub = _stub(arch, "read")
    broken = dict(mutants(stub))
    rep = check_mutant(stub, broken[kind])
    assert not rep.ok and rep.problems and rep.emulated, rep.describe()


def test_the_image_area_is_unmapped_to_a_stub_after_an_image():
    # A stub must find LINKER (inside the image area) unmapped, before and after an image.
    from stubgen.verifier import Verifier

    need_tool(QEMU["loong64"], "qemu-user")
    v = Verifier()
    m = v.machine(v.tables.arch("loong64"), "qemu")
    with pytest.raises(ProtocolError):
        m.client.read_memory(LINKER, 4)
    m.load_image([(IMAGE, b"\x01\x02\x03\x04"), (LINKER, b"\x05\x06\x07\x08")], {})
    assert m.uc.mem_read(LINKER, 4) == b"\x05\x06\x07\x08"
    m.unload_image()
    with pytest.raises(ProtocolError):
        m.client.read_memory(LINKER, 4)
    m.load_image([(IMAGE, b"\x01")], {})
    assert m.uc.mem_read(IMAGE + 1, 3) == b"\0\0\0"  # nothing of the earlier image is left
    m.unload_image()


def test_a_write_into_the_images_own_data_is_seen_on_qemu():
    # The gdbstub reports no accesses: the writable segments are compared before and
    # after each run, so a wrapper that stores into a static of its header is named, as
    # Unicorn names it (a warning: the input's own data). And a changed data page that
    # shares its page with code is rewritten before the next run without changing the
    # caller's registers (the gate's mprotect runs before they are set).
    stub = _stub("loong64", "read")
    text = stub.text.replace("static __inline__ long sys_read", "static long sg_seen;\nstatic __inline__ long sys_read")
    text = text.replace("\tlong _sg_ret = _sg_a0;", "\tlong _sg_ret = _sg_a0;\n\t*(volatile long *)&sg_seen = _sg_ret + 1;")
    rep = check_mutant(stub, text)
    assert rep.ok and rep.emulated, rep.describe()
    assert any("into the input's own data (sg_seen" in w for w in rep.warnings), rep.warnings
