"""Issue 27 (hostile input, round three): one test per class the red team found, with
its input and variations of it; each fails when its fix is undone."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])))


def one_line_error(r, code=2, *words):
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stubgen") and ": error: " in lines[0], r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r.stderr


# --- class 1: the journal is data from disk, and names only files inside -o DIR --------

SHA = "0" * 64


def _journal_cases(victim: Path, outside: Path):
    """(name, journal, setup) where setup(out) plants what the journal needs."""
    def entry(path, tmp=None, new=False, backup=None):
        return {"path": path, "tmp": tmp, "new": new, "backup": backup}

    def no_setup(out):
        pass

    def linked_dir(out):
        (out / "sub").symlink_to(outside)

    rel_victim = os.path.relpath(victim, start=victim.parent.parent / "out")
    return [
        # the red team's: an attacker's backup moved over ../victim/keep.txt, an absolute path unlinked
        ("dotdot", {"manifest_sha256": SHA, "files": [
            entry(rel_victim, backup=str(Path(rel_victim).parent / ".keep.txt.stubgen-old"))]}, no_setup),
        ("absolute new", {"manifest_sha256": SHA, "files": [entry(str(victim), new=True)]}, no_setup),
        ("absolute tmp", {"manifest_sha256": SHA, "files": [entry("x.s", tmp=str(victim))]}, no_setup),
        ("backup elsewhere", {"manifest_sha256": SHA, "files": [entry("x.s", backup=rel_victim)]}, no_setup),
        ("tmp elsewhere", {"manifest_sha256": SHA, "files": [entry("x.s", tmp="../victim/keep.txt")]}, no_setup),
        ("linked directory", {"manifest_sha256": SHA, "files": [entry("sub/keep.txt", new=True)]}, linked_dir),
        ("not a journal", {"manifest_sha256": 5, "files": []}, no_setup),
        ("files not a list", {"manifest_sha256": SHA, "files": {"path": "x"}}, no_setup),
        ("extra key", {"manifest_sha256": SHA, "files": [dict(entry("x.s"), run="rm -rf /")]}, no_setup),
        ("empty part", {"manifest_sha256": SHA, "files": [entry("a//x.s", new=True)]}, no_setup),
    ]


@pytest.mark.parametrize("case", range(10))
def test_class1_a_planted_journal_is_refused_and_touches_nothing(tmp_path, case):
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "keep.txt"
    victim.write_text("precious\n")
    (victim_dir / ".keep.txt.stubgen-old").write_text("attacker\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious too\n")
    out = tmp_path / "out"
    out.mkdir()
    name, journal, setup = _journal_cases(victim, outside)[case]
    setup(out)
    (out / ".stubgen-journal.json").write_text(json.dumps(journal))
    one_line_error(cli("generate", "-o", str(out), "-d", "gnu"), 2, "journal")
    assert victim.read_text() == "precious\n", name
    assert (victim_dir / ".keep.txt.stubgen-old").read_text() == "attacker\n", name
    assert (outside / "keep.txt").read_text() == "precious too\n", name
    assert (out / ".stubgen-journal.json").exists(), name  # left for a person to look at
