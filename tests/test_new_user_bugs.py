"""The bugs a new user hit (issue 10), each with a test that failed before its fix."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import stubgen
from stubgen import cli, tables
from stubgen.errors import StubgenError
from stubgen.resources import tables_dir

SHIPPED = tables_dir()


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True,
                       env={"PYTHONPATH": str(Path(stubgen.__file__).parent.parent), "PATH": "/usr/bin:/bin"})
    return p


# --- 1: an overlay of only <arch>.yaml keeps the shipped numbers ---------------------------

@pytest.mark.parametrize("arch", sorted(p.stem for p in SHIPPED.glob("*.yaml")))
def test_overlay_of_only_the_arch_file_keeps_its_numbers(tmp_path, arch):
    shutil.copy(SHIPPED / f"{arch}.yaml", tmp_path / f"{arch}.yaml")
    shipped = tables.load(None).arches[arch].numbers
    assert shipped, "the shipped table has numbers"
    assert tables.load(str(tmp_path)).arches[arch].numbers == shipped
    stubs = stubgen.generate(tables=str(tmp_path), dialects=["gnu"])
    assert arch in {s.arch for s in stubs}
