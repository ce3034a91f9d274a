"""The package's shape, read from its own imports with ast (function-level imports
included): no import cycle between modules, layers that import only downwards, and
the pairs that principle 2 forbids. The checker has broken cases of its own: a copy of
the package with a module added that breaks each rule."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

import stubgen

PACKAGE = Path(stubgen.__file__).resolve().parent

# Bottom first. A module's layer is its first name under stubgen ("" is the package's face).
LAYERS = (
    ("errors", "resources", "version"),
    ("tables",),
    ("kernelsrc",),
    ("dialects",),
    ("generator",),
    ("verifier",),
    ("realtools",),
    ("pipeline", "report", "cli", "__main__", ""),
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
# Allowed by the order, refused all the same: the verifier stands on its own knowledge
# (never the generator's), and comparing oracles happens above both.
FORBIDDEN = {("verifier", "generator"), ("generator", "verifier"), ("verifier", "realtools")}


def modules(root: Path, package: str = "stubgen") -> dict[str, Path]:
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = [package, *f.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def imports(root: Path, package: str = "stubgen") -> dict[str, list[tuple[str, int, bool]]]:
    """module -> (module it imports, line, inside a function) for every import of a
    stubgen module, `from X import name` resolved to X.name where that is a module."""
    mods = modules(root, package)
    out: dict[str, list[tuple[str, int, bool]]] = {}
    for name, f in mods.items():
        here = name if f.name == "__init__.py" else name.rpartition(".")[0]
        found: list[tuple[str, int, bool]] = []

        def visit(node, in_function: bool):
            for child in ast.iter_child_nodes(node):
                inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                if isinstance(child, ast.Import):
                    for a in child.names:
                        if a.name == package or a.name.startswith(package + "."):
                            found.append((a.name, child.lineno, in_function))
                elif isinstance(child, ast.ImportFrom):
                    if child.level:
                        base = here.split(".")[: len(here.split(".")) - child.level + 1]
                        target = ".".join(base + ([child.module] if child.module else []))
                    else:
                        target = child.module or ""
                    if target == package or target.startswith(package + "."):
                        for a in child.names:
                            sub = f"{target}.{a.name}"
                            found.append((sub if sub in mods else target, child.lineno, in_function))
                visit(child, inner)

        visit(ast.parse(f.read_text(encoding="utf-8")), False)
        out[name] = found
    return out


def stage(module: str, package: str = "stubgen") -> str:
    rest = module[len(package) + 1:] if module != package else ""
    return rest.split(".")[0]


def problems(root: Path, package: str = "stubgen") -> list[str]:
    graph = imports(root, package)
    out = []
    for mod, targets in graph.items():
        if stage(mod, package) not in RANK:
            out.append(f"{mod}: in no layer (add its package to LAYERS)")
            continue
        for target, line, in_function in targets:
            a, b = stage(mod, package), stage(target, package)
            where = f"{mod}:{line}{' (in a function)' if in_function else ''}"
            if b not in RANK:
                continue  # reported as its own module
            if RANK[b] > RANK[a]:
                out.append(f"{where}: upward import of {target} ({b} is above {a})")
            if (a, b) in FORBIDDEN:
                out.append(f"{where}: {a} may not import {b} ({target})")
    # Cycles between modules. Importing pkg.sub also runs pkg's __init__; that edge counts
    # from outside pkg only (inside, Python has it half-made already, by design).
    edges: dict[str, set[str]] = {m: set() for m in graph}
    for mod, targets in graph.items():
        for target, _, _ in targets:
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                dep = ".".join(parts[:i])
                if dep in edges and dep != mod and (dep == target or not mod.startswith(dep + ".")):
                    edges[mod].add(dep)
    out += [f"import cycle: {' -> '.join(c + [c[0]])}" for c in _cycles(edges)]
    return out


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan,
    iterative, so that a deep graph cannot break the check itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, found = set(), [], []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_the_package_keeps_its_layers():
    assert problems(PACKAGE) == []


def test_every_stage_named_in_the_readme_exists():
    for names in LAYERS:
        for n in names:
            if n:
                assert (PACKAGE / n).is_dir() or (PACKAGE / f"{n}.py").is_file(), n


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg") / "stubgen"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.yaml", "*.c", "*.go"))
    return root


@pytest.mark.parametrize("path, text, expected", [
    ("tables/broken.py", "from ..verifier import checker\n", "upward import of stubgen.verifier.checker"),
    ("tables/broken.py", "def f():\n    from ..pipeline import parallel\n",
     "(in a function): upward import of stubgen.pipeline.parallel"),
    ("kernelsrc/broken.py", "import stubgen\n", "upward import of stubgen ("),
    ("verifier/broken.py", "from ..generator import layout\n", "verifier may not import generator"),
    ("generator/broken.py", "def f():\n    from .. import verifier\n", "upward import of stubgen.verifier"),
    ("verifier/broken.py", "def f():\n    from ..realtools import tools\n", "upward import of stubgen.realtools.tools"),
    ("verifier/broken_a.py", "from . import broken_b\n", "import cycle: stubgen.verifier.broken_a -> "
                                                              "stubgen.verifier.broken_b"),
    ("elsewhere.py", "", "stubgen.elsewhere: in no layer"),
])
def test_the_checker_sees_each_broken_rule(copy, path, text, expected):
    added = [copy / path]
    added[0].write_text(text)
    if "broken_a" in path:  # the other half of the cycle, inside a function: still a cycle
        added.append(copy / "verifier" / "broken_b.py")
        added[1].write_text("def f():\n    from . import broken_a\n")
    try:
        found = problems(copy)
    finally:
        for f in added:
            f.unlink()
    assert any(expected in p for p in found), found


def test_the_librarys_functions_stay_functions_whatever_is_imported():
    """stubgen.generate, .write and .verify are the library's functions. A subpackage of the
    same name would replace the attribute with itself the moment anything imports it:
    why the stages are called generator/ and verifier/."""
    import importlib
    import types

    for name in modules(PACKAGE):
        if name != "stubgen.__main__":
            importlib.import_module(name)
    for name in ("generate", "write", "verify"):
        value = getattr(stubgen, name)
        assert callable(value) and not isinstance(value, types.ModuleType), name
