"""Go's own declarations of a package's assembly functions, read by Go's parser and type
checker: a small Go program (programs/godecls.go) run with the `go` on PATH, offline,
with time and memory limits and no shell. A package directory is untrusted input: the
program only parses and type-checks it (no cgo, no build of the package)."""
from __future__ import annotations

import json
import resource
from functools import lru_cache
from pathlib import Path

from ..verifier.godecl import DeclError, GoDecl, decls_from_json
from . import tools

PROGRAM = Path(__file__).parent / "programs" / "godecls.go"
# The first run compiles go/types; a cold build cache takes tens of seconds.
SECONDS = 300
OUTPUT = 16 << 20


def _limits():
    tools._limits()
    resource.setrlimit(resource.RLIMIT_AS, (tools.TOOL_MEMORY, tools.TOOL_MEMORY))


@lru_cache(maxsize=16)
def _tool_tags(goarch: str) -> str:
    """The build's tool tags for goarch (the goexperiment tags differ between
    architectures: regabiargs decides which of internal/abi's files exist)."""
    r = tools._run([tools.go_tool(), "list", "-f", "{{join context.ToolTags \",\"}}", "runtime"],
                   f"go list ({goarch})", limited=True, env=tools.go_env(goarch))
    return r.stdout.strip()


def _host_env() -> dict:
    """Go's offline environment for a program that runs here: built for this host,
    whatever GOOS and GOARCH the shell says (the target is the program's argument)."""
    env = tools.go_env()
    for k in ("GOOS", "GOARCH"):
        env.pop(k, None)
    return env


@lru_cache(maxsize=64)
def _read(directory: str, goarch: str) -> dict[str, GoDecl]:
    r = tools._run([tools.go_tool(), "run", str(PROGRAM), goarch, _tool_tags(goarch), directory],
                   f"go run godecls.go ({goarch}) {directory}", timeout=SECONDS, preexec_fn=_limits,
                   env=_host_env(), cwd=str(PROGRAM.parent))
    if len(r.stdout) > OUTPUT:
        raise tools.ToolFailed(f"godecls.go: more than {OUTPUT} bytes of declarations for {directory}")
    try:
        return decls_from_json(json.loads(r.stdout))
    except (ValueError, DeclError) as e:
        raise tools.ToolFailed(f"godecls.go: unreadable output for {directory}: {e}") from None


def go_decls(directory, goarch: str) -> dict[str, GoDecl]:
    """{function: GoDecl} of the functions without a body in the Go package in
    directory, for linux/goarch. Raises tools.ToolMissing without Go, ToolFailed when
    Go cannot read the package."""
    return _read(str(Path(directory).resolve()), goarch)
