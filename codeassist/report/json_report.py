"""`--format json`: the whole result as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from codeassist.git.changes import ChangeSet
from codeassist.tasks.review import ReviewResult


def result_dict(result: ReviewResult, changes: ChangeSet) -> dict[str, Any]:
    """Plain data of a review: findings (ARCHITECTURE.md schema) and what happened."""
    return {
        "version": 1,
        "reviewed": changes.label,
        "status": result.status,
        "findings": [f.to_dict() for f in result.findings],
        "dropped": [{"reason": d.reason, "item": d.item} for d in result.dropped],
        "reanchored": result.reanchored,
        "problem": result.problem or None,
        "raw_output": str(result.raw_output_path) if result.raw_output_path else None,
        "omitted": result.prompt.omitted if result.prompt else [],
        "not_reviewed": [{"path": p, "reason": why} for p, why in changes.not_reviewed()],
        "usage": result.usage,
        "elapsed_s": round(result.elapsed_s, 3),
    }


def to_json(result: ReviewResult, changes: ChangeSet) -> str:
    return (
        json.dumps(result_dict(result, changes), indent=2, ensure_ascii=False, default=str) + "\n"
    )
