/* Cross-check of a generated GNU madvise stub against the running kernel.
   Built by stubgen.crosscheck with -include <generated header> and
   -DSTUB=<symbol> -DSTUB_RETURNS=<0|1> -DPOLICY_ERRNO=<0|1> -DERRNO_HANDLER=<symbol>;
   the mode is $STUBGEN_CROSSCHECK_MODE (valid, misaligned, callee).
   -DSTUB_INLINE=1: STUB is a static inline wrapper (the C dialect's header), which has
   no symbol to call from assembly: no callee mode.
   Prints PASS/FAIL lines; exits 1 if anything failed. A stub that crashes on
   error is expected to kill the process on "misaligned", before "survived". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE (64UL << 20)
#define MIN_DROP (60UL << 20)
#define MADV_DONTNEED_ 4
#define STR_(x) #x
#define STR(x) STR_(x)

static int failed;

static void check(int ok, const char *what, const char *fmt, long a, long b)
{
	printf("%s %s: ", ok ? "PASS" : "FAIL", what);
	printf(fmt, a, b);
	printf("\n");
	failed |= !ok;
}

/* The errno policy calls this with the positive errno. */
void ERRNO_HANDLER(int e) { errno = e; }

static long resident(void)
{
	long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &size, &rss) != 2) {
		perror("/proc/self/statm");
		exit(2);
	}
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static unsigned char *touched(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(0, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	for (unsigned long i = 0; i < SIZE; i += page)
		p[i] = 0xa5;
	return p;
}

static long call(void *addr, unsigned long len)
{
#if STUB_RETURNS
	return STUB(addr, len, MADV_DONTNEED_);
#else
	STUB(addr, len, MADV_DONTNEED_);
	return 0;
#endif
}

static void after_dontneed(unsigned char *p, long before)
{
	long drop = before - resident();
	check(drop >= (long)MIN_DROP, "rss", "dropped by %ld KiB (need %ld KiB)", drop >> 10, MIN_DROP >> 10);
	long nonzero = 0;
	for (unsigned long i = 0; i < SIZE; i++)
		nonzero += p[i] != 0;
	check(nonzero == 0, "zero", "%ld nonzero bytes of %ld", nonzero, SIZE);
}

static void valid(void)
{
	unsigned char *p = touched();
	long before = resident();
	errno = 0;
	long r = call(p, SIZE);
	check(r == 0, "result", "madvise(DONTNEED) returned %ld (errno %ld)", r, errno);
	after_dontneed(p, before);
}

static void misaligned(void)
{
	unsigned char *p = touched();
	errno = 0;
	long r = call(p + 1, 4096);
	printf("survived result=%ld errno=%d\n", r, errno);
#if STUB_RETURNS && POLICY_ERRNO
	int e = errno;
	check(r == -1, "misaligned", "returned %ld (want %ld)", r, -1);
	check(e == EINVAL, "errno", "errno %ld (want %ld)", e, EINVAL);
#elif STUB_RETURNS
	check(r == -EINVAL, "misaligned", "returned %ld (want %ld)", r, -EINVAL);
#endif
}

/* Loads a distinct known value into every callee-saved register, calls the stub
   from assembly (so the compiler cannot save anything for it), and stores what
   the registers hold afterwards. The register lists are the C ABI's. */
#define K(i) (0x5a5a5a00UL + (i))
#if STUB_INLINE
static void callee_saved(void)
{
	printf("SKIP callee: an inline wrapper has no symbol to call from assembly\n");
}
#else
static void callee_saved(void)
{
	unsigned char *p = touched();
	long before = resident();
	unsigned long out[24] = {0};
	int n = 0;
	const char *names[24] = {0};
#if defined(__x86_64__)
	{
		register unsigned long a0 asm("rdi") = (unsigned long)p;
		register unsigned long a1 asm("rsi") = SIZE;
		register unsigned long a2 asm("rdx") = MADV_DONTNEED_;
		register unsigned long o asm("rcx") = (unsigned long)out;
		__asm__ volatile(
			"lea -128(%%rsp), %%rsp\n\t" /* keep off the red zone */
			"push %%rbx; push %%rbp; push %%r12; push %%r13; push %%r14; push %%r15; push %%rcx\n\t"
			"mov %%rsp, %%rax; and $-16, %%rsp; push %%rax; push %%rax\n\t"
			"mov $0x5a5a5a00, %%rbx; mov $0x5a5a5a01, %%rbp; mov $0x5a5a5a02, %%r12\n\t"
			"mov $0x5a5a5a03, %%r13; mov $0x5a5a5a04, %%r14; mov $0x5a5a5a05, %%r15\n\t"
			"call " STR(STUB) "\n\t"
			"mov (%%rsp), %%rsp; pop %%rcx\n\t"
			"mov %%rax, 0(%%rcx); mov %%rbx, 8(%%rcx); mov %%rbp, 16(%%rcx); mov %%r12, 24(%%rcx)\n\t"
			"mov %%r13, 32(%%rcx); mov %%r14, 40(%%rcx); mov %%r15, 48(%%rcx)\n\t"
			"pop %%r15; pop %%r14; pop %%r13; pop %%r12; pop %%rbp; pop %%rbx\n\t"
			"lea 128(%%rsp), %%rsp"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "rax", "r8", "r9", "r10", "r11", "memory", "cc");
		const char *nm[] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
		n = 6;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__i386__)
	{
		register unsigned long a0 asm("ecx") = (unsigned long)p;
		register unsigned long a1 asm("edx") = SIZE;
		register unsigned long o asm("eax") = (unsigned long)out;
		__asm__ volatile(
			"push %%ebp; push %%ebx; push %%esi; push %%edi; push %%eax\n\t"
			"mov $0x5a5a5a00, %%ebx; mov $0x5a5a5a01, %%esi; mov $0x5a5a5a02, %%edi; mov $0x5a5a5a03, %%ebp\n\t"
			"push $4; push %%edx; push %%ecx\n\t"
			"call " STR(STUB) "\n\t"
			"add $12, %%esp; pop %%ecx\n\t"
			"mov %%eax, 0(%%ecx); mov %%ebx, 4(%%ecx); mov %%esi, 8(%%ecx); mov %%edi, 12(%%ecx)\n\t"
			"mov %%ebp, 16(%%ecx)\n\t"
			"pop %%edi; pop %%esi; pop %%ebx; pop %%ebp"
			: "+r"(a0), "+r"(a1), "+r"(o)
			:
			: "memory", "cc");
		const char *nm[] = {"ebx", "esi", "edi", "ebp"};
		n = 4;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__arm__) && (!defined(__thumb__) || defined(__thumb2__))
	/* ARM state, or Thumb-2, where r7 is the frame pointer, so the compiler is never told
	   it is clobbered: the block saves and restores it itself, as every other register.
	   Only the load of the first seed differs (Thumb-2 has movw/movt; ARM a literal). */
#if defined(__thumb2__)
#define SEED_R4 "movw r4, #0x5a00; movt r4, #0x5a5a\n\t"
#else
#define SEED_R4 "ldr r4, 1f\n\tb 2f\n1:\t.word 0x5a5a5a00\n2:\t"
#endif
	{
		register unsigned long a0 asm("r0") = (unsigned long)p;
		register unsigned long a1 asm("r1") = SIZE;
		register unsigned long a2 asm("r2") = MADV_DONTNEED_;
		register unsigned long o asm("r3") = (unsigned long)out;
		__asm__ volatile(
			"push {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t"
			SEED_R4
			"add r5, r4, #1; add r6, r4, #2; add r7, r4, #3\n\t"
			"add r8, r4, #4; add r9, r4, #5; add r10, r4, #6; add r11, r4, #7\n\t"
			"bl " STR(STUB) "\n\t"
			"ldr r3, [sp]\n\t"
			"str r0, [r3]; str r4, [r3, #4]; str r5, [r3, #8]; str r6, [r3, #12]; str r7, [r3, #16]\n\t"
			"str r8, [r3, #20]; str r9, [r3, #24]; str r10, [r3, #28]; str r11, [r3, #32]\n\t"
			"pop {r3, r4, r5, r6, r7, r8, r9, r10, r11, lr}"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "r12", "lr", "memory", "cc");
		const char *nm[] = {"r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11"};
		n = 8;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__aarch64__)
	{
		register unsigned long a0 asm("x0") = (unsigned long)p;
		register unsigned long a1 asm("x1") = SIZE;
		register unsigned long a2 asm("x2") = MADV_DONTNEED_;
		register unsigned long o asm("x3") = (unsigned long)out;
		__asm__ volatile(
			"stp x19, x20, [sp, #-96]!; stp x21, x22, [sp, #16]; stp x23, x24, [sp, #32]\n\t"
			"stp x25, x26, [sp, #48]; stp x27, x28, [sp, #64]; stp x3, x30, [sp, #80]\n\t"
			"movz x19, #0x5a00; movk x19, #0x5a5a, lsl #16; add x20, x19, #1; add x21, x19, #2\n\t"
			"add x22, x19, #3; add x23, x19, #4; add x24, x19, #5; add x25, x19, #6\n\t"
			"add x26, x19, #7; add x27, x19, #8; add x28, x19, #9\n\t"
			"bl " STR(STUB) "\n\t"
			"ldr x3, [sp, #80]\n\t"
			"str x0, [x3]; stp x19, x20, [x3, #8]; stp x21, x22, [x3, #24]; stp x23, x24, [x3, #40]\n\t"
			"stp x25, x26, [x3, #56]; stp x27, x28, [x3, #72]\n\t"
			"ldp x21, x22, [sp, #16]; ldp x23, x24, [sp, #32]; ldp x25, x26, [sp, #48]\n\t"
			"ldp x27, x28, [sp, #64]; ldp x3, x30, [sp, #80]; ldp x19, x20, [sp], #96"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
			  "x30", "memory", "cc");
		const char *nm[] = {"x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28"};
		n = 10;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__riscv) && __riscv_xlen == 64
	{
		register unsigned long a0 asm("a0") = (unsigned long)p;
		register unsigned long a1 asm("a1") = SIZE;
		register unsigned long a2 asm("a2") = MADV_DONTNEED_;
		register unsigned long o asm("a3") = (unsigned long)out;
		__asm__ volatile(
			"addi sp, sp, -112\n\t"
			"sd s0, 0(sp); sd s1, 8(sp); sd s2, 16(sp); sd s3, 24(sp); sd s4, 32(sp); sd s5, 40(sp)\n\t"
			"sd s6, 48(sp); sd s7, 56(sp); sd s8, 64(sp); sd s9, 72(sp); sd s10, 80(sp); sd s11, 88(sp)\n\t"
			"sd a3, 96(sp); sd ra, 104(sp)\n\t"
			"li s0, 0x5a5a5a00; addi s1, s0, 1; addi s2, s0, 2; addi s3, s0, 3; addi s4, s0, 4\n\t"
			"addi s5, s0, 5; addi s6, s0, 6; addi s7, s0, 7; addi s8, s0, 8; addi s9, s0, 9\n\t"
			"addi s10, s0, 10; addi s11, s0, 11\n\t"
			"call " STR(STUB) "\n\t"
			"ld a3, 96(sp)\n\t"
			"sd a0, 0(a3); sd s0, 8(a3); sd s1, 16(a3); sd s2, 24(a3); sd s3, 32(a3); sd s4, 40(a3)\n\t"
			"sd s5, 48(a3); sd s6, 56(a3); sd s7, 64(a3); sd s8, 72(a3); sd s9, 80(a3); sd s10, 88(a3)\n\t"
			"sd s11, 96(a3)\n\t"
			"ld s0, 0(sp); ld s1, 8(sp); ld s2, 16(sp); ld s3, 24(sp); ld s4, 32(sp); ld s5, 40(sp)\n\t"
			"ld s6, 48(sp); ld s7, 56(sp); ld s8, 64(sp); ld s9, 72(sp); ld s10, 80(sp); ld s11, 88(sp)\n\t"
			"ld ra, 104(sp); addi sp, sp, 112"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "a4", "a5", "a6", "a7", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "ra", "memory");
		const char *nm[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"};
		n = 12;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__riscv) && __riscv_xlen == 32
	{
		/* ILP32: the same as riscv64's with 4-byte words (a 64-byte frame keeps sp 16-aligned). */
		register unsigned long a0 asm("a0") = (unsigned long)p;
		register unsigned long a1 asm("a1") = SIZE;
		register unsigned long a2 asm("a2") = MADV_DONTNEED_;
		register unsigned long o asm("a3") = (unsigned long)out;
		__asm__ volatile(
			"addi sp, sp, -64\n\t"
			"sw s0, 0(sp); sw s1, 4(sp); sw s2, 8(sp); sw s3, 12(sp); sw s4, 16(sp); sw s5, 20(sp)\n\t"
			"sw s6, 24(sp); sw s7, 28(sp); sw s8, 32(sp); sw s9, 36(sp); sw s10, 40(sp); sw s11, 44(sp)\n\t"
			"sw a3, 48(sp); sw ra, 52(sp)\n\t"
			"li s0, 0x5a5a5a00; addi s1, s0, 1; addi s2, s0, 2; addi s3, s0, 3; addi s4, s0, 4\n\t"
			"addi s5, s0, 5; addi s6, s0, 6; addi s7, s0, 7; addi s8, s0, 8; addi s9, s0, 9\n\t"
			"addi s10, s0, 10; addi s11, s0, 11\n\t"
			"call " STR(STUB) "\n\t"
			"lw a3, 48(sp)\n\t"
			"sw a0, 0(a3); sw s0, 4(a3); sw s1, 8(a3); sw s2, 12(a3); sw s3, 16(a3); sw s4, 20(a3)\n\t"
			"sw s5, 24(a3); sw s6, 28(a3); sw s7, 32(a3); sw s8, 36(a3); sw s9, 40(a3); sw s10, 44(a3)\n\t"
			"sw s11, 48(a3)\n\t"
			"lw s0, 0(sp); lw s1, 4(sp); lw s2, 8(sp); lw s3, 12(sp); lw s4, 16(sp); lw s5, 20(sp)\n\t"
			"lw s6, 24(sp); lw s7, 28(sp); lw s8, 32(sp); lw s9, 36(sp); lw s10, 40(sp); lw s11, 44(sp)\n\t"
			"lw ra, 52(sp); addi sp, sp, 64"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "a4", "a5", "a6", "a7", "t0", "t1", "t2", "t3", "t4", "t5", "t6", "ra", "memory");
		const char *nm[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"};
		n = 12;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__loongarch64)
	{
		/* LoongArch psABI: s0-s8 and fp (r22) are callee-saved. */
		register unsigned long a0 asm("$a0") = (unsigned long)p;
		register unsigned long a1 asm("$a1") = SIZE;
		register unsigned long a2 asm("$a2") = MADV_DONTNEED_;
		register unsigned long o asm("$a3") = (unsigned long)out;
		__asm__ volatile(
			"addi.d $sp, $sp, -112\n\t"
			"st.d $s0, $sp, 0; st.d $s1, $sp, 8; st.d $s2, $sp, 16; st.d $s3, $sp, 24; st.d $s4, $sp, 32\n\t"
			"st.d $s5, $sp, 40; st.d $s6, $sp, 48; st.d $s7, $sp, 56; st.d $s8, $sp, 64; st.d $fp, $sp, 72\n\t"
			"st.d $a3, $sp, 80; st.d $ra, $sp, 88\n\t"
			"li.w $s0, 0x5a5a5a00; addi.d $s1, $s0, 1; addi.d $s2, $s0, 2; addi.d $s3, $s0, 3\n\t"
			"addi.d $s4, $s0, 4; addi.d $s5, $s0, 5; addi.d $s6, $s0, 6; addi.d $s7, $s0, 7\n\t"
			"addi.d $s8, $s0, 8; addi.d $fp, $s0, 9\n\t"
			"bl " STR(STUB) "\n\t"
			"ld.d $a3, $sp, 80\n\t"
			"st.d $a0, $a3, 0; st.d $s0, $a3, 8; st.d $s1, $a3, 16; st.d $s2, $a3, 24; st.d $s3, $a3, 32\n\t"
			"st.d $s4, $a3, 40; st.d $s5, $a3, 48; st.d $s6, $a3, 56; st.d $s7, $a3, 64; st.d $s8, $a3, 72\n\t"
			"st.d $fp, $a3, 80\n\t"
			"ld.d $s0, $sp, 0; ld.d $s1, $sp, 8; ld.d $s2, $sp, 16; ld.d $s3, $sp, 24; ld.d $s4, $sp, 32\n\t"
			"ld.d $s5, $sp, 40; ld.d $s6, $sp, 48; ld.d $s7, $sp, 56; ld.d $s8, $sp, 64; ld.d $fp, $sp, 72\n\t"
			"ld.d $ra, $sp, 88; addi.d $sp, $sp, 112"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "$a4", "$a5", "$a6", "$a7", "$t0", "$t1", "$t2", "$t3", "$t4", "$t5", "$t6", "$t7", "$t8",
			  "$ra", "memory");
		const char *nm[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "fp"};
		n = 10;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__mips__)
	{
		/* o32 and n64: s0-s7 and s8 (fp) are callee-saved; a3 comes back as the
		   error flag, so the output pointer waits in the frame. */
#if _MIPS_SIM == _ABIO32
#define ST "sw"
#define LD "lw"
#define W "4"
#define LA "la"
#define ADDIU "addiu"
#elif _MIPS_SIM == _ABIN32
/* n32: 64-bit registers saved whole, 32-bit pointers and long (out[] of 4-byte words) */
#define ST "sd"
#define LD "ld"
#define W "8"
#define LA "la"
#define ADDIU "addiu"
#define OST "sw"
#define OW "4"
#else
#define ST "sd"
#define LD "ld"
#define W "8"
#define LA "dla"
#define ADDIU "daddiu"
#endif
#ifndef OST
#define OST ST
#define OW W
#endif
		register unsigned long a0 asm("$4") = (unsigned long)p;
		register unsigned long a1 asm("$5") = SIZE;
		register unsigned long a2 asm("$6") = MADV_DONTNEED_;
		register unsigned long o asm("$7") = (unsigned long)out;
		__asm__ volatile(
			".set push\n\t.set noreorder\n\t.set macro\n\t"
			ADDIU " $sp, $sp, -160\n\t"
			ST " $ra, 16*" W "($sp); " ST " $7, 15*" W "($sp)\n\t"
			ST " $16, 4*" W "($sp); " ST " $17, 5*" W "($sp); " ST " $18, 6*" W "($sp)\n\t"
			ST " $19, 7*" W "($sp); " ST " $20, 8*" W "($sp); " ST " $21, 9*" W "($sp)\n\t"
			ST " $22, 10*" W "($sp); " ST " $23, 11*" W "($sp); " ST " $30, 12*" W "($sp)\n\t"
			"li $16, 0x5a5a5a00; li $17, 0x5a5a5a01; li $18, 0x5a5a5a02; li $19, 0x5a5a5a03\n\t"
			"li $20, 0x5a5a5a04; li $21, 0x5a5a5a05; li $22, 0x5a5a5a06; li $23, 0x5a5a5a07\n\t"
			"li $30, 0x5a5a5a08\n\t"
			LA " $25, " STR(STUB) "\n\t"
			"jalr $25\n\t"
			"nop\n\t"
			LD " $7, 15*" W "($sp)\n\t"
			OST " $2, 0($7); " OST " $16, 1*" OW "($7); " OST " $17, 2*" OW "($7); " OST " $18, 3*" OW "($7)\n\t"
			OST " $19, 4*" OW "($7); " OST " $20, 5*" OW "($7); " OST " $21, 6*" OW "($7); " OST " $22, 7*" OW "($7)\n\t"
			OST " $23, 8*" OW "($7); " OST " $30, 9*" OW "($7)\n\t"
			LD " $16, 4*" W "($sp); " LD " $17, 5*" W "($sp); " LD " $18, 6*" W "($sp)\n\t"
			LD " $19, 7*" W "($sp); " LD " $20, 8*" W "($sp); " LD " $21, 9*" W "($sp)\n\t"
			LD " $22, 10*" W "($sp); " LD " $23, 11*" W "($sp); " LD " $30, 12*" W "($sp)\n\t"
			LD " $ra, 16*" W "($sp)\n\t"
			ADDIU " $sp, $sp, 160\n\t"
			".set pop"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "$1", "$2", "$3", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$24", "$25",
			  "$31", "hi", "lo", "memory");
#undef ST
#undef LD
#undef W
#undef LA
#undef ADDIU
#undef OST
#undef OW
		const char *nm[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
		n = 9;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__s390x__)
	{
		/* r6-r13 are callee-saved; the stub may use the first 160 bytes of this frame
		   (the register save area every caller provides). */
		register unsigned long a0 asm("r2") = (unsigned long)p;
		register unsigned long a1 asm("r3") = SIZE;
		register unsigned long a2 asm("r4") = MADV_DONTNEED_;
		register unsigned long o asm("r5") = (unsigned long)out;
		__asm__ volatile(
			"aghi %%r15, -256\n\t"
			"stmg %%r6, %%r14, 160(%%r15)\n\t"
			"stg %%r5, 240(%%r15)\n\t"
			"lgfi %%r6, 0x5a5a5a00; lgfi %%r7, 0x5a5a5a01; lgfi %%r8, 0x5a5a5a02; lgfi %%r9, 0x5a5a5a03\n\t"
			"lgfi %%r10, 0x5a5a5a04; lgfi %%r11, 0x5a5a5a05; lgfi %%r12, 0x5a5a5a06; lgfi %%r13, 0x5a5a5a07\n\t"
			"brasl %%r14, " STR(STUB) "\n\t"
			"lg %%r5, 240(%%r15)\n\t"
			"stg %%r2, 0(%%r5); stg %%r6, 8(%%r5); stg %%r7, 16(%%r5); stg %%r8, 24(%%r5)\n\t"
			"stg %%r9, 32(%%r5); stg %%r10, 40(%%r5); stg %%r11, 48(%%r5); stg %%r12, 56(%%r5)\n\t"
			"stg %%r13, 64(%%r5)\n\t"
			"lmg %%r6, %%r14, 160(%%r15)\n\t"
			"aghi %%r15, 256"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "r0", "r1", "r14", "memory", "cc");
		const char *nm[] = {"r6", "r7", "r8", "r9", "r10", "r11", "r12", "r13"};
		n = 8;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__powerpc64__)
	{
		/* ELF V1 (ppc64) and V2 (ppc64le): r14-r31 are callee-saved. A frame of our own
		   keeps them, LR and the out pointer past ELF V1's 48-byte header (the TOC save a
		   PLT stub writes is at 40(r1); V2's at 24) and its 64-byte parameter save area;
		   the nop after bl is where the linker may restore the TOC. */
		register unsigned long a0 asm("r3") = (unsigned long)p;
		register unsigned long a1 asm("r4") = SIZE;
		register unsigned long a2 asm("r5") = MADV_DONTNEED_;
		register unsigned long o asm("r6") = (unsigned long)out;
		__asm__ volatile(
			"mflr %%r0\n\t"
			"stdu %%r1, -288(%%r1)\n\t"
			"std %%r0, 272(%%r1); std %%r6, 264(%%r1)\n\t"
			"std %%r14, 112(%%r1); std %%r15, 120(%%r1); std %%r16, 128(%%r1); std %%r17, 136(%%r1); std %%r18, 144(%%r1); std %%r19, 152(%%r1)\n\t"
			"std %%r20, 160(%%r1); std %%r21, 168(%%r1); std %%r22, 176(%%r1); std %%r23, 184(%%r1); std %%r24, 192(%%r1); std %%r25, 200(%%r1)\n\t"
			"std %%r26, 208(%%r1); std %%r27, 216(%%r1); std %%r28, 224(%%r1); std %%r29, 232(%%r1); std %%r30, 240(%%r1); std %%r31, 248(%%r1)\n\t"
			"lis %%r14, 0x5a5a; ori %%r14, %%r14, 0x5a00\n\t"
			"addi %%r15, %%r14, 1; addi %%r16, %%r14, 2; addi %%r17, %%r14, 3; addi %%r18, %%r14, 4; addi %%r19, %%r14, 5; addi %%r20, %%r14, 6\n\t"
			"addi %%r21, %%r14, 7; addi %%r22, %%r14, 8; addi %%r23, %%r14, 9; addi %%r24, %%r14, 10; addi %%r25, %%r14, 11; addi %%r26, %%r14, 12\n\t"
			"addi %%r27, %%r14, 13; addi %%r28, %%r14, 14; addi %%r29, %%r14, 15; addi %%r30, %%r14, 16; addi %%r31, %%r14, 17\n\t"
			"bl " STR(STUB) "\n\t"
			"nop\n\t"
			"ld %%r6, 264(%%r1)\n\t"
			"std %%r3, 0(%%r6)\n\t"
			"std %%r14, 8(%%r6); std %%r15, 16(%%r6); std %%r16, 24(%%r6); std %%r17, 32(%%r6); std %%r18, 40(%%r6); std %%r19, 48(%%r6)\n\t"
			"std %%r20, 56(%%r6); std %%r21, 64(%%r6); std %%r22, 72(%%r6); std %%r23, 80(%%r6); std %%r24, 88(%%r6); std %%r25, 96(%%r6)\n\t"
			"std %%r26, 104(%%r6); std %%r27, 112(%%r6); std %%r28, 120(%%r6); std %%r29, 128(%%r6); std %%r30, 136(%%r6); std %%r31, 144(%%r6)\n\t"
			"ld %%r14, 112(%%r1); ld %%r15, 120(%%r1); ld %%r16, 128(%%r1); ld %%r17, 136(%%r1); ld %%r18, 144(%%r1); ld %%r19, 152(%%r1)\n\t"
			"ld %%r20, 160(%%r1); ld %%r21, 168(%%r1); ld %%r22, 176(%%r1); ld %%r23, 184(%%r1); ld %%r24, 192(%%r1); ld %%r25, 200(%%r1)\n\t"
			"ld %%r26, 208(%%r1); ld %%r27, 216(%%r1); ld %%r28, 224(%%r1); ld %%r29, 232(%%r1); ld %%r30, 240(%%r1); ld %%r31, 248(%%r1)\n\t"
			"ld %%r0, 272(%%r1); mtlr %%r0\n\t"
			"addi %%r1, %%r1, 288"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o)
			:
			: "r0", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "ctr", "xer", "cr0", "cr1", "cr5", "cr6",
			  "cr7", "memory");
		const char *nm[] = {"r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28", "r29", "r30", "r31"};
		n = 18;
		memcpy(names, nm, sizeof nm);
	}
#elif defined(__powerpc__)
	{
		/* 32-bit PowerPC (System V ABI): r14-r31 are callee-saved. A frame of our own
		   (16-aligned: the back chain at 0(r1), the callee's LR save word at 4 of the
		   frame above it) keeps them, LR and the out pointer. The stub is called through
		   ctr: a bl to a symbol in a shared object would go through a PLT stub that reads
		   the GOT pointer from r30, which holds a test value here. */
		register unsigned long a0 asm("r3") = (unsigned long)p;
		register unsigned long a1 asm("r4") = SIZE;
		register unsigned long a2 asm("r5") = MADV_DONTNEED_;
		register unsigned long o asm("r6") = (unsigned long)out;
		register unsigned long fn asm("r7") = (unsigned long)&STUB;
		__asm__ volatile(
			"mflr %%r0\n\t"
			"stwu %%r1, -96(%%r1)\n\t"
			"stw %%r0, 88(%%r1); stw %%r6, 84(%%r1)\n\t"
			"stmw %%r14, 8(%%r1)\n\t"
			"lis %%r14, 0x5a5a; ori %%r14, %%r14, 0x5a00\n\t"
			"addi %%r15, %%r14, 1; addi %%r16, %%r14, 2; addi %%r17, %%r14, 3; addi %%r18, %%r14, 4; addi %%r19, %%r14, 5; addi %%r20, %%r14, 6\n\t"
			"addi %%r21, %%r14, 7; addi %%r22, %%r14, 8; addi %%r23, %%r14, 9; addi %%r24, %%r14, 10; addi %%r25, %%r14, 11; addi %%r26, %%r14, 12\n\t"
			"addi %%r27, %%r14, 13; addi %%r28, %%r14, 14; addi %%r29, %%r14, 15; addi %%r30, %%r14, 16; addi %%r31, %%r14, 17\n\t"
			"mtctr %%r7\n\t"
			"bctrl\n\t"
			"lwz %%r6, 84(%%r1)\n\t"
			"stw %%r3, 0(%%r6)\n\t"
			"stmw %%r14, 4(%%r6)\n\t"
			"lmw %%r14, 8(%%r1)\n\t"
			"lwz %%r0, 88(%%r1); mtlr %%r0\n\t"
			"addi %%r1, %%r1, 96"
			: "+r"(a0), "+r"(a1), "+r"(a2), "+r"(o), "+r"(fn)
			:
			: "r0", "r8", "r9", "r10", "r11", "r12", "lr", "ctr", "xer", "cr0", "cr1", "cr5", "cr6", "cr7",
			  "memory");
		const char *nm[] = {"r14", "r15", "r16", "r17", "r18", "r19", "r20", "r21", "r22", "r23", "r24", "r25", "r26", "r27", "r28", "r29", "r30", "r31"};
		n = 18;
		memcpy(names, nm, sizeof nm);
	}
#else
	printf("SKIP callee-saved: no caller for this architecture in madvise.c\n");
	return;
#endif
	char kept[128] = "";
	for (int i = 0; i < n; i++) {
		if (out[i + 1] == K(i)) {
			strcat(strcat(kept, " "), names[i]);
			continue;
		}
		char what[32];
		snprintf(what, sizeof what, "callee-saved %s", names[i]);
		check(0, what, "%#lx after the call (loaded %#lx)", (long)out[i + 1], (long)K(i));
	}
	if (!failed)
		printf("PASS callee-saved: kept%s\n", kept);
#if STUB_RETURNS
	check(out[0] == 0, "result", "madvise(DONTNEED) from assembly returned %ld", (long)out[0], 0);
#endif
	after_dontneed(p, before);
}
#endif

int main(void)
{
	const char *mode = getenv("STUBGEN_CROSSCHECK_MODE");
	if (!mode)
		mode = "valid";
	setvbuf(stdout, 0, _IONBF, 0);
	if (!strcmp(mode, "valid"))
		valid();
	else if (!strcmp(mode, "misaligned"))
		misaligned();
	else if (!strcmp(mode, "callee"))
		callee_saved();
	else {
		fprintf(stderr, "STUBGEN_CROSSCHECK_MODE: valid, misaligned or callee\n");
		return 2;
	}
	return failed;
}
