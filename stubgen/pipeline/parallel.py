"""Verify many stubs on every core: the stubs go out in small chunks to worker
processes, each holding one engine set (a Verifier) for its whole life, and the
reports come back in the order the stubs went in, chunk by chunk, so that neither
side ever holds the whole matrix. One job (or a run too small to pay for starting
processes) runs the very same code in this process."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .. import dialects
from .. import tables as tables_mod
from ..errors import StubgenError, VerificationFailed
from ..generator.stubs import generate
from ..realtools.references import references
from ..verifier import Report, Verifier, stub_specs
from ..verifier.assembler import batches

# Stubs per task: small enough that two workers finish close together and progress
# moves smoothly, large enough that a task's pickling is noise next to its checks.
CHUNK = 32
# Stubs per task for an architecture whose assembler runs in a child per call (LLVM):
# each call costs 40-50 ms of start-up whatever its size, so a task of 32 stubs paid
# about 1.4 ms a stub for it, a task of 256 about 0.25 ms.
BATCHED_CHUNK = 256
# Below this many stubs per worker, starting a process and its engines costs more
# than it saves.
MIN_PER_JOB = 96
# Reference assemblies (one per file) kept per worker; a file's stubs arrive together.
REFERENCE_CACHE = 16
# Architectures whose engines one process holds at once (each costs 5-10 MB): past
# that, a new architecture starts a fresh engine set, so that a matrix of eleven
# architectures stays within the memory of a few.
MAX_ARCHES = 4


@dataclass(frozen=True)
class Given:
    """Stubs whose text the caller already has: (text, Spec) pairs."""

    items: tuple

    def specs(self):
        return self.items

    def __len__(self):
        return len(self.items)


@dataclass(frozen=True)
class ToRender:
    """Stubs the worker renders itself (stubgen.generate's arguments), so that the
    parent never holds their text."""

    syscalls: tuple
    arch: str
    dialect: str
    policy: str
    count: int
    options: object = None

    def specs(self):
        return stub_specs(generate(list(self.syscalls), [self.arch], [self.dialect], self.policy,
                                   options=self.options))

    def __len__(self):
        return self.count


@dataclass
class Outcome:
    """What one chunk gave: a report per stub, in order, the names of the other
    assemblers each was also compared with, and notes on tools that are missing."""

    reports: list
    compared: list  # a tuple of names per report
    notes: set
    worker: int = 0  # the process that checked it


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def chunk_size(arch) -> int:
    """Stubs per task for arch: more where its assembler batches (see BATCHED_CHUNK)."""
    return BATCHED_CHUNK if batches(arch) else CHUNK


def chunked(specs: Iterable, tables: str | None = None) -> Iterator[Given]:
    """(text, Spec) pairs in runs of at most chunk_size() of the run's first stub's
    architecture (tables: the tables' directory, default the shipped ones)."""
    t = tables_mod.load(tables)
    sizes: dict[str, int] = {}
    run: list = []
    size = CHUNK
    for item in specs:
        if not run:
            arch = item[1].arch
            if arch not in sizes:
                try:
                    sizes[arch] = chunk_size(t.arch(arch))
                except StubgenError:  # an unknown architecture: the check itself reports it
                    sizes[arch] = CHUNK
            size = sizes[arch]
        run.append(item)
        if len(run) >= size:
            yield Given(tuple(run))
            run = []
    if run:
        yield Given(tuple(run))


def check_items(v, items, cache: dict, notes: set, real_tools: bool) -> list[tuple]:
    """(Report, names of the other assemblers compared with) for (text, Spec) pairs of
    one architecture, with one Verifier: what `stubgen verify` does for each stub,
    serial or in a worker. The stubs go to check_many together, so that untrusted
    text is checked in one child and LLVM assembles them in one batch."""
    out: list = [None] * len(items)
    todo, where = [], []
    for i, (text, spec) in enumerate(items):
        if len(cache) > REFERENCE_CACHE:
            cache.clear()
        ref = references(v, text, spec, cache, notes) if real_tools else None
        if isinstance(ref, str):
            out[i] = (Report(spec, [f"real assembler: {ref}"]), ())
        else:
            todo.append((text, spec, ref))
            where.append(i)
    for i, rep, (_, _, ref) in zip(where, v.check_many(todo), todo):
        tools = ((ref.tool,) if ref is not None else ()) + tuple(f"{n} (second assembler)" for n in rep.agreed)
        out[i] = (rep, tools)
    return out


class _Checker:
    """One process's engine set and its cache of real-assembler references. sources:
    the Verifier's arguments (tables, templates, ...)."""

    def __init__(self, sources: tuple, real_tools: bool):
        self.sources = sources
        self.real_tools = real_tools
        self.cache: dict = {}
        self.arches: set = set()
        self.verifier = self._fresh()

    def _fresh(self):
        import gc

        self.arches.clear()
        # An engine set is a reference cycle (Unicorn's hooks hold the Machine that holds
        # the engine): left to the collector, two or three old sets linger beside the new
        # one, 25-30 MB more at the peak of a full matrix.
        self.verifier = None
        gc.collect()
        # The templates' mistakes show here, before any fork.
        dialects.dialects(self.sources[1] if len(self.sources) > 1 else None)
        return Verifier(*self.sources)

    def _for(self, arch: str):
        if arch not in self.arches and len(self.arches) >= MAX_ARCHES:
            self.verifier = self._fresh()
        self.arches.add(arch)
        return self.verifier

    def chunk(self, chunk) -> Outcome:
        own = getattr(chunk, "check", None)
        if own is not None:  # a chunk that checks itself (a C header's unit of callers: verify_header.py)
            return own()
        out = Outcome([], [], set(), os.getpid())
        items = list(chunk.specs())
        start = 0
        while start < len(items):  # runs of one architecture
            arch = items[start][1].arch
            end = start
            while end < len(items) and items[end][1].arch == arch:
                end += 1
            for rep, tools in check_items(self._for(arch), items[start:end], self.cache, out.notes,
                                          self.real_tools):
                out.reports.append(rep)
                out.compared.append(tools)
            start = end
        return out


_WORKER: _Checker | None = None


# Linux's prctl option that sends the calling process a signal when its parent dies.
PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when its parent dies (kill -9 of stubgen once
    left the workers running for ever). Where prctl is missing (not Linux) the pool's
    own pipe still ends an idle worker. The check after the call closes the race of a
    parent that died before it: the worker has been re-parented already."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _start_worker(parent: int, *checker_args):
    global _WORKER
    import signal

    _die_with(parent)
    # Ctrl-C is the parent's to handle: it cancels what is left and the workers end
    # after their current chunk, without a traceback each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if checker_args:  # not forked: the worker makes its own
        _WORKER = _Checker(*checker_args)


def _work(chunk) -> Outcome:
    assert _WORKER is not None
    return _WORKER.chunk(chunk)


def _preload():
    """Import what every worker needs once, before the fork: imported in each worker
    instead, the engines' bindings cost each one 100-200 ms of CPU."""
    import importlib

    for name in ("unicorn", "keystone", "capstone"):
        try:
            importlib.import_module(name)
        except ImportError:  # one this version does not have: a worker imports what it uses
            pass


def _context():
    import multiprocessing

    # fork: a worker starts with stubgen and the engines' libraries already imported.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def run_chunks(chunks: list, *sources, jobs: int | None = None, real_tools: bool = False,
               progress: bool = False, min_per_job: int = MIN_PER_JOB) -> Iterator[Outcome]:
    """Each chunk's Outcome, in the order of chunks. sources: the Verifier's arguments
    (tables, templates, ...); jobs: processes (default: every core); progress: a
    progress bar on standard error when it is a terminal; min_per_job: the fewest stubs
    worth a process (chunks whose stubs cost seconds each: fewer). A chunk with a
    check() method checks itself (its Outcome) in the worker."""
    total = sum(len(c) for c in chunks)
    jobs = default_jobs() if jobs is None else max(1, jobs)
    jobs = min(jobs, len(chunks), max(1, total // max(1, min_per_job)))
    # Made here, also for the workers: tables and templates are read (and a mistake in
    # them reported as one line) in this process, and a forked worker inherits them.
    checker = _Checker(sources, real_tools)
    if jobs == 1:
        yield from _counted(map(checker.chunk, chunks), total, progress)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _WORKER
    ctx = _context()
    forked = ctx.get_start_method() == "fork"
    if forked:
        _preload()
    _WORKER = checker if forked else None
    # Not multiprocessing.Pool: its workers are daemons, which may not fork the child
    # that assembles a hand-edited file under a time limit.
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_start_worker,
                               initargs=(os.getpid(),) if forked else (os.getpid(), sources, real_tools))
    try:
        # The bar (and tqdm's monitor thread) only once the workers are forked.
        yield from _counted(pool.map(_work, chunks), total, progress)
    except BrokenProcessPool:
        # A worker was killed (the OOM killer, kill -9): what it held is lost, and the
        # run cannot say pass or fail for it. One line, exit 1, like a failed check.
        pool.shutdown(wait=False, cancel_futures=True)
        raise VerificationFailed("a verify worker process died (killed, or out of memory); "
                                 "its stubs are unverified: run again, or with --jobs 1") from None
    except BaseException:  # Ctrl-C, an error, or the caller stopped reading: leave the rest undone
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        _WORKER = None


def _counted(outcomes, total: int, progress: bool):
    bar = _progress(total) if progress else None
    try:
        for o in outcomes:
            if bar is not None:
                bar.update(len(o.reports))
            yield o
    finally:
        if bar is not None:
            bar.close()


def verify_specs(specs, *sources, jobs: int | None = None, real_tools: bool = True, notes: set | None = None,
                 progress: bool = False):
    """(Report, names of the other assemblers compared with) for every (text, Spec), in
    order. sources: the Verifier's arguments (tables, templates, ...)."""
    chunks = list(chunked(specs, sources[0] if sources else None))
    for o in run_chunks(chunks, *sources, jobs=jobs, real_tools=real_tools, progress=progress):
        if notes is not None:
            notes |= o.notes
        yield from zip(o.reports, o.compared)


def _progress(total: int):
    """A progress bar with stubs per second and the time left, only on a terminal, and
    only when tqdm is installed; quiet everywhere else (CI, pipes, --json)."""
    if total < 2 * CHUNK or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="stub", desc="verify", file=sys.stderr, leave=False, smoothing=0.1,
                mininterval=0.25)
