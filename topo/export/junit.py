"""JUnit XML of a `topo assert` run, as CI systems (GitHub Actions reporters, GitLab, Jenkins) show it.

One testsuite per file, one testcase per expectation; a failed check is a ``<failure>`` with what was
expected and what the mesh does. Names come from the user's file and the dumps: ElementTree escapes
them, and characters XML 1.0 cannot hold are replaced.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from topo.queries.assertions import AssertResult

_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _t(s: object) -> str:
    return _BAD_XML.sub("\ufffd", str(s))


def junit_xml(res: AssertResult, suite: str = "topo assert") -> bytes:
    root = ET.Element("testsuites", tests=str(len(res.results)), failures=str(res.failed), errors="0")
    ts = ET.SubElement(root, "testsuite", name=_t(f"{suite} {res.file}".strip()), tests=str(len(res.results)),
                       failures=str(res.failed), errors="0")
    if res.snapshot:
        props = ET.SubElement(ts, "properties")
        ET.SubElement(props, "property", name="snapshot", value=_t(res.snapshot))
    for r in res.results:
        tc = ET.SubElement(ts, "testcase", classname=_t(f"topo.assert.{res.file or 'expectations'}"),
                           name=_t(f"#{r.index} {r.name}"))
        if r.ok:
            continue
        bad = [c for c in r.checks if not c.ok]
        msg = r.error or "; ".join(f"{c.check}: expected {c.expected}, got {c.actual}" for c in bad)
        f = ET.SubElement(tc, "failure", message=_t(msg), type="AssertionError")
        lines = [r.error] if r.error else []
        for c in bad:
            lines.append(f"{c.check}: expected {c.expected}, got {c.actual}")
            lines += [f"  {d}" for d in c.details]
        f.text = _t("\n".join(lines))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
