"""JUnit XML from expectation outcomes, for CI systems that show test reports.

One <testsuite> per expectation suite, one <testcase> per expectation (classname: the
suite, name: the expectation's name). A failed expectation has a <failure> whose `type` is
its severity ("error" or "warning") and whose message is the observed value; a skipped one
has <skipped>. Warnings are written as failures too, so they show; whether the run fails
is the exit code's business (`hive-etl check` exits 1 only for failed "error" ones).
Standard library only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from .expectations import SuiteOutcome


def junit_tree(outcomes: Iterable[SuiteOutcome]) -> ET.ElementTree:
    root = ET.Element("testsuites", name="hive-etl expectations")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    elapsed = 0.0
    for outcome in outcomes:
        failed, skipped = len(outcome.failed()), len(outcome.skipped())
        suite = ET.SubElement(root, "testsuite", name=outcome.suite, tests=str(len(outcome.results)),
                              failures=str(failed), errors="0", skipped=str(skipped), time=f"{outcome.seconds:.3f}")
        totals["tests"] += len(outcome.results)
        totals["failures"] += failed
        totals["skipped"] += skipped
        elapsed += outcome.seconds
        for result in outcome.results:
            case = ET.SubElement(suite, "testcase", classname=outcome.suite, name=result.name, time="0")
            properties = ET.SubElement(case, "properties")
            for key, value in (("severity", result.severity), ("expectation_type", result.expectation_type),
                               ("table", result.table or ""), ("column", result.column or ""), ("why", result.why)):
                ET.SubElement(properties, "property", name=key, value=value)
            if result.success is None:
                ET.SubElement(case, "skipped", message=result.observed)
            elif not result.success:
                failure = ET.SubElement(case, "failure", type=result.severity,
                                        message=f"[{result.severity}] {result.where}: {result.observed}")
                failure.text = (f"expectation: {result.expectation_type}\nwhere: {result.where}\n"
                                f"severity: {result.severity}\nobserved: {result.observed}\nwhy: {result.why}\n")
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    root.set("skipped", str(totals["skipped"]))
    root.set("time", f"{elapsed:.3f}")
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def write_junit(outcomes: Iterable[SuiteOutcome], path: Path) -> Path:
    """Write the JUnit XML file (parent folders made); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_tree(list(outcomes)).write(path, encoding="utf-8", xml_declaration=True)
    return path
