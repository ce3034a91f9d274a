/* Cross-check of generated GNU stubs of other argument shapes against the running
   kernel. Built by stubgen.crosscheck with -include <generated header> and
     -DSIX=<symbol of a six-argument mmap: mmap, or mmap2 where that is the one>
     -DSIX_PGOFF=<1 if its offset counts 4096-byte pages (mmap2), 0 if bytes>
     -DPAIR=<symbol of pread64> -DPAIR_HALVES=<1 if it takes the offset as two u32
      halves (i386's sys_ia32_pread64), 0 if as one 64-bit argument> -DPAIR_PAD=<1 if a pad
      word comes before the halves (powerpc's sys_ppc_pread64)> -DPAIR_HIGH_FIRST=<1 on big-endian>
     -DEXIT_GROUP=<symbol of exit_group> -DSTUB_RETURNS=<0|1> -DPOLICY_ERRNO=<0|1>
     -DERRNO_HANDLER=<symbol>
   The mode is $STUBGEN_CROSSCHECK_MODE: six, pair, noreturn. Prints PASS/FAIL lines;
   exits 1 if anything failed. On i386 (cdecl) and arm (AAPCS, arguments 5 and 6)
   the six arguments reach the stub on the stack. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;

static void check(int ok, const char *what, const char *fmt, long a, long b)
{
	printf("%s %s: ", ok ? "PASS" : "FAIL", what);
	printf(fmt, a, b);
	printf("\n");
	failed |= !ok;
}

void ERRNO_HANDLER(int e) { errno = e; }

static __attribute__((unused)) int temp_file(void)
{
	char path[] = "/tmp/stubgen-shapes-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

/* Six arguments: map page 1 of a two-page file; the fifth (fd) and sixth (offset)
   must be right for the mapping to show page 1's bytes. Pages are the system's
   (qemu-loongarch64 7.2 has 16 KiB pages); mmap2 counts its offset in 4096 bytes. */
static void six(void)
{
#if STUB_RETURNS
	long page = sysconf(_SC_PAGESIZE);
	int fd = temp_file();
	unsigned char *buf = malloc(2 * page);
	if (!buf) {
		perror("malloc");
		exit(2);
	}
	memset(buf, 0x11, page);
	memset(buf + page, 0x5a, page);
	if (write(fd, buf, 2 * page) != 2 * page) {
		perror("write");
		exit(2);
	}
	free(buf);
	long off = SIX_PGOFF ? page / 4096 : page;
	long r = (long)SIX(0, page, PROT_READ, MAP_PRIVATE, fd, off);
	int ok = r > 0 || r < -4095;
	check(ok, "six args", "mmap returned %#lx (errno %ld)", r, errno);
	if (ok) {
		unsigned char *p = (unsigned char *)r;
		check(p[0] == 0x5a && p[page - 1] == 0x5a, "six args offset", "page 1 reads %#lx, %#lx (want 0x5a)",
		      p[0], p[page - 1]);
	}
#endif
}

/* A 64-bit pair: pread at an offset above 4 GiB (a sparse file), so that both halves
   matter; the marker written there by the C library must come back. */
static void pair(void)
{
#if STUB_RETURNS
	int fd = temp_file();
	unsigned long long pos = (1ULL << 32) + 0x1230;
	const char marker[] = "stubgen-pair";
	if (pwrite(fd, marker, sizeof marker, (off_t)pos) != (long)sizeof marker) {
		printf("SKIP pair: cannot write at 4 GiB + 0x1230 here (errno %d)\n", errno);
		return;
	}
	char got[sizeof marker] = {0};
#if PAIR_HALVES && PAIR_HIGH_FIRST
#define PAIR_POS (unsigned int)(pos >> 32), (unsigned int)pos
#elif PAIR_HALVES
#define PAIR_POS (unsigned int)pos, (unsigned int)(pos >> 32)
#endif
#if PAIR_HALVES && PAIR_PAD
	long r = PAIR(fd, got, sizeof got, 0, PAIR_POS);
#elif PAIR_HALVES
	long r = PAIR(fd, got, sizeof got, PAIR_POS);
#else
	long r = PAIR(fd, got, sizeof got, (long long)pos);
#endif
	check(r == (long)sizeof marker, "pair", "pread64 returned %ld (want %ld)", r, (long)sizeof marker);
	long same = memcmp(got, marker, sizeof marker) == 0;
	check(same, "pair bytes", "marker read back: %ld (of %ld)", same, 1);
#endif
}

/* Never returns: a child calls exit_group(42); the parent sees status 42. */
static void noreturn_call(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		EXIT_GROUP(42);
		_exit(99); /* not reached: the stub does not return */
	}
	int status = 0;
	waitpid(pid, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 42, "noreturn", "child status %#lx (want exit %ld)",
	      status, 42);
}

int main(void)
{
	const char *mode = getenv("STUBGEN_CROSSCHECK_MODE");
	setvbuf(stdout, 0, _IOLBF, 0);
	if (!mode) {
		fprintf(stderr, "STUBGEN_CROSSCHECK_MODE not set\n");
		return 2;
	}
	if (!strcmp(mode, "six"))
		six();
	else if (!strcmp(mode, "pair"))
		pair();
	else if (!strcmp(mode, "noreturn"))
		noreturn_call();
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	return failed;
}
