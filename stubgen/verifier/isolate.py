"""Run work on untrusted text in a forked child with a CPU-time, wall-time and memory
limit. Keystone, Capstone and Unicorn are C: on some text they hang, recurse until
the stack runs out, or allocate without end, and no Python guard can catch that.
Only text this process rendered from the shipped templates runs in-process; a file
read from disk or rendered from a user's templates runs here, one child per file
(forking costs about a millisecond, verifying a stub about a third of one)."""
from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import time

from ..errors import StubgenError

# Per child: a base for the fork and the engines' start-up, plus a share per stub.
SECONDS = 10.0
SECONDS_PER_ITEM = 0.5
# Address space the child may add to what it inherits (Unicorn alone reserves about
# 1 GiB of virtual memory per engine for its translation cache).
EXTRA_BYTES = 3 << 30

_in_child = False


def in_child() -> bool:
    """Whether this process is already an isolated child (which need not fork again)."""
    return _in_child


class Died(StubgenError):
    """The child was killed by a limit or a signal; the text it held is to blame."""

    exit_code = 1


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_self(seconds: float):
    cpu = max(1, int(seconds + 1))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    vm = _vm_bytes()
    if vm:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        want = vm + EXTRA_BYTES
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    # A core file of a crashing engine is of no use to anyone and takes time to write.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(fn, *args, seconds: float = SECONDS, what: str = "this text"):
    """fn(*args) in a forked child under limits; its return value (picklable) or its
    StubgenError comes back. Raises Died when the child hangs, crashes or runs out
    of memory, naming what happened."""
    global _in_child
    if _in_child:
        return fn(*args)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            _in_child = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about ^C
            import faulthandler

            faulthandler.disable()  # the parent reports a crash in one line, not a dump
            _limit_self(seconds)
            try:
                payload = ("ok", fn(*args))
            except StubgenError as e:
                payload = ("error", (type(e).__name__, str(e), getattr(e, "exit_code", 2)))
            except (MemoryError, RecursionError) as e:
                payload = ("died", "ran out of memory" if isinstance(e, MemoryError) else "recursed too deeply")
            except Exception as e:  # a verifier bug on odd input: say what, in one line
                payload = ("error", (type(e).__name__, f"{type(e).__name__}: {e}".splitlines()[0], 1))
            except BaseException:
                payload = ("died", "was interrupted")
            data = pickle.dumps(payload)
            with os.fdopen(w, "wb") as f:
                f.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + seconds
    chunks, timed_out = [], False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([r], [], [], left)
            if not ready:
                continue
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        if timed_out:
            _kill(pid)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise Died(f"{what}: did not finish within {seconds:.0f} s (stopped; the engines hang on some text)")
    try:
        kind, value = pickle.loads(b"".join(chunks))
    except Exception:
        raise Died(f"{what}: the engines died on it ({_death(status)})") from None
    if kind == "ok":
        return value
    if kind == "died":
        raise Died(f"{what}: the engines {value}")
    _, message, code = value
    err = StubgenError(message)
    err.exit_code = code
    raise err


def _kill(pid: int):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _death(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGXCPU:
            return f"{name}: out of CPU time"
        return f"killed by {name}"
    if os.WIFEXITED(status):
        return f"exit {os.WEXITSTATUS(status)}"
    return "unknown status"
