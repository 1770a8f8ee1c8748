"""The review findings a session shows: per document, anchored to the text they were placed on."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codeassist.tasks.finding_anchors import Anchored


@dataclass(frozen=True)
class Entry:
    """What a diagnostic stands for: the finding and an id the quick fix finds it by."""

    id: int
    finding: Any  # codeassist.tasks.review_findings.Finding


@dataclass
class ReviewState:
    """Findings per document URI, and the text they were last anchored to."""

    findings: dict[str, list[Anchored]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    ids: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)
