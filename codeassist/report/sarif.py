"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning takes it."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from codeassist import __version__
from codeassist.git.changes import ChangeSet
from codeassist.report.lines import reviewed_lines
from codeassist.tasks.review import ReviewResult
from codeassist.tasks.review_findings import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def rule_id(category: str) -> str:
    """A stable rule id per finding category (SARIF wants it distinct from the rule's name)."""
    return f"codeassist/{category}"


def _rule(category: str) -> dict[str, Any]:
    words = category.replace("_", "-").split("-")
    return {
        "id": rule_id(category),
        "name": "".join(w.capitalize() for w in words if w) or "General",
        "shortDescription": {"text": f"Code review finding: {category}."},
        "fullDescription": {
            "text": f"A problem of kind '{category}' found by codeassist's model-based review."
        },
        "help": {
            "text": "Read the finding's message; codeassist reviews changes with a local model, "
            "so check the reasoning before acting on it."
        },
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["codeassist", category]},
    }


def _message(finding: Finding) -> str:
    text = finding.message.strip()
    if not text.endswith((".", "!", "?")):
        text += "."
    return text


def _region(finding: Finding, lines: list[str]) -> dict[str, Any]:
    last = lines[finding.end_line - 1] if finding.end_line <= len(lines) else ""
    region: dict[str, Any] = {
        "startLine": finding.line,
        "startColumn": 1,
        "endLine": finding.end_line,
        "endColumn": len(last.rstrip("\r")) + 1,
    }
    if lines:
        snippet = "\n".join(lines[finding.line - 1 : finding.end_line])
        region["snippet"] = {"text": snippet}
    return region


def _fingerprint(finding: Finding, lines: list[str]) -> str:
    code = "\n".join(line.strip() for line in lines[finding.line - 1 : finding.end_line])
    key = "\0".join([finding.path, finding.category, finding.message, code])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def result_object(finding: Finding, lines: list[str], rule_index: int) -> dict[str, Any]:
    location = {"uri": quote(finding.path), "uriBaseId": "%SRCROOT%"}
    region = _region(finding, lines)
    out: dict[str, Any] = {
        "ruleId": rule_id(finding.category),
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
        "partialFingerprints": {"codeassistFindingHash/v1": _fingerprint(finding, lines)},
    }
    if finding.suggestion is not None:
        deleted = {k: region[k] for k in ("startLine", "startColumn", "endLine", "endColumn")}
        out["fixes"] = [
            {
                "description": {"text": "Replacement suggested by the review."},
                "artifactChanges": [
                    {
                        "artifactLocation": location,
                        "replacements": [
                            {
                                "deletedRegion": deleted,
                                "insertedContent": {"text": finding.suggestion.rstrip("\n")},
                            }
                        ],
                    }
                ],
            }
        ]
    return out


def _invocation(result: ReviewResult) -> dict[str, Any]:
    """Whether the review completed; when not, why (consumers must not read it as "clean")."""
    invocation: dict[str, Any] = {"executionSuccessful": result.status == "ok"}
    notes = []
    if result.status != "ok":
        text = f"The model did not return valid findings: {result.problem or result.status}."
        if result.raw_output_path:
            text += f" Raw output: {result.raw_output_path}"
        notes.append({"level": "error", "message": {"text": text}})
    if result.dropped:
        notes.append(
            {
                "level": "note",
                "message": {
                    "text": f"{len(result.dropped)} findings pointed outside the reviewed "
                    "lines and were dropped."
                },
            }
        )
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def sarif_log(result: ReviewResult, changes: ChangeSet) -> dict[str, Any]:
    categories = sorted({f.category for f in result.findings})
    index = {c: i for i, c in enumerate(categories)}
    results = [
        result_object(f, reviewed_lines(changes, f.path), index[f.category])
        for f in result.findings
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "codeassist",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(c) for c in categories],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": changes.root.resolve().as_uri() + "/"}},
        "automationDetails": {"id": "codeassist/review/"},
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(result)],
        "results": results,
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def to_sarif(result: ReviewResult, changes: ChangeSet) -> str:
    return json.dumps(sarif_log(result, changes), indent=2, ensure_ascii=False) + "\n"
