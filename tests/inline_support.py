"""Shared by the inline-assembly dialects' tests (C, Zig, Rust): write a dialect's files,
verify them as the pipeline does, and break one wrapper by hand."""
from __future__ import annotations

import stubgen
from stubgen.pipeline.verify_header import check_header_specs
from stubgen.verifier import manifest_specs


def write(tmp_path, dialect: str, arches, syscalls, **kw):
    stubgen.write(stubgen.generate(syscalls=syscalls, arches=arches, dialects=[dialect], **kw), tmp_path)
    return tmp_path


def verify(directory, symbols=None):
    specs = [x for x in manifest_specs(directory) if symbols is None or x[1].symbol in symbols]
    return [rep for rep, _ in check_header_specs(directory, specs)]


def broken(directory, path, start_at: str, edit, symbol: str):
    """The one report of symbol after edit changed the text of path from start_at on."""
    text = path.read_text()
    start = text.index(start_at)
    new = edit(text[start:])
    assert new != text[start:], "the edit changed nothing"
    path.write_text(text[:start] + new)
    reps = verify(directory, {symbol})
    assert len(reps) == 1
    return reps[0]
