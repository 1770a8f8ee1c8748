"""Run the retrieval eval: our index and the baselines on the same cases and budgets."""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.context import RepoIndex
from retrieval.evaluation.baselines import Bm25Windows, ImportSet, no_retrieval
from retrieval.evaluation.cases import GROUPS, Case, Target
from retrieval.model import PackedContext

Span = tuple[str, int, int]
AIDER_SCRIPT = Path(__file__).with_name("aider_map.py")


@dataclass
class MethodResult:
    """Pass counts of one method per (case group, budget)."""

    name: str
    header: dict[tuple[str, int], int] = field(default_factory=dict)  # header line is in
    span: dict[tuple[str, int], int] = field(default_factory=dict)  # whole span is in
    cases: dict[str, int] = field(default_factory=dict)  # group -> cases
    seconds: list[float] = field(default_factory=list)  # per query

    def rate(self, group: str, budget: int, what: str = "header") -> float:
        """Share of the group's cases that pass at budget (`what`: header or span)."""
        got = (self.header if what == "header" else self.span).get((group, budget), 0)
        return got / max(self.cases.get(group, 0), 1)


def covers_header(spans: list[Span], t: Target) -> bool:
    """Some span of the target's file holds its `def`/`class` line."""
    return any(p == t.path and s <= t.header_line <= e for p, s, e in spans)


def covers_span(spans: list[Span], t: Target) -> bool:
    """One span holds the whole definition (decorators through its last line)."""
    return any(p == t.path and s <= t.start_line and t.end_line <= e for p, s, e in spans)


def _score(res: MethodResult, case: Case, budget: int, spans: list[Span]) -> None:
    key = (case.group, budget)
    res.header[key] = res.header.get(key, 0) + covers_header(spans, case.target)
    res.span[key] = res.span.get(key, 0) + covers_span(spans, case.target)


def shown_spans(ctx: PackedContext) -> list[Span]:
    """The line ranges the packed items really show (an outline shows parts of its span)."""
    out: list[Span] = []
    for item in ctx.items:
        for start, end in item.shown or [(item.start_line, item.end_line)]:
            out.append((item.path, start, end))
    return out


def _count_cases(res: MethodResult, cases: list[Case]) -> None:
    for case in cases:
        res.cases[case.group] = res.cases.get(case.group, 0) + 1


def evaluate(
    index: RepoIndex,
    cases: list[Case],
    budgets: list[int],
    count: Callable[[str], int],
    aider_python: str | None = None,
    aider_cases: int | None = None,
) -> list[MethodResult]:
    """Pass counts for ours and each baseline (and Aider's repo map when given a python).

    aider_cases: how many cases of each group Aider answers (it takes seconds a case).
    """
    ours = MethodResult("codeassist")
    methods = {
        "no retrieval": no_retrieval,
        "import set": ImportSet(index.root, index.paths()),
        "BM25 windows": Bm25Windows(index.root, index.paths()),
    }
    base_results = {name: MethodResult(name) for name in methods}
    for case in cases:
        for budget in budgets:
            t0 = time.perf_counter()
            ctx = index.context_for_position(
                case.path,
                case.line,
                case.col,
                buffer=case.buffer,
                budget=budget,
                count_tokens=count,
            )
            ours.seconds.append(time.perf_counter() - t0)
            _score(ours, case, budget, shown_spans(ctx))
            for name, fn in methods.items():
                t0 = time.perf_counter()
                spans = fn(case.path, case.buffer, budget, count)
                base_results[name].seconds.append(time.perf_counter() - t0)
                _score(base_results[name], case, budget, spans)
        index.update_buffer(case.path, None)
        index.forget_recent()  # each case is a session of its own
    out = [ours, *base_results.values()]
    for r in out:
        _count_cases(r, cases)
    if aider_python:
        subset = _per_group(cases, aider_cases) if aider_cases else cases
        out.append(run_aider(index.root, subset, budgets, aider_python))
    return out


def _per_group(cases: list[Case], n: int) -> list[Case]:
    """The first n cases of each group."""
    taken: dict[str, int] = {}
    out = []
    for case in cases:
        if taken.get(case.group, 0) < n:
            taken[case.group] = taken.get(case.group, 0) + 1
            out.append(case)
    return out


def run_aider(root: Path, cases: list[Case], budgets: list[int], python: str) -> MethodResult:
    """Aider 0.86.2's repo map in its own environment, same cases, budgets and token counter."""
    res = MethodResult("aider repo map")
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "cases.jsonl"
        with inp.open("w") as fh:
            for c in cases:
                fh.write(json.dumps({"path": c.path, "buffer": c.buffer}) + "\n")
        proc = subprocess.run(
            [python, str(AIDER_SCRIPT), str(root), str(inp), ",".join(map(str, budgets))],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"aider run failed: {proc.stderr[-2000:]}")
        answers = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for c, ans in zip(cases, answers, strict=False):
        for budget in budgets:
            shown = ans["maps"][str(budget)]  # path -> [shown line numbers]
            lines = set(shown.get(c.target.path, []))
            key = (c.group, budget)
            res.header[key] = res.header.get(key, 0) + (c.target.header_line in lines)
            full = all(n in lines for n in range(c.target.start_line, c.target.end_line + 1))
            res.span[key] = res.span.get(key, 0) + full
        res.seconds.append(ans["seconds"])
    _count_cases(res, cases[: len(answers)])
    return res


def table(results: list[MethodResult], budgets: list[int]) -> str:
    """Plain-text tables, one per case group: pass rates per budget (header / whole span)."""
    groups = [g for g in GROUPS if any(r.cases.get(g) for r in results)]
    out = []
    for group in groups:
        head = f"{group:<16} {'cases':>5} " + " ".join(f"{b:>13}" for b in budgets)
        rows = [head + "  median ms"]
        rows.append(f"{'':<16} {'':>5} " + " ".join(f"{'hdr / span':>13}" for _ in budgets))
        for r in results:
            if not r.cases.get(group):
                continue
            cells = [f"{r.rate(group, b):5.2f} / {r.rate(group, b, 'span'):4.2f}" for b in budgets]
            med = statistics.median(r.seconds) * 1000 if r.seconds else 0.0
            rows.append(
                f"{r.name:<16} {r.cases[group]:>5} "
                + " ".join(f"{c:>13}" for c in cells)
                + f"  {med:8.1f}"
            )
        out.append("\n".join(rows))
    return "\n\n".join(out)


def as_json(results: list[MethodResult], budgets: list[int]) -> dict:
    """Machine-readable results: method -> group -> {cases, header, span}, and median_ms."""
    return {
        r.name: {
            "median_ms": round(statistics.median(r.seconds) * 1000, 2) if r.seconds else None,
            "groups": {
                group: {
                    "cases": n,
                    "header": {str(b): round(r.rate(group, b), 3) for b in budgets},
                    "span": {str(b): round(r.rate(group, b, "span"), 3) for b in budgets},
                }
                for group, n in r.cases.items()
            },
        }
        for r in results
    }
