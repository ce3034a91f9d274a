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

The checks and their rows (checks.py), the generated directory (generated.py), the Go
and C programs (gobuild.py, cbuild.py), running them on the kernel (kernelrun.py), and
the whole run (run.py); report/crosscheck.py prints it.
"""

from .cbuild import build_c, link_c
from .checks import CHECKS, FAIL, PASS, SHAPES, SKIP, Result
from .generated import Generated, every_symbol, load
from .kernelrun import judge, run_mode, six_argument_mmap
from .run import run

__all__ = ["CHECKS", "FAIL", "PASS", "SHAPES", "SKIP", "Generated", "Result", "build_c", "every_symbol", "judge",
           "link_c", "load", "run", "run_mode", "six_argument_mmap"]
