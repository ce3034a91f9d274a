"""Verification on several processes gives exactly the verdicts of one process, in
the same order (no timing here: speed is measured by benchmarks/bench.py)."""
import os
import re

import pytest

import stubgen
import stubgen.cli  # noqa: F401  (the CLI module, for main)
from stubgen.pipeline import parallel
from stubgen.verifier import manifest_specs


def _verdicts(outcomes):
    # A real assembler's message names its temporary directory, different in every run.
    def same(text):
        return re.sub(r"\S*stubgen-[a-z]+-[^/\s]+", "TMP", text)
    return [(r.spec, [same(p) for p in r.problems], r.listing, r.runs, tools)
            for o in outcomes for r, tools in zip(o.reports, o.compared)]


@pytest.fixture
def small_chunks(monkeypatch):
    # Many chunks and workers even for a few hundred stubs.
    monkeypatch.setattr(parallel, "CHUNK", 5)
    monkeypatch.setattr(parallel, "BATCHED_CHUNK", 7)
    monkeypatch.setattr(parallel, "MIN_PER_JOB", 1)


def _broken_directory(tmp_path):
    """A sample of every argument shape, both dialects, every architecture, with some
    stubs broken by hand (the whole matrix is the benchmark's business, not a test's)."""
    out = tmp_path / "out"
    sample = ["madvise", "read", "write", "openat", "pread64", "mmap", "mmap2", "exit_group", "fanotify_mark",
              "futex", "syscall0", "syscall6"]
    stubgen.write(stubgen.generate(sample, policy="raw"), out)
    for path in sorted(out.glob("gnu/stubs_linux_*.S"))[:2]:
        text = path.read_text()
        # A wrong number in every third stub of the file: the kernel sees another syscall.
        count = [0]

        def wrong(m):
            count[0] += 1
            return m.group(0) + "1" if count[0] % 3 == 0 else m.group(0)

        path.write_text(re.sub(r"\$0x[0-9a-f]+|#0x[0-9a-f]+", wrong, text))
    return out


@pytest.mark.parametrize("real_tools", [False, True])
def test_parallel_verdicts_equal_serial_ones(tmp_path, small_chunks, real_tools):
    specs = manifest_specs(_broken_directory(tmp_path))
    chunks = list(parallel.chunked(specs))
    serial = list(parallel.run_chunks(chunks, jobs=1, real_tools=real_tools))
    spread = list(parallel.run_chunks(chunks, jobs=2, real_tools=real_tools))
    assert {o.worker for o in serial} == {os.getpid()}
    workers = {o.worker for o in spread}
    assert len(workers) == 2 and os.getpid() not in workers
    got, want = _verdicts(spread), _verdicts(serial)
    assert [v[0] for v in want] == [s for _, s in specs]
    failed = sum(1 for v in want if v[1])
    assert 0 < failed < len(want)
    assert got == want
    assert set().union(*(o.notes for o in spread)) == set().union(*(o.notes for o in serial))


def test_rendering_workers_give_the_serial_verdicts(small_chunks):
    from stubgen import tables

    t = tables.load()
    gnu = stubgen.dialects.dialect("gnu")
    chunks = []
    for arch in t.arches.values():
        # a sample of each architecture's typed calls: the point is the two paths agree
        names = tuple(n for n in sorted(t.signatures) if t.available(arch, n))[::25]
        for dialect, policy in (("gnu", "errno") if "errno" in gnu.offers(arch.name, "policy") else ("gnu", "raw"),
                                ("plan9", "crash") if arch.goarch else ("gnu", "crash")):
            for i in range(0, len(names), 7):
                chunks.append(parallel.ToRender(names[i:i + 7], arch.name, dialect, policy, len(names[i:i + 7])))
    serial = _verdicts(parallel.run_chunks(chunks, jobs=1))
    spread = _verdicts(parallel.run_chunks(chunks, jobs=2))
    assert len(serial) == sum(c.count for c in chunks)
    assert spread == serial


def test_verify_jobs_option(tmp_path, capsys):
    out = tmp_path / "out"
    assert stubgen.cli.main(["generate", "-o", str(out), "-s", "madvise,munmap", "--verify", "-j", "2"]) == 0
    # two syscalls, two dialects on every architecture with a Go port (ppc: the C one alone)
    n = 2 * sum(2 if a.goarch else 1 for a in stubgen.tables.load().arches.values())
    assert f"verified {n} stubs" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        stubgen.cli.main(["verify", str(out), "--jobs", "0"])
    assert e.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_a_fresh_engine_set_per_architecture_gives_the_same_verdicts(tmp_path, small_chunks, monkeypatch):
    specs = manifest_specs(_broken_directory(tmp_path))
    chunks = list(parallel.chunked(specs))
    kept = _verdicts(parallel.run_chunks(chunks, jobs=1))
    made = []
    real = parallel._Checker._fresh

    def fresh(self):
        made.append(1)
        return real(self)
    monkeypatch.setattr(parallel._Checker, "_fresh", fresh)
    monkeypatch.setattr(parallel, "MAX_ARCHES", 1)
    assert _verdicts(parallel.run_chunks(chunks, jobs=1)) == kept
    # A new engine set at every change of architecture (the first one included).
    arches = [spec.arch for _, spec in specs]
    assert len(made) == 1 + sum(1 for a, b in zip(arches, arches[1:]) if a != b)


@pytest.mark.parametrize("kind, rel", [("tables", "numbers/amd64.yaml"), ("templates", "gnu/dialect.yaml")])
def test_bad_tables_or_templates_are_one_error_before_any_worker(tmp_path, small_chunks, kind, rel):
    from stubgen.errors import StubgenError

    specs = manifest_specs(_broken_directory(tmp_path))
    bad = tmp_path / kind / rel
    bad.parent.mkdir(parents=True)
    bad.write_text("summary: [\n")
    with pytest.raises(StubgenError, match=bad.name):
        sources = (str(tmp_path / kind), None) if kind == "tables" else (None, str(tmp_path / kind))
        list(parallel.run_chunks(list(parallel.chunked(specs)), *sources, jobs=2))


def test_chunks_are_larger_where_the_assembler_runs_in_a_child():
    """LLVM costs a process per call: its architectures' stubs go out BATCHED_CHUNK at a
    time, the others CHUNK at a time, and a chunk never mixes the two sizes' runs."""
    from stubgen import tables
    from stubgen.verifier.assembler import batches

    t = tables.load()
    batched = next((a for a in t.arches.values() if batches(a)), None)
    plain = next((a for a in t.arches.values() if not batches(a)), None)
    if batched is None or plain is None:
        pytest.skip("needs an architecture assembled by LLVM (pip install 'stubgen[llvm]') and one that is not")
    specs = [(text, spec) for text, spec in stubgen.verifier.stub_specs(
        stubgen.generate("all", [plain.name, batched.name], ["gnu"], "raw"))]
    sizes = {}
    for c in parallel.chunked(specs):
        arches = {s.arch for _, s in c.items}
        sizes.setdefault(min(arches), []).append(len(c))
    assert max(sizes[plain.name]) == parallel.CHUNK
    assert max(sizes[batched.name]) == parallel.BATCHED_CHUNK


def test_an_engine_set_given_up_is_freed_at_once():
    """An engine set is a reference cycle (Unicorn's hooks hold the Machine): the worker
    that moves past MAX_ARCHES architectures must not keep the old set until the
    collector happens to run."""
    import gc
    import weakref

    from stubgen import tables

    checker = parallel._Checker((None,), False)
    arch = next(a for a in tables.load().arches.values() if a.engines.unicorn)
    machine = weakref.ref(checker.verifier.machine(arch))
    gc.disable()  # only _fresh may collect
    try:
        checker.verifier = checker._fresh()
        assert machine() is None
    finally:
        gc.enable()
