/* The verifier's fallback <errno.h> for the header callers it compiles (frontend.py
   compile_callers, -idirafter): used only where zig cc has no C library headers for the
   target (powerpc64-linux-gnu: LLVM's ELF V1, which zig ships no libc for). errno is
   glibc's and musl's, an lvalue through __errno_location, which the verifier's stand-in
   (stubgen/verifier/standins.yaml) answers. */
#ifndef STUBGEN_FALLBACK_ERRNO_H
#define STUBGEN_FALLBACK_ERRNO_H
extern int *__errno_location(void);
#define errno (*__errno_location())
#endif
