"""Issue 27 (hostile input, round three), the remaining classes: one test per class
with the red team's input and variations of it; each fails when its fix is undone."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stubgen.errors import VerificationFailed

ROOT = Path(__file__).parents[1]


def cli(*args, timeout=120, **kw):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=str(ROOT)), **kw)


def one_line_error(r, code=2, *words):
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stubgen") and ": error: " in lines[0], r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r.stderr


# --- class 14: workers die with their parent; a lost worker is one line ---------------------

def _fake_chunks(n=4, per=100):
    from stubgen.pipeline.parallel import Given

    return [Given(tuple((None, None) for _ in range(per))) for _ in range(n)]


@pytest.mark.parametrize("death", ["SIGKILL", "SIGSEGV", "exit", "SIGTERM"])
def test_class14_a_lost_worker_is_one_line_exit_1(monkeypatch, death):
    """kill -9 of a worker gave a BrokenProcessPool traceback."""
    from stubgen.pipeline import parallel

    def dies(self, chunk):
        import faulthandler

        faulthandler.disable()  # pytest's: a page of stack for the signal we send on purpose
        if death == "exit":
            os._exit(3)
        os.kill(os.getpid(), getattr(signal, death))
        time.sleep(30)

    monkeypatch.setattr(parallel._Checker, "chunk", dies)
    with pytest.raises(VerificationFailed, match="worker process died") as e:
        list(parallel.run_chunks(_fake_chunks(), jobs=2))
    assert "\n" not in str(e.value)


_ORPHAN = """
import os, sys, time
from stubgen.pipeline import parallel
def stay(self, chunk):
    with open(sys.argv[1], "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(120 if sys.argv[2] == "busy" else 0)
    return parallel.Outcome([], [], set())
parallel._Checker.chunk = stay
for _ in parallel.run_chunks([parallel.Given(((None, None),) * 100) for _ in range(int(sys.argv[3]))], jobs=2):
    time.sleep(120)  # the parent is slow (or hangs): the workers wait, idle, for it
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] not in "ZX"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("state,chunks", [("busy", 4), ("idle", 2)])
def test_class14_kill_9_of_stubgen_ends_its_workers(tmp_path, state, chunks):
    """kill -9 of the main process left the workers alive indefinitely."""
    pids = tmp_path / "pids"
    p = subprocess.Popen([sys.executable, "-c", _ORPHAN, str(pids), state, str(chunks)],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.1)
        workers = [int(x) for x in pids.read_text().split()]
        assert len(set(workers)) == 2, workers
        time.sleep(0.3)
    finally:
        p.kill()
        p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(map(_alive, workers)):
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:  # ours: started by the script above
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers outlived their parent: {left}"
