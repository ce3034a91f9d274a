"""What a foreign .S file may #include before the C preprocessor reads it: only files
inside the input's directory, the -I directories and the -include files, plus the
toolchain's own headers. The files are walked first, each read through the confined
reader (regular files, bounded), so that a header outside them (`#include
"/etc/passwd"`, `"../../../etc/shadow"`, `</dev/zero>`) is refused by its path before
any tool opens it; the dependency list the preprocessor then writes is checked again,
for whatever the walk could not see."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import StubgenError
from ..tables import inputs
from ..tables.comments import strip_block_comments

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*(include|include_next|import|embed)\b[ \t]*(.*)$', re.M)
_NAME = re.compile(r'^("([^"]*)"|<([^>]*)>)')
# Headers walked at most: a syscall file includes a handful.
MAX_FILES = 256


def _lines(text: str) -> str:
    return strip_block_comments(text.replace("\\\n", ""))


def walk(path: Path, includes, force_includes) -> list[Path]:
    """The files path includes, transitively, that lie among the user's (checked and
    read confined); a <name> found in none of the user's directories is the toolchain's,
    which the dependency check covers. Raises StubgenError."""
    roots = [path.parent, *includes, *force_includes]
    todo = [inputs.confined(path, roots), *(inputs.confined(f, roots) for f in force_includes)]
    seen: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if len(seen) > MAX_FILES:
            raise StubgenError(f"{path}: includes more than {MAX_FILES} files")
        for m in _INCLUDE.finditer(_lines(inputs.read_text(f, roots, what="included file"))):
            arg = m.group(2).split("//")[0].strip()
            n = _NAME.match(arg)
            if not n:
                raise StubgenError(f"{f.name}: #{m.group(1)} {arg[:60]}: a computed include; name the header in "
                                   "quotes or <> (stubgen checks what a file includes before preprocessing it)")
            name = n.group(2) if n.group(2) is not None else n.group(3)
            dirs = ([f.parent] if n.group(2) is not None else []) + list(includes)
            found = inputs.find_include(name, dirs, roots, f"{f.name}: #{m.group(1)}")
            if found is None and (Path(name).is_absolute() or ".." in Path(name).parts):
                # Left to the preprocessor, it would be looked for from the toolchain's
                # directories, and a `..` climbs out of them.
                raise StubgenError(f"{f.name}: #{m.group(1)} \"{name}\": not found in the input's directory or the -I "
                                   "directories, and a path with .. or an absolute one is no toolchain header")
            if found is not None:
                todo.append(found)
    return sorted(seen)


_DEP_SPLIT = re.compile(r"(?<!\\)\s+")


def dependencies(text: str) -> list[Path]:
    """The files of a make rule the preprocessor wrote with -MD (`obj: a b \\` lines)."""
    body = text.replace("\\\n", " ").partition(":")[2]
    return [Path(p.replace("\\ ", " ").replace("$$", "$")) for p in _DEP_SPLIT.split(body.strip()) if p]


def check_dependencies(deps, path: Path, includes, force_includes, system) -> None:
    roots = [Path(p).resolve() for p in (path.parent, *includes, *force_includes, *system)]
    for d in deps:
        real = d.resolve()
        if not any(real == r or r in real.parents for r in roots):
            raise StubgenError(f"{path.name}: the preprocessor read {d}, outside the input's directory, the -I "
                               "directories and the toolchain's headers; refused, and nothing of it is shown")
