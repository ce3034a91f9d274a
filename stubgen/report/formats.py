"""Results in the formats CI systems read, for `verify`, `generate --verify` and
`crosscheck`: JSON (one object a line), SARIF 2.1.0 (a result per failing stub or
check, at the file and line of the instruction at fault, so that code scanning shows it
on the assembly) and JUnit XML (a testcase per stub or check). Each command turns its
own results into Outcomes; this module only writes them."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("text", "json", "sarif", "junit")
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# What a result's status makes of it: a SARIF level (None: no result), a JUnit element.
_SARIF_LEVEL = {"fail": "error", "unverified": "warning"}
_JUNIT = {"fail": "failure", "unverified": "failure", "skip": "skipped"}


@dataclass
class Outcome:
    """One stub's verdict, or one check row of crosscheck."""

    suite: str  # the command: "stubgen verify", "stubgen crosscheck"
    group: str  # JUnit's classname: amd64.gnu
    name: str  # JUnit's test name: sys_madvise (madvise, policy raw)
    status: str  # pass, fail, unverified (a stub the verifier cannot model), skip
    rule: str  # SARIF's ruleId: what kind of check said so
    rule_text: str  # the rule's one-line description
    message: str  # why, in one line (empty when it passed)
    details: str = ""  # everything: the reasons, the disassembly
    path: str | None = None  # the file it is about
    line: int | None = None  # in that file: the instruction at fault, or the function
    record: dict = field(default_factory=dict)  # its JSON object


def write(outcomes: list[Outcome], fmt: str, out, tool_version: str) -> None:
    if fmt == "json":
        for o in outcomes:
            print(json.dumps(o.record), file=out)
    elif fmt == "sarif":
        json.dump(sarif(outcomes, tool_version), out, indent=1)
        out.write("\n")
    elif fmt == "junit":
        out.write(junit(outcomes))
    else:
        raise ValueError(fmt)


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative to the working directory where the file lies
    under it (code scanning resolves it against the repository), else a file: URI."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.resolve().relative_to(Path(os.getcwd()).resolve()).as_posix()
    except ValueError:
        return p.resolve().as_uri()


def sarif(outcomes: list[Outcome], tool_version: str) -> dict:
    rules: dict[str, str] = {}
    results = []
    for o in outcomes:
        level = _SARIF_LEVEL.get(o.status)
        if level is None:
            continue
        rules.setdefault(o.rule, o.rule_text)
        result: dict = {"ruleId": o.rule, "level": level,
                        "message": {"text": f"{o.group} {o.name}: {o.message}" + (f"\n{o.details}" if o.details else "")}}
        if o.path:
            where: dict = {"artifactLocation": {"uri": _uri(o.path)}}
            if o.line:
                where["region"] = {"startLine": o.line}
            result["locations"] = [{"physicalLocation": where}]
        results.append(result)
    driver = {"name": "stubgen", "version": tool_version,
              "rules": [{"id": r, "shortDescription": {"text": text}} for r, text in rules.items()]}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "results": results,
                      "invocations": [{"executionSuccessful": True}]}]}


def junit(outcomes: list[Outcome]) -> str:
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites")
    suites: dict[str, ET.Element] = {}
    for o in outcomes:
        suite = suites.get(o.suite)
        if suite is None:
            suite = suites[o.suite] = ET.SubElement(root, "testsuite", name=o.suite)
        case = ET.SubElement(suite, "testcase", classname=o.group, name=o.name)
        if o.path:
            case.set("file", o.path)
            if o.line:
                case.set("line", str(o.line))
        kind = _JUNIT.get(o.status)
        if kind:
            ET.SubElement(case, kind, message=o.message).text = o.details or None
        elif o.details:
            ET.SubElement(case, "system-out").text = o.details
    for name, suite in suites.items():
        cases = [o for o in outcomes if o.suite == name]
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(_JUNIT.get(o.status) == "failure" for o in cases)))
        suite.set("errors", "0")
        suite.set("skipped", str(sum(o.status == "skip" for o in cases)))
    root.set("tests", str(len(outcomes)))
    root.set("failures", str(sum(_JUNIT.get(o.status) == "failure" for o in outcomes)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
