"""The review prompt: instructions, the diff with right-side line numbers, related code.

Everything is packed to a token budget. The diff comes first (code before config before docs
before lock files, bigger additions first, whole files before single hunks); related code from
the repository index fills what is left. What did not fit is listed, in the prompt and to the
user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from codeassist.git.changes import ChangeSet, FileChange, Hunk

SYSTEM = """You are a meticulous senior engineer reviewing a code change before it is committed.
Report only real problems in the changed lines: bugs, wrong logic, crashes, security holes, data
loss, race conditions, resource leaks, wrong error handling, API misuse, performance traps. Do
not report style preferences, formatting, or things that are merely different from how you would
write them. Each changed file is shown as a diff: every line that exists in the new version
starts with its line number in the new version; added lines are marked "+", removed lines "-"
(removed lines have no number and cannot be pointed at). Related code from the repository follows
for reference: use it to check how the changed code is called and what it calls.

Answer with one JSON object and nothing else, in this form:
{"findings": [{"path": "src/app.py", "line": 12, "end_line": 13, "severity": "error",
"category": "bug", "message": "What is wrong and why, in one or two sentences.",
"code": "the exact text of line 12", "suggestion": "optional replacement text for lines 12-13"}]}

Rules: "path" is the file's path as shown after "###"; "line" and "end_line" are line numbers in
the new version of that file, on or next to changed lines; "code" is the text of line "line",
copied exactly; "severity" is "error" (will break or is unsafe), "warning" (likely wrong or
fragile) or "info" (worth a second look); "category" is one word such as bug, security,
performance, concurrency, error-handling, api, maintainability. Leave out "suggestion" when you
have no concrete replacement. If the change has no real problems, answer {"findings": []}."""

REPAIR = """Your answer was not valid: {problem}. Answer again with only the JSON object
{{"findings": [...]}} as specified (an empty list if there are no problems), nothing else."""

_CODE = {
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".kt",
    ".kts", ".scala", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".cs", ".rb", ".php",
    ".swift", ".m", ".mm", ".sh", ".bash", ".zsh", ".sql", ".lua", ".dart", ".ex", ".exs",
    ".erl", ".hs", ".ml", ".clj", ".r", ".jl", ".pl", ".vue", ".svelte",
}  # fmt: skip
_CONFIG = {".toml", ".yaml", ".yml", ".json", ".cfg", ".ini", ".xml", ".gradle", ".cmake", ".mk"}
_CONFIG_NAMES = {"Dockerfile", "Makefile", "CMakeLists.txt", "Jenkinsfile", "Containerfile"}
_DOCS = {".md", ".rst", ".txt", ".adoc", ".html", ".css", ".scss"}
_GENERATED = {
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock", "go.sum",
    "uv.lock", "Pipfile.lock", "composer.lock", "Gemfile.lock",
}  # fmt: skip


@dataclass
class PromptPart:
    """One piece of the prompt, for the budget accounting and --dry-run."""

    kind: str  # instructions | diff | context | note
    label: str
    tokens: int
    text: str
    path: str | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class ReviewPrompt:
    messages: list[dict[str, str]]
    parts: list[PromptPart]  # what was included, in prompt order
    omitted: list[str]  # changed lines that did not fit (not reviewed), for people
    budget: int
    used: int
    context_omitted: list[str] = field(default_factory=list)  # related code left out

    def changed_ranges(self) -> dict[str, list[tuple[int, int]]]:
        """Right-side ranges of the diff parts that made it into the prompt."""
        out: dict[str, list[tuple[int, int]]] = {}
        for part in self.parts:
            if part.kind == "diff" and part.path:
                out.setdefault(part.path, []).extend(part.ranges)
        return out


ContextProvider = Callable[[dict[str, list[tuple[int, int]]], int], Any]
"""(changed ranges per path, token budget) -> something shaped like retrieval.PackedContext."""


def language_rank(path: str) -> int:
    """0 code, 1 config and build files, 2 docs, 3 lock files and generated code, 4 other."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    if name in _GENERATED or name.endswith((".min.js", ".min.css", ".map", "_pb2.py", ".pb.go")):
        return 3
    if suffix in _CODE:
        return 0
    if suffix in _CONFIG or name in _CONFIG_NAMES:
        return 1
    if suffix in _DOCS:
        return 2
    return 4


def _file_header(change: FileChange) -> str:
    added, deleted = change.counts()
    status = change.status
    if change.status in ("renamed", "copied"):
        status = f"{change.status} from {change.old_path}"
    return f"### {change.path} ({status}, +{added} -{deleted})\n"


def render_hunk(hunk: Hunk) -> str:
    """A hunk with right-side line numbers in front of every line that exists there."""
    width = len(str(hunk.new_start + hunk.new_count)) + 1
    out = [f"@@ {hunk.header}".rstrip() + "\n"]
    for line in hunk.lines:
        number = str(line.new_line) if line.new_line is not None else ""
        out.append(f"{number:>{width}} {line.kind} {line.text}\n")
    return "".join(out)


def _note_for(change: FileChange) -> str | None:
    if change.skipped:
        return None  # not even its name goes to the model
    if change.path is None:
        return f"- {change.old_path}: deleted"
    if change.binary:
        return f"- {change.path}: binary file changed (not reviewed)"
    if not change.hunks:
        if change.status == "renamed":
            return f"- {change.path}: renamed from {change.old_path} without changes"
        return f"- {change.path}: mode change only"
    return None


def _ordered(changes: ChangeSet) -> list[FileChange]:
    def key(change: FileChange) -> tuple[int, int, str]:
        added, _ = change.counts()
        return language_rank(change.path or ""), -added, change.path or ""

    return sorted(changes.reviewable(), key=key)


def build_prompt(
    changes: ChangeSet,
    *,
    budget: int,
    count_tokens: Callable[[str], int],
    context: ContextProvider | None = None,
    diff_share: float = 0.75,
) -> ReviewPrompt:
    """Messages for the review of changes, packed to budget prompt tokens."""
    parts: list[PromptPart] = []
    omitted: list[str] = []
    intro = f"Review this change: {changes.label}.\n\n## Changed files\n\n"
    fixed = count_tokens(SYSTEM) + count_tokens(intro) + 64  # turn markers, section titles
    parts.append(PromptPart("instructions", "instructions and answer format", fixed, ""))
    used = fixed

    diff_budget = max(0, int(budget * diff_share) - used)
    diff_used = 0
    for change in _ordered(changes):
        header = _file_header(change)
        whole = header + "".join(render_hunk(h) for h in change.hunks)
        cost = count_tokens(whole)
        if diff_used + cost <= diff_budget:
            parts.append(
                PromptPart(
                    "diff", change.path or "", cost, whole, change.path, change.diff_ranges()
                )
            )
            diff_used += cost
            continue
        header_cost = count_tokens(header)
        taken: list[Hunk] = []
        text = header
        for hunk in change.hunks:
            rendered = render_hunk(hunk)
            hunk_cost = count_tokens(rendered)
            extra = hunk_cost + (0 if taken else header_cost)
            if diff_used + extra <= diff_budget:
                taken.append(hunk)
                text += rendered
                diff_used += extra
            else:
                first, last = hunk.new_range or (hunk.new_start, hunk.new_start)
                omitted.append(f"{change.path} lines {first}-{last} ({hunk_cost} tokens)")
        if taken:
            ranges = [r for r in (h.new_range for h in taken) if r]
            parts.append(
                PromptPart("diff", change.path or "", count_tokens(text), text, change.path, ranges)
            )
    used += diff_used

    notes = [n for n in (_note_for(c) for c in changes.files) if n]
    if omitted:
        notes += [f"- {o}: changed, but did not fit in this review" for o in omitted]
    notes_text = "## Also changed (not shown)\n\n" + "\n".join(notes) + "\n\n" if notes else ""
    if notes_text:
        cost = count_tokens(notes_text)
        parts.append(PromptPart("note", "files not shown", cost, notes_text))
        used += cost

    context_text = ""
    context_omitted: list[str] = []
    shown = {p.path: p.ranges for p in parts if p.kind == "diff" and p.path}
    context_budget = budget - used - 16
    if context is not None and shown and context_budget > 0:
        packed = context(shown, context_budget)
        for item in packed.items:
            if _covered(shown.get(item.path, []), item.start_line, item.end_line):
                continue  # already in the prompt as part of the diff
            lines = item.text.split("\n")
            width = len(str(item.end_line)) + 1
            if item.kind == "outline":
                # Its lines are a summary (bodies elided), not lines start..end: no numbers
                # a finding could point at.
                body = "".join(f"{'':>{width}}   {text}\n" for text in lines)
            else:
                body = "".join(
                    f"{n:>{width}}   {text}\n"
                    for n, text in zip(
                        range(item.start_line, item.end_line + 1), lines, strict=False
                    )
                )
            title = f"### {item.path} lines {item.start_line}-{item.end_line} ({item.kind})\n"
            block = title + body + "\n"
            if item.kind == "outline" and OUTLINE_NOTE not in context_text:
                block = OUTLINE_NOTE + block
            cost = count_tokens(block)
            if used + cost > budget:
                context_omitted.append(f"{item.path}:{item.start_line}-{item.end_line}")
                continue
            parts.append(
                PromptPart(
                    "context",
                    f"{item.path}:{item.start_line}-{item.end_line} {item.kind}",
                    cost,
                    block,
                    item.path,
                    [(item.start_line, item.end_line)],
                )
            )
            used += cost
            context_text += block
        context_omitted.extend(packed.omitted)
    if context_text:
        context_text = "## Related code from the repository (for reference)\n\n" + context_text

    diff_text = "".join(p.text for p in parts if p.kind == "diff")
    user = intro + diff_text + "\n" + notes_text + context_text
    user += 'Answer with the JSON object {"findings": [...]} only.'
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    return ReviewPrompt(
        messages=messages,
        parts=parts,
        omitted=omitted,
        budget=budget,
        used=used,
        context_omitted=context_omitted,
    )


OUTLINE_NOTE = (
    "Items marked (outline) list a class's or file's members; a `[body elided]` comment stands "
    "for code left out: do not reproduce it, complete it, or point findings at it.\n\n"
)


def _covered(ranges: list[tuple[int, int]], first: int, last: int) -> bool:
    return any(start <= first and last <= end for start, end in ranges)


def repair_messages(prompt: ReviewPrompt, answer: str, problem: str) -> list[dict[str, str]]:
    """The conversation that asks the model once more for valid JSON."""
    return [
        *prompt.messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": REPAIR.format(problem=problem)},
    ]


def dry_run_report(prompt: ReviewPrompt, changes: ChangeSet) -> dict[str, Any]:
    """What would be sent, as plain data: parts with their tokens, the total, what did not fit,
    and the changed files that are not reviewed (with why)."""
    return {
        "budget": prompt.budget,
        "used": prompt.used,
        "parts": [
            {
                "kind": p.kind,
                "label": p.label,
                "tokens": p.tokens,
                "path": p.path,
                "ranges": p.ranges,
            }
            for p in prompt.parts
        ],
        "omitted": prompt.omitted,
        "context_omitted": prompt.context_omitted,
        "not_reviewed": [{"path": p, "reason": why} for p, why in changes.not_reviewed()],
    }


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
