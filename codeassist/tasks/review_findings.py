"""Review findings you can trust: JSON out of the model's answer, checked against the diff.

A finding must point at lines that exist in the reviewed version of a file and, with
only_changed, at lines the diff shows. One that does not is re-anchored when the model quoted
the code it meant and that code is found, and dropped otherwise; it is never shown wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from codeassist.git.changes import ChangeSet, in_ranges

SEVERITIES = ("error", "warning", "info")
_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
_SEVERITY_ALIASES = {
    "error": "error",
    "critical": "error",
    "blocker": "error",
    "high": "error",
    "major": "error",
    "fatal": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "moderate": "warning",
    "info": "info",
    "information": "info",
    "note": "info",
    "low": "info",
    "minor": "info",
    "suggestion": "info",
    "nit": "info",
}
_ALIASES = {
    "path": ("path", "file", "filename", "file_path"),
    "line": ("line", "start_line", "line_start", "start"),
    "end_line": ("end_line", "line_end", "end"),
    "severity": ("severity", "level", "priority"),
    "category": ("category", "type", "kind", "rule"),
    "message": ("message", "description", "comment", "issue", "problem", "text"),
    "suggestion": ("suggestion", "fix", "replacement", "suggested_code"),
    "code": ("code", "quote", "snippet", "line_text", "anchor"),
}

# JSON schema of the answer, for backends that constrain output (response_format).
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "category": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                    "suggestion": {"type": "string"},
                },
                "required": ["path", "line", "severity", "category", "message", "code"],
            },
        }
    },
    "required": ["findings"],
}


@dataclass(frozen=True)
class Finding:
    """One review finding (ARCHITECTURE.md): lines are 1-based, inclusive, right side."""

    path: str
    line: int
    end_line: int
    severity: str  # error | warning | info
    category: str
    message: str
    suggestion: str | None = None  # replacement text for lines line..end_line

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["suggestion"] is None:
            del data["suggestion"]
        return data


@dataclass(frozen=True)
class Dropped:
    """A finding the model wrote that could not be shown, and why."""

    item: Any
    reason: str


@dataclass
class Checked:
    findings: list[Finding] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    reanchored: int = 0


class InvalidAnswer(ValueError):
    """The answer holds no findings list at all (the message says what was wrong)."""


def severity_reaches(severity: str, threshold: str) -> bool:
    """True when severity is at or above threshold ("never" is reached by nothing)."""
    if threshold == "never":
        return False
    return _SEVERITY_RANK[severity] >= _SEVERITY_RANK[threshold]


def _candidates(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r"[\[{]", text)]


def _unfenced(text: str) -> str:
    match = re.fullmatch(r"\s*```[\w-]*\s*\n(.*?)\n?\s*```\s*", text, re.S)
    return match.group(1) if match else text


def _looks_like_finding(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and any(k in value for k in _ALIASES["message"])
        and any(k in value for k in _ALIASES["path"])
    )


def _as_findings(value: Any, whole: bool) -> list[Any] | None:
    """The findings list in a decoded JSON value; whole: the value is the entire answer."""
    if isinstance(value, dict) and "findings" in value:
        if isinstance(value["findings"], list):
            return value["findings"]
        raise InvalidAnswer("'findings' is not a list")
    if isinstance(value, list) and (whole or value) and all(_looks_like_finding(v) for v in value):
        return value
    if _looks_like_finding(value):
        return [value]
    return None


def extract_findings(answer: str) -> list[Any]:
    """The list of raw findings in a model answer; InvalidAnswer when there is none.

    The answer should be the JSON object alone; an object with a "findings" list inside prose
    is taken too. A bare list counts only when it is the whole answer or holds findings, so
    that a stray "[]" in noise never reads as "no problems".
    """
    if not answer.strip():
        raise InvalidAnswer("the answer was empty")
    body = _unfenced(answer).strip()
    try:
        found = _as_findings(json.loads(body), whole=True)
    except json.JSONDecodeError:
        found = None
    if found is not None:
        return found
    decoder = json.JSONDecoder()
    saw_json = False
    for start in _candidates(answer):
        try:
            value, _ = decoder.raw_decode(answer, start)
        except json.JSONDecodeError:
            continue
        saw_json = True
        found = _as_findings(value, whole=False)
        if found is not None:
            return found
    if saw_json:
        raise InvalidAnswer('the JSON in the answer has no "findings" list')
    raise InvalidAnswer("the answer holds no JSON object")


def _pick(item: dict[str, Any], name: str) -> Any:
    for key in _ALIASES[name]:
        if key in item and item[key] is not None:
            return item[key]
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _strip_fence(text: str) -> str:
    match = re.fullmatch(r"\s*```[\w+-]*\n(.*?)\n?```\s*", text, re.S)
    return match.group(1) if match else text


def _normalize_path(raw: str, root: str) -> str:
    path = raw.strip().replace("\\", "/")
    if root and path.startswith(root.rstrip("/") + "/"):
        path = path[len(root.rstrip("/")) + 1 :]
    while path.startswith("./"):
        path = path[2:]
    return str(PurePosixPath(path)) if path else path


_LINE_PREFIX = re.compile(r"^\s*\d+\s*[|:]?\s?[+ ]?")  # "  12 + code" copied from the prompt


def _same_code(quoted: str, line: str) -> bool:
    want = quoted.strip()
    have = line.strip()
    if not want:
        return False
    if want == have:
        return True
    for variant in (want[1:] if want[:1] in "+ " else None, _LINE_PREFIX.sub("", quoted, 1)):
        if variant is not None and variant.strip() and variant.strip() == have:
            return True
    return False


def check_findings(
    items: list[Any],
    changes: ChangeSet,
    *,
    only_changed: bool = True,
    read_file: Callable[[str], list[str] | None] | None = None,
) -> Checked:
    """Findings that point at real lines (re-anchored by their quoted code); the rest dropped.

    read_file gives the reviewed version's lines of a file outside the diff (used when
    only_changed is False); None for files that do not exist there.
    """
    checked = Checked()
    seen: set[tuple[str, int, int, str]] = set()
    by_path = {f.path: f for f in changes.files if f.path}
    by_old_path = {
        f.old_path: f for f in changes.files if f.path and f.old_path and f.path != f.old_path
    }
    deleted = {f.old_path for f in changes.files if f.path is None}

    def drop(item: Any, reason: str) -> None:
        checked.dropped.append(Dropped(item, reason))

    for item in items:
        if not isinstance(item, dict):
            drop(item, "not a JSON object")
            continue
        raw_path = _pick(item, "path")
        if not isinstance(raw_path, str) or not raw_path.strip():
            drop(item, "no path")
            continue
        path = _normalize_path(raw_path, str(changes.root))
        for prefix in ("a/", "b/"):
            if path not in by_path and path.startswith(prefix) and path[2:] in by_path:
                path = path[2:]
        change = by_path.get(path)
        if change is None and path in by_old_path:
            change = by_old_path[path]
            path = change.path or path
        if change is None and path in deleted:
            drop(item, f"{path} was deleted: it has no lines to point at")
            continue
        message = _pick(item, "message")
        if not isinstance(message, str) or not message.strip():
            drop(item, "no message")
            continue
        severity = _SEVERITY_ALIASES.get(str(_pick(item, "severity") or "").strip().lower())
        if severity is None:
            drop(item, f"severity {_pick(item, 'severity')!r} is not error, warning or info")
            continue
        line = _as_int(_pick(item, "line"))
        if line is None or line < 1:
            drop(item, f"line {_pick(item, 'line')!r} is not a line number")
            continue
        end_line = _as_int(_pick(item, "end_line"))
        end_line = line if end_line is None or end_line < line else end_line

        if change is not None:
            if not change.reviewable:
                what = "binary" if change.binary else "not in the reviewed version"
                drop(item, f"{path} is {what}: it has no lines to point at")
                continue
            lines = change.new_lines()
            allowed = change.diff_ranges() if only_changed else [(1, len(lines))]
        elif only_changed:
            drop(item, f"{path} is not among the changed files")
            continue
        else:
            file_lines = read_file(path) if read_file else None
            if file_lines is None:
                drop(item, f"{path} does not exist in the reviewed version")
                continue
            lines, allowed = file_lines, [(1, len(file_lines))]

        quoted = _pick(item, "code")
        quoted = quoted.strip("\n").split("\n")[0] if isinstance(quoted, str) else ""
        where = "the diff" if only_changed else "the file"
        if quoted.strip() and not (line <= len(lines) and _same_code(quoted, lines[line - 1])):
            matches = [
                n
                for start, end in allowed
                for n in range(start, min(end, len(lines)) + 1)
                if _same_code(quoted, lines[n - 1])
            ]
            if not matches:
                drop(item, f"the quoted code is on no line of {where} in {path}")
                continue
            target = min(matches, key=lambda n: (abs(n - line), n))
            end_line, line = end_line + (target - line), target
            checked.reanchored += 1
        if line > len(lines):
            drop(item, f"{path} has {len(lines)} lines in the reviewed version, not {line}")
            continue
        span = in_ranges(allowed, line, min(end_line, len(lines)))
        if span is None:
            drop(item, f"line {line} of {path} is outside {where}")
            continue
        line, end_line = span

        category = _pick(item, "category")
        category = (
            re.sub(r"\s+", "-", category.strip().lower()) if isinstance(category, str) else ""
        )
        suggestion = _pick(item, "suggestion")
        suggestion = _strip_fence(suggestion) if isinstance(suggestion, str) else None
        finding = Finding(
            path=path,
            line=line,
            end_line=end_line,
            severity=severity,
            category=category or "general",
            message=message.strip(),
            suggestion=suggestion if suggestion and suggestion.strip() else None,
        )
        key = (finding.path, finding.line, finding.end_line, finding.message)
        if key in seen:
            continue
        seen.add(key)
        checked.findings.append(finding)
    checked.findings.sort(key=lambda f: (f.path, f.line, -_SEVERITY_RANK[f.severity]))
    return checked
