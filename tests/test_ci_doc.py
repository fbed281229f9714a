"""docs/ci.md is what `make docs` (scripts/ci_doc.py) writes: its outputs are real, and current."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_ci_doc_is_generated(tmp_path):
    out = tmp_path / "ci.md"
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "ci_doc.py"), str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (ROOT / "docs" / "ci.md").read_text() == out.read_text(), "run `make docs`"
    text = out.read_text()
    # the two regressions fail, the fix passes
    assert text.count("(exit 1)") == 2 and text.count("(exit 0)") == 2
    assert "share v2: expected 10%±1, got 50%" in text and "routed 10% but dies there (NC)" in text
