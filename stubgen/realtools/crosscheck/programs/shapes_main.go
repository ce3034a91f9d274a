// Cross-check of generated Plan 9 stubs of other argument shapes against the running
// kernel. stubgen.crosscheck copies the generated package next to this file as
// ./stubs and adds, for the GOARCH built, ShapeSix, ShapePair and ShapeExitGroup: the
// stub functions themselves (a six-argument mmap or mmap2, pread64, exit_group), whose
// parameter types differ per architecture, so they are called through reflect.
// Environment: STUBGEN_CROSSCHECK_MODE (six, pair, noreturn), STUBGEN_SIX_PGOFF (1 when
// the six-argument call counts its offset in 4096-byte pages).
// Prints PASS/FAIL lines; exits 1 if anything failed.
package main

import (
	"os"
	"reflect"
	"strconv"
	"syscall"
	"unsafe"

	stubs "crosscheck/stubs"
)

var failed bool

func say(s string) { syscall.Write(1, []byte(s+"\n")) }

func check(ok bool, what, detail string) {
	if ok {
		say("PASS " + what + ": " + detail)
	} else {
		say("FAIL " + what + ": " + detail)
		failed = true
	}
}

// arg converts a uint64 or an unsafe.Pointer to the parameter type t.
func arg(a any, t reflect.Type) reflect.Value {
	var n uint64
	switch x := a.(type) {
	case unsafe.Pointer:
		if t.Kind() == reflect.UnsafePointer {
			return reflect.ValueOf(x)
		}
		n = uint64(uintptr(x))
	case uint64:
		n = x
	}
	if t.Kind() == reflect.UnsafePointer {
		panic("a number for a pointer parameter")
	}
	return reflect.ValueOf(n).Convert(t)
}

func call(fn any, args ...any) (int64, int) {
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.NumIn() != len(args) {
		panic("wrong argument count for " + t.String())
	}
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		in[i] = arg(a, t.In(i))
	}
	out := v.Call(in)
	if len(out) == 0 {
		return 0, t.NumIn()
	}
	// An address (mmap's unsafe.Pointer) or a word holds -errno on failure in the same
	// bits: through int, a word of the architecture, it is negative again.
	switch r := out[0]; r.Kind() {
	case reflect.UnsafePointer:
		return int64(int(r.Pointer())), t.NumIn()
	case reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(int(r.Uint())), t.NumIn()
	default:
		return r.Int(), t.NumIn()
	}
}

func tempFile() int {
	f, err := os.CreateTemp("", "stubgen-shapes-")
	if err != nil {
		say("SKIP cannot create a temporary file: " + err.Error())
		os.Exit(0)
	}
	os.Remove(f.Name())
	fd, _ := syscall.Dup(int(f.Fd()))
	return fd
}

func six() {
	// The system's pages (qemu-loongarch64 7.2 has 16 KiB); mmap2 counts 4096 bytes.
	page := os.Getpagesize()
	fd := tempFile()
	buf := make([]byte, 2*page)
	for i := range buf {
		if i < page {
			buf[i] = 0x11
		} else {
			buf[i] = 0x5a
		}
	}
	syscall.Write(fd, buf)
	off := uint64(page)
	if os.Getenv("STUBGEN_SIX_PGOFF") == "1" {
		off = uint64(page / 4096)
	}
	r, _ := call(stubs.ShapeSix(), uint64(0), uint64(page), uint64(syscall.PROT_READ), uint64(syscall.MAP_PRIVATE),
		uint64(fd), off)
	ok := r > 0 || r < -4095
	check(ok, "six args", "mmap returned 0x"+strconv.FormatUint(uint64(uintptr(r)), 16))
	if ok {
		p := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(r))), page)
		check(p[0] == 0x5a && p[page-1] == 0x5a, "six args offset",
			"page 1 reads "+strconv.Itoa(int(p[0]))+", "+strconv.Itoa(int(p[page-1]))+" (want 90)")
	}
}

func pair() {
	fd := tempFile()
	pos := uint64(1)<<32 + 0x1230
	marker := []byte("stubgen-pair")
	if n, err := syscall.Pwrite(fd, marker, int64(pos)); err != nil || n != len(marker) {
		say("SKIP cannot write at 4 GiB + 0x1230 here")
		return
	}
	got := make([]byte, len(marker))
	fn := stubs.ShapePair()
	var r int64
	if reflect.TypeOf(fn).NumIn() == 5 { // the offset as two u32 halves, low first
		r, _ = call(fn, uint64(fd), unsafe.Pointer(&got[0]), uint64(len(got)), pos&0xffffffff, pos>>32)
	} else {
		r, _ = call(fn, uint64(fd), unsafe.Pointer(&got[0]), uint64(len(got)), pos)
	}
	check(r == int64(len(marker)), "pair", "pread64 returned "+strconv.FormatInt(r, 10))
	check(string(got) == string(marker), "pair bytes", "read back "+strconv.Quote(string(got)))
}

// noreturn forks with a raw clone (no exec: under qemu-user a new binary could not
// start); the child only calls the assembly stub, which needs no Go runtime.
func noreturn() {
	exit := stubs.ShapeExitGroup().(func(int32))
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		say("SKIP clone: " + errno.Error())
		return
	}
	if pid == 0 {
		exit(42)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 99, 0, 0) // not reached: the stub does not return
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != nil {
		check(false, "noreturn", "wait4: "+err.Error())
		return
	}
	check(ws.Exited() && ws.ExitStatus() == 42, "noreturn",
		"child exit status "+strconv.Itoa(ws.ExitStatus())+" (want exit 42)")
}

func main() {
	switch os.Getenv("STUBGEN_CROSSCHECK_MODE") {
	case "six":
		six()
	case "pair":
		pair()
	case "noreturn":
		noreturn()
	default:
		say("FAIL mode: STUBGEN_CROSSCHECK_MODE is not six, pair or noreturn")
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
