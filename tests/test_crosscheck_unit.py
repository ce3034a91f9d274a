"""Small pieces of stubgen.crosscheck that need no tool."""
from stubgen.realtools import crosscheck


def test_every_symbol_fails_when_the_assembler_made_no_code_for_one():
    entry = {"symbols": [{"name": "a"}, {"name": "b"}]}
    assert crosscheck.every_symbol(entry, {"a": b"\xc3", "b": b"\x90\xc3"}, "in .text") == \
        (crosscheck.PASS, "a 1 B, b 2 B")
    status, detail = crosscheck.every_symbol(entry, {"a": b"\xc3", "b": b""}, "in .text")
    assert status == crosscheck.FAIL and detail == "no code for b in .text"
