"""`--format rdjsonl`: reviewdog's Diagnostic Format, one JSON object per line."""

from __future__ import annotations

import json
from typing import Any

from codeassist.git.changes import ChangeSet
from codeassist.report.lines import reviewed_lines
from codeassist.tasks.review import ReviewResult
from codeassist.tasks.review_findings import Finding

_SEVERITY = {"error": "ERROR", "warning": "WARNING", "info": "INFO"}


def _range(finding: Finding, lines: list[str]) -> dict[str, Any]:
    last = lines[finding.end_line - 1] if finding.end_line <= len(lines) else ""
    # Columns count UTF-8 bytes from 1; the end is just past the last character of end_line.
    end_column = len(last.rstrip("\r").encode("utf-8")) + 1
    return {
        "start": {"line": finding.line, "column": 1},
        "end": {"line": finding.end_line, "column": end_column},
    }


def diagnostic(finding: Finding, lines: list[str]) -> dict[str, Any]:
    """One finding as an rdformat Diagnostic."""
    span = _range(finding, lines)
    out: dict[str, Any] = {
        "message": finding.message,
        "location": {"path": finding.path, "range": span},
        "severity": _SEVERITY[finding.severity],
        "source": {"name": "codeassist"},
        "code": {"value": finding.category},
    }
    if finding.suggestion is not None:
        out["suggestions"] = [{"range": span, "text": finding.suggestion.rstrip("\n")}]
    return out


def to_rdjsonl(result: ReviewResult, changes: ChangeSet) -> str:
    rows = [
        json.dumps(diagnostic(f, reviewed_lines(changes, f.path)), ensure_ascii=False)
        for f in result.findings
    ]
    return "".join(row + "\n" for row in rows)
