/* Link check of generated GNU stubs (stubgen crosscheck, "gnu link"). Included by a
   unit that first includes <sys/syscall.h> and every generated header of the
   architecture (so the syscall number macros must not collide with glibc's), compiled
   with -fPIC -Wall -Wextra -Werror, then linked with the stubs' object as a shared
   library and as a PIE with -z text and --fatal-warnings: a stub that needs a text
   relocation fails. -DERRNO_HANDLER=<symbol>: the errno policy's handler, defined here. */

void ERRNO_HANDLER(int err);
void ERRNO_HANDLER(int err) { (void)err; }

int main(void) { return 0; }
