// Cross-check of a generated Plan 9 madvise stub against the running kernel.
// stubgen.crosscheck copies the generated package next to this file as ./stubs
// and adds StubgenCrosscheckMadvise, an exported wrapper that says whether the stub returns a
// result. Only package syscall is used, so a cold build cache stays cheap.
// The mode is $STUBGEN_CROSSCHECK_MODE (valid, misaligned).
// Prints PASS/FAIL lines; exits 1 if anything failed. A stub that crashes on
// error is expected to kill the process on "misaligned", before "survived".
package main

import (
	"syscall"
	"unsafe"

	stubs "crosscheck/stubs"
)

const (
	size         = 64 << 20
	minDrop      = 60 << 20
	madvDontneed = 4
	einval       = 22
)

var failed bool

func itoa(v int64) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [24]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

func say(s string) { syscall.Write(1, []byte(s+"\n")) }

func check(ok bool, what, detail string) {
	if ok {
		say("PASS " + what + ": " + detail)
	} else {
		say("FAIL " + what + ": " + detail)
		failed = true
	}
}

func die(what string, err error) {
	say("FAIL " + what + ": " + err.Error())
	syscall.Exit(2)
}

func resident() int64 {
	fd, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY, 0)
	if err != nil {
		die("/proc/self/statm", err)
	}
	var buf [256]byte
	n, err := syscall.Read(fd, buf[:])
	syscall.Close(fd)
	if err != nil {
		die("/proc/self/statm", err)
	}
	field, pages := 0, int64(0)
	for _, c := range buf[:n] {
		if c == ' ' {
			field++
		} else if field == 1 && c >= '0' && c <= '9' {
			pages = pages*10 + int64(c-'0')
		}
	}
	return pages * int64(syscall.Getpagesize())
}

func touched() []byte {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		die("mmap", err)
	}
	for i := 0; i < size; i += syscall.Getpagesize() {
		mem[i] = 0xa5
	}
	return mem
}

func valid() {
	mem := touched()
	before := resident()
	r, returns := stubs.StubgenCrosscheckMadvise(unsafe.Pointer(&mem[0]), size, madvDontneed)
	if returns {
		check(r == 0, "result", "madvise(DONTNEED) returned "+itoa(int64(r)))
	}
	drop := before - resident()
	check(drop >= minDrop, "rss", "dropped by "+itoa(drop>>10)+" KiB (need "+itoa(minDrop>>10)+" KiB)")
	nonzero := 0
	for _, b := range mem {
		if b != 0 {
			nonzero++
		}
	}
	check(nonzero == 0, "zero", itoa(int64(nonzero))+" nonzero bytes of "+itoa(size))
}

func misaligned() {
	mem := touched()
	r, returns := stubs.StubgenCrosscheckMadvise(unsafe.Pointer(&mem[1]), 4096, madvDontneed)
	say("survived result=" + itoa(int64(r)))
	if returns {
		check(r == -einval, "misaligned", "returned "+itoa(int64(r))+" (want "+itoa(-einval)+")")
	}
}

func main() {
	// The mode comes from the environment: package os (for os.Args) would
	// triple the cold build.
	mode, ok := syscall.Getenv("STUBGEN_CROSSCHECK_MODE")
	if !ok {
		mode = "valid"
	}
	switch mode {
	case "valid":
		valid()
	case "misaligned":
		misaligned()
	default:
		say("usage: valid|misaligned")
		syscall.Exit(2)
	}
	if failed {
		syscall.Exit(1)
	}
}
