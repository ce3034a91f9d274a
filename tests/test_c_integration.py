"""What a C project expects of the GNU output: syscall number macros that sit beside
<sys/syscall.h>, one header that picks the architecture, symbol visibility, and stubs
that link into a shared library and a PIE without a warning, on every architecture of
the tables that has a cross gcc here (or, where the tables name it, LLVM's zig cc)."""
import re
import subprocess

import pytest
from conftest import need_gnu_tool, need_real, need_tool, tool_missing

import stubgen
from stubgen import cli, tables
from stubgen.errors import StubgenError
from stubgen.realtools import crosscheck
from stubgen.realtools import tools as realtools

ARCHES = sorted(tables.load().arches)


def sh(*cmd, cwd=None, env=None):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def compiler(arch):
    """The C compiler command for arch (a cross gcc, or zig cc where the tables name it)
    and its environment."""
    return need_real(realtools.c_compiler, arch), realtools.c_env(arch)


def test_number_macros_are_namespaced_by_default_and_the_prefix_is_an_option(tmp_path):
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["amd64"]), tmp_path / "a")
    h = (tmp_path / "a" / "gnu" / "stubs_sysnum_amd64.h").read_text()
    assert "#define STUBGEN_SYS_madvise 28\n" in h and not re.search(r"^#define SYS_", h, re.M)
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["amd64"], sysnum_prefix="MY_NR_"), tmp_path / "b")
    assert "#define MY_NR_madvise 28\n" in (tmp_path / "b" / "gnu" / "stubs_sysnum_amd64.h").read_text()
    with pytest.raises(StubgenError, match="prefix 'SYS-' is not an identifier"):
        stubgen.generate(dialects=["gnu"], sysnum_prefix="SYS-")


def test_special_calls_are_marked_in_the_header(tmp_path):
    # A call that never returns says so where it is declared (the tables mark it).
    stubgen.write(stubgen.generate(["rt_sigreturn", "madvise"], dialects=["gnu"]), tmp_path)
    h = (tmp_path / "gnu" / "stubs.h").read_text()
    assert re.search(r"rt_sigreturn: the call never returns[^*]*\*/\n(__attribute__\S* )?\w+ sys_rt_sigreturn\(", h), h
    assert "madvise: return the kernel's result (a negative errno on failure). */" in h
    # A call that returns twice has no typed stub at all, and the refusal says why.
    with pytest.raises(StubgenError, match="clone.*returns twice"):
        stubgen.generate(["clone"], dialects=["gnu"])


STRICT = r"""#include "stubs.h"
static const char msg[] = "bye\n";
_Noreturn void die(const char *path, int code) {
    sys_write(2, msg, sizeof msg - 1);
    sys_openat(-100, path, 0, 0);
    sys_exit_group(code);
}
"""


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_stubs_h_takes_const_data_and_says_what_never_returns(tmp_path, cc):
    """Strict builds of a caller: const data passes where the kernel only reads
    (write's buffer, openat's path: const in the kernel's prototypes), and a noreturn
    function may end with exit_group (declared noreturn). gcc and clang (zig cc)."""
    if cc == "gcc":
        command = [need_tool("gcc", "gcc")]
    else:
        from stubgen.verifier import llvm

        if not llvm.available():
            tool_missing("clang (zig cc) not installed: pip install 'stubgen[llvm]'")
        command = [str(llvm.zig()), "cc"]
    stubgen.write(stubgen.generate("all", dialects=["gnu"], arches=["amd64"]), tmp_path)
    (tmp_path / "strict.c").write_text(STRICT)
    r = sh(*command, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", tmp_path / "gnu", "-c", "-o",
           tmp_path / "strict.o", tmp_path / "strict.c")
    assert r.returncode == 0, r.stderr
    h = (tmp_path / "gnu" / "stubs.h").read_text()
    assert "long sys_write(int fd, const void *buf, unsigned long count);" in h
    assert "__attribute__((__noreturn__)) void sys_exit_group(int error_code);" in h


@pytest.fixture(scope="module", params=["raw", "errno"])
def generated(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"c-{request.param}")
    stubgen.write(stubgen.generate("all", dialects=["gnu"], policy=request.param), out)
    return out, request.param


def _offered(arch, policy):
    """Skip where the GNU template has no such policy (ppc's errno: README, quirk table)."""
    if policy not in stubgen.dialects.dialect("gnu").offers(arch, "policy"):
        pytest.skip(f"{arch}: templates/gnu/{arch}.S.j2 offers no {policy} policy")


PROGRAM = """#include <sys/syscall.h>
#include "stubs_sysnum.h"
#include "stubs.h"
_Static_assert(STUBGEN_SYS_madvise == {madvise}, "the umbrella header picked {arch}'s numbers");
void stubgen_errno(int err) {{ (void)err; }}
long call_it(char *p) {{ return sys_madvise(p, 4096, 4) + SYS_madvise; }}
int main(void) {{ return 0; }}
"""


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ARCHES)
def test_a_c_program_with_sys_syscall_h_compiles_and_links_shared_and_pie(generated, arch, tmp_path):
    out, policy = generated
    _offered(arch, policy)
    cc, env = compiler(arch)
    a = tables.load().arches[arch]
    src = tmp_path / "prog.c"
    src.write_text(PROGRAM.format(madvise=a.numbers["madvise"], arch=arch))
    obj = tmp_path / "stubs.o"
    r = sh(*cc, "-c", "-o", obj, out / "gnu" / f"stubs_linux_{arch}.S", env=env)
    assert r.returncode == 0 and not r.stderr, r.stderr
    r = sh(*cc, "-c", "-fPIC", "-Wall", "-Wextra", "-Werror", "-I", out / "gnu", "-o", tmp_path / "prog.o", src,
           env=env)
    if "sys/syscall.h: No such file" in r.stderr:
        pytest.skip(f"no C library for {cc[0]}")
    assert r.returncode == 0 and not r.stderr, r.stderr
    for flags in (["-shared"], ["-fPIE", "-pie"]):
        target = tmp_path / ("lib.so" if "-shared" in flags else "prog")
        r = sh(*cc, *flags, "-o", target, tmp_path / "prog.o", obj, env=env)
        assert r.returncode == 0 and r.stderr == "", f"{policy} {flags}: {r.stderr}"
        assert not realtools.has_textrel(target, arch), f"{policy} {flags}: DT_TEXTREL"


@pytest.mark.crosscheck
def test_the_link_check_fails_on_a_stub_that_needs_a_text_relocation(tmp_path):
    """The 386 errno stub before its PLT call: a plain call to the handler."""
    need_gnu_tool("386", "gcc")
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["386"], policy="errno"), tmp_path / "out")
    asm = tmp_path / "out" / "gnu" / "stubs_linux_386.S"
    assert "call\tstubgen_errno@PLT" in asm.read_text()
    asm.write_text(asm.read_text().replace("stubgen_errno@PLT", "stubgen_errno"))
    (r,) = crosscheck.run(tmp_path / "out", checks=["gnu link"], work=tmp_path / "work")
    assert r.status == crosscheck.FAIL and "text" in r.detail.lower(), r


@pytest.mark.crosscheck
def test_the_link_check_fails_when_the_number_macros_collide_with_glibc(tmp_path):
    need_gnu_tool("amd64", "gcc")
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=["amd64"], sysnum_prefix="SYS_"), tmp_path / "out")
    (r,) = crosscheck.run(tmp_path / "out", checks=["gnu link"], work=tmp_path / "work")
    assert r.status == crosscheck.FAIL and "redefined" in r.detail, r


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ARCHES)
def test_hidden_and_weak_symbols(arch, tmp_path):
    readelf = need_gnu_tool(arch, "readelf")
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=[arch], visibility="hidden", weak=True), tmp_path)
    obj = realtools.gnu_assemble(tmp_path / "gnu" / f"stubs_linux_{arch}.S", arch, tmp_path / "s.o")
    (line,) = [ln for ln in sh(readelf, "-sW", obj).stdout.splitlines() if ln.endswith(" sys_madvise")]
    assert " WEAK " in line and " HIDDEN " in line, line
    assert 'visibility("hidden")' in (tmp_path / "gnu" / "stubs.h").read_text()
    # The verifier reads the weak symbol back, and GNU as's bytes still match.
    assert cli.main(["verify", str(tmp_path)]) == 0


def test_visibility_is_checked():
    with pytest.raises(StubgenError, match="unknown visibility 'secret'"):
        stubgen.generate(dialects=["gnu"], visibility="secret")


MAIN = r"""#include <errno.h>
#include <stdio.h>
#include "stubs.h"
int calls;
void stubgen_errno(int err) { calls++; errno = err; }
int main(void) {
    errno = 0;
    long r = sys_madvise((void *)1, 4096, 4);  /* misaligned: EINVAL */
    printf("%ld %d %d\n", r, errno, calls);
    return 0;
}
"""


@pytest.mark.crosscheck
@pytest.mark.parametrize("arch", ARCHES)
def test_errno_stubs_in_a_shared_object_set_errno_for_the_main_program(arch, tmp_path):
    """The errno stubs alone in a shared object, called from a PIE that holds the
    handler, under the real kernel: -1, errno 22, the handler called once. MIPS reaches
    the handler through the GOT (it did not link before); ppc64le sets its own TOC at
    its global entry point (before, its call to the handler used the caller's TOC:
    -1 with errno 0)."""
    a = tables.load().arches[arch]
    if a.c_toolchain.get("zig"):
        pytest.skip(f"{arch}: C is built by zig cc against musl here, which links statically")
    _offered(arch, "errno")
    cc, env = compiler(arch)
    stubgen.write(stubgen.generate(dialects=["gnu"], arches=[arch], policy="errno"), tmp_path)
    gnu = tmp_path / "gnu"
    lib, prog = tmp_path / "libstubs.so", tmp_path / "main"
    (tmp_path / "main.c").write_text(MAIN)
    for cmd in ([*cc, "-shared", "-o", lib, gnu / f"stubs_linux_{arch}.S"],
                [*cc, "-fPIE", "-pie", "-I", gnu, "-o", prog, tmp_path / "main.c", lib, f"-Wl,-rpath,{tmp_path}"]):
        r = sh(*cmd, env=env)
        if "stdio.h: No such file" in r.stderr or "cannot find -lc" in r.stderr:
            pytest.skip(f"no C library for {cc[0]}")
        assert r.returncode == 0, r.stderr
    try:  # natively where this kernel runs it and its C library is installed
        r = sh(prog)
    except OSError:
        r = sh(need_real(realtools.qemu_tool, arch), "-L", f"/usr/{a.gnu_triple}", prog)
    assert r.returncode == 0 and r.stdout.split() == ["-1", "22", "1"], (r.stdout, r.stderr)
