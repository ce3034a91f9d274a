"""The pre-commit hooks a project runs on its generated stubs: each entry is a stubgen
command (the console script pyproject installs), and with the arguments the hooks'
own comment shows, it passes on current stubs and fails on stale or broken ones."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

import stubgen

REPO = Path(__file__).resolve().parent.parent
HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
# The `args:` lines of the example in the file's own comment, by hook id.
EXAMPLE = dict(re.findall(r"#\s+- id: (\S+)\n#\s+args: (\[.*\])", (REPO / ".pre-commit-hooks.yaml").read_text()))


def run(hook: dict, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command, *rest = shlex.split(hook["entry"])
    scripts = (REPO / "pyproject.toml").read_text().split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    assert re.search(rf"^{command} = \"stubgen\.cli:main\"$", scripts, re.M)
    env = {"PYTHONPATH": str(Path(stubgen.__file__).parent.parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "stubgen", *rest, *args], cwd=cwd, capture_output=True,
                          text=True, env=env)


def test_the_hooks_are_well_formed():
    assert [h["id"] for h in HOOKS] == ["stubgen-check", "stubgen-verify"]
    for h in HOOKS:
        assert h["language"] == "python" and h["pass_filenames"] is False and h["name"] and h["description"]
        assert h["id"] in EXAMPLE


def test_the_hooks_pass_on_current_stubs_and_fail_on_stale_or_broken_ones(tmp_path):
    check, verify = HOOKS
    check_args, verify_args = (yaml.safe_load(EXAMPLE[h["id"]]) for h in HOOKS)
    assert run(check, check_args, tmp_path).returncode == 1  # nothing generated yet
    assert subprocess.run([sys.executable, "-m", "stubgen", "generate", *check_args], cwd=tmp_path,
                          env={"PYTHONPATH": str(Path(stubgen.__file__).parent.parent)}).returncode == 0
    for hook, args in ((check, check_args), (verify, verify_args)):
        r = run(hook, args, tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    asm = tmp_path / "internal" / "stubs" / "stubs_linux_amd64.s"
    asm.write_text(asm.read_text().replace("$28", "$27"))
    for hook, args in ((check, check_args), (verify, verify_args)):
        assert run(hook, args, tmp_path).returncode == 1, hook["id"]
