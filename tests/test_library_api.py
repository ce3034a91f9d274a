"""The library as another runtime's generator uses it: the tables typed and as the
document of `list --json`, the names at the top level, input as a str or a list, and
a verification that goes on past an architecture without an assembler."""
import json
import subprocess
import sys
import warnings

import pytest

import stubgen
from stubgen import cli


def test_the_document_is_what_list_json_prints():
    r = subprocess.run([sys.executable, "-m", "stubgen", "list", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(json.dumps(stubgen.tables_document()))


def test_the_typed_tables_say_what_the_document_says():
    doc = stubgen.tables_document()
    arches = stubgen.architectures()
    from stubgen.resources import tables_dir

    shipped = sorted(p.stem for p in tables_dir().glob("*.yaml"))
    assert list(arches) == list(doc["arches"]) and sorted(arches) == shipped
    for name, a in arches.items():
        d = doc["arches"][name]
        assert (a.goarch, a.word_bytes, a.endian, a.kernel) == (d["goarch"], d["word_bytes"], d["endian"], d["kernel"])
        assert list(a.syscalls) == list(d["syscalls"])
        for s in a.syscalls.values():
            j = d["syscalls"][s.name]
            assert (s.number, s.typed, s.reserved, s.excluded, s.special) == (
                j["number"], j["typed"], j["reserved"], j["excluded"], j["special"])
            assert (s.args is None) == (j["args"] is None)
            for arg, ja in zip(s.args or (), j["args"] or ()):
                assert (arg.name, arg.c_type, arg.go_type, list(arg.kernel_registers), arg.kernel_bits) == (
                    ja["name"], ja["c_type"], ja["go_type"], ja["kernel_registers"], ja["kernel_bits"])


def test_typed_accessors_for_numbers_signatures_and_the_abi():
    amd64 = stubgen.architecture("x86_64")
    assert isinstance(amd64, stubgen.Architecture) and amd64.name == "amd64"
    madvise = amd64.syscall("madvise")
    assert isinstance(madvise, stubgen.Syscall) and madvise.number == 28 and madvise.typed
    assert [(a.name, a.kernel_registers) for a in madvise.args] == [("addr", ("rdi",)), ("len", ("rsi",)),
                                                                    ("advice", ("rdx",))]
    assert (amd64.abi.number, amd64.abi.args[:3], amd64.abi.result) == ("rax", ("rdi", "rsi", "rdx"), "rax")
    assert amd64.abi.error_range == (-4095, -1) and amd64.abi.error_flag is None
    write = amd64.syscall("write")
    assert write.args[0].go_type == "int" and write.args[1].c_type == "const char *"
    # o32: arguments 5 and 6 on the stack at the trap; positive errno with a3 set
    mips = stubgen.architecture("mips")
    assert mips.abi.error_flag == "a3" and mips.abi.stack_args == 16
    mmap = mips.syscall("mmap")
    assert mmap.args[4].kernel_registers == (None,) and mmap.args[4].kernel_stack == (16,)
    assert mmap.result.go_type == "unsafe.Pointer"
    assert amd64.syscall("uselib").reserved and amd64.syscall("uselib").args is None
    with pytest.raises(stubgen.StubgenError, match=r"did you mean madvise\?"):
        amd64.syscall("madvse")
    with pytest.raises(stubgen.StubgenError, match="unknown architecture 'sparc'"):
        stubgen.architecture("sparc")


def test_a_users_tables_directory_overlays_the_shipped_ones(tmp_path):
    (tmp_path / "numbers").mkdir()
    from stubgen.resources import tables_dir

    text = (tables_dir() / "numbers" / "amd64.yaml").read_text().replace("madvise: 28", "madvise: 999")
    (tmp_path / "numbers" / "amd64.yaml").write_text(text)
    assert stubgen.architecture("amd64", tables=tmp_path).syscall("madvise").number == 999
    assert stubgen.architecture("amd64").syscall("madvise").number == 28


def test_the_top_level_names_resolve_and_are_documented():
    for name in stubgen.__all__:
        assert getattr(stubgen, name) is not None
    for obj in (stubgen.generate, stubgen.write, stubgen.verify, stubgen.Stub, stubgen.Report, stubgen.StubgenError,
                stubgen.architectures, stubgen.architecture, stubgen.tables_document, stubgen.Syscall):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj
    assert stubgen.StubgenError is stubgen.errors.StubgenError
    reports = stubgen.verify(stubgen.generate(arches="amd64"))
    assert all(isinstance(r, stubgen.Report) and r.ok for r in reports)


def test_a_stub_shows_what_it_is_not_how_it_was_made():
    (s,) = stubgen.generate(arches="amd64", dialects="gnu")
    assert "context" not in repr(s) and "frame" not in repr(s)
    assert "context" not in {f for f in vars(type(s))["__dataclass_fields__"] if not f.startswith("_")}
    assert s.c_decl == "long sys_madvise(void *addr, unsigned long len, int advice)"
    assert s.go_decl.startswith("sys_madvise(addr unsafe.Pointer")


def test_py_typed_ships_with_the_package():
    from importlib.resources import files

    assert files("stubgen").joinpath("py.typed").is_file()


@pytest.mark.parametrize("kw", [
    {"arches": "riscv64"}, {"arches": "riscv64,amd64"}, {"arches": ["riscv64"]}, {"dialects": "gnu"},
    {"syscalls": "madvise,getpid"}, {"traps": "amd64=syscall"}, {"traps": ["amd64=syscall"]},
    {"traps": {"amd64": "syscall"}}])
def test_a_str_or_a_list_everywhere(kw):
    stubs = stubgen.generate(**{"arches": ["amd64"], **kw})
    assert stubs and all(s.arch in ("amd64", "riscv64") for s in stubs)


@pytest.mark.parametrize("kw, words", [
    ({"arches": "r"}, "unknown architecture 'r'"),
    ({"arches": 64}, "arches must be a name"),
    ({"traps": "amd64=int80"}, "unknown trap for amd64 in dialect"),
    ({"traps": "amd64"}, "expected ARCH=TRAP"),
    ({"traps": {"amd64": 1}}, "expected architecture names mapped to trap names"),
    ({"dialects": ["gnu", 2]}, "dialects must be a name"),
    ({"policy": 3}, "policy must be a str"),
    ({"go_package": 3}, "option go_package=3: expected str"),
    ({"colour": "red"}, "unknown option 'colour'"),
    ({"syscalls": ""}, "an empty name"),
])
def test_bad_values_are_stubgen_errors(kw, words):
    with pytest.raises(stubgen.StubgenError, match=words):
        stubgen.generate(**kw)


def test_a_missing_assembler_fails_its_stubs_and_the_others_are_verified(monkeypatch, tmp_path, capsys):
    """Without the llvm extra: riscv64 has no assembler, arm64 and amd64 have Keystone."""
    monkeypatch.setattr("stubgen.verifier.llvm.available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = cli.main(["generate", "-o", str(tmp_path), "-a", "riscv64,arm64,amd64", "--verify", "-j1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "verified 6 stubs" in out and "4 passed, 2 failed" in out, out
    assert out.count("no assembler installed for riscv64") == 2 and "pip install 'stubgen[llvm]'" in out
    assert "not assembled twice: LLVM for arm64" in out and "not assembled twice: LLVM for riscv64" not in out
