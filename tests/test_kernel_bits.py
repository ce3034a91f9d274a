"""The verifier checks exactly the bits the kernel reads of each argument: all of a
word, 32 of an int on amd64, 16 of a umode_t (which travels as 32 bits, as in Go's
x/sys/unix and C's promotion). Kernel facts written here: openat(int dfd, const char
*filename, int flags, umode_t mode), x86-64 takes the fourth argument in r10."""
import stubgen
from stubgen.verifier import Spec, Verifier


def _check(text, s):
    return Verifier().check(text, Spec(s.arch, s.dialect, s.symbol, s.syscall, s.number, s.policy, s.trap))


def test_umode_t_is_16_bits_the_kernel_reads():
    (s,) = stubgen.generate(["openat"], ["amd64"], ["gnu"])
    mode = s._context.frame.args[3]
    assert (mode.size, mode.bits, mode.parts[0].kreg) == (4, 16, "r10")
    assert "mov\t%rcx, %r10" in s.text
    assert _check(s.text, s).ok
    # only the 16 bits the kernel reads: still right (r10's upper bits are the poison)
    assert _check(s.text.replace("mov\t%rcx, %r10", "mov\t%cx, %r10w"), s).ok
    # 8 of them: wrong, and the message says which bits
    rep = _check(s.text.replace("mov\t%rcx, %r10", "mov\t%cl, %r10b"), s)
    assert any("argument 4 (16 bits the kernel reads of a 32-bit value) in r10" in p for p in rep.problems), \
        rep.problems


def test_an_int_is_32_bits_on_amd64():
    (s,) = stubgen.generate(["openat"], ["amd64"], ["gnu"])
    flags = s._context.frame.args[2]
    assert (flags.size, flags.bits, flags.parts[0].kreg) == (4, 32, "rdx")
    (m,) = stubgen.generate(["madvise"], ["amd64"], ["gnu"])
    # advice arrives in edx already; a stub that clobbers its upper half fails
    text = m.text.replace("\tmov\t$0x1c, %eax", "\tmov\t%dx, %dx\n\tshl\t$0x10, %edx\n\tmov\t$0x1c, %eax")
    assert text != m.text
    assert any("argument 3 (32-bit)" in p for p in _check(text, m).problems)
