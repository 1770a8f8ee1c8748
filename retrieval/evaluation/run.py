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

from retrieval.evaluation.baselines import Bm25Windows, ImportSet, no_retrieval
from retrieval.evaluation.cases import Case, Target
from retrieval.index import RepoIndex

Span = tuple[str, int, int]
AIDER_SCRIPT = Path(__file__).with_name("aider_map.py")


@dataclass
class MethodResult:
    """Pass counts of one method per budget."""

    name: str
    header: dict[int, int] = field(default_factory=dict)  # budget -> cases whose header is in
    span: dict[int, int] = field(default_factory=dict)  # budget -> cases whose whole span is in
    seconds: list[float] = field(default_factory=list)  # per query
    cases: int = 0


def covers_header(spans: list[Span], t: Target) -> bool:
    """Some span of the target's file holds its `def`/`class` line."""
    return any(p == t.path and s <= t.header_line <= e for p, s, e in spans)


def covers_span(spans: list[Span], t: Target) -> bool:
    """One span holds the whole definition (decorators through its last line)."""
    return any(p == t.path and s <= t.start_line and t.end_line <= e for p, s, e in spans)


def _score(res: MethodResult, budget: int, spans: list[Span], t: Target) -> None:
    res.header[budget] = res.header.get(budget, 0) + covers_header(spans, t)
    res.span[budget] = res.span.get(budget, 0) + covers_span(spans, t)


def evaluate(
    index: RepoIndex,
    cases: list[Case],
    budgets: list[int],
    count: Callable[[str], int],
    aider_python: str | None = None,
    aider_cases: int | None = None,
) -> list[MethodResult]:
    """Pass counts for ours and each baseline (and Aider's repo map when given a python)."""
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
            _score(
                ours, budget, [(i.path, i.start_line, i.end_line) for i in ctx.items], case.target
            )
            for name, fn in methods.items():
                t0 = time.perf_counter()
                spans = fn(case.path, case.buffer, budget, count)
                base_results[name].seconds.append(time.perf_counter() - t0)
                _score(base_results[name], budget, spans, case.target)
        index.update_buffer(case.path, None)
    ours.cases = len(cases)
    for r in base_results.values():
        r.cases = len(cases)
    out = [ours, *base_results.values()]
    if aider_python:
        out.append(run_aider(index.root, cases[: aider_cases or len(cases)], budgets, aider_python))
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
            res.header[budget] = res.header.get(budget, 0) + (c.target.header_line in lines)
            full = all(n in lines for n in range(c.target.start_line, c.target.end_line + 1))
            res.span[budget] = res.span.get(budget, 0) + full
        res.seconds.append(ans["seconds"])
    res.cases = len(answers)
    return res


def table(results: list[MethodResult], budgets: list[int]) -> str:
    """A plain-text table: pass rates per budget (header / whole span) and median time."""
    head = f"{'method':<16} {'cases':>5} " + " ".join(f"{b:>13}" for b in budgets) + "  median ms"
    rows = [head, f"{'':<16} {'':>5} " + " ".join(f"{'hdr / span':>13}" for _ in budgets)]
    for r in results:
        cells = []
        for b in budgets:
            n = max(r.cases, 1)
            cells.append(f"{r.header.get(b, 0) / n:5.2f} / {r.span.get(b, 0) / n:4.2f}")
        med = statistics.median(r.seconds) * 1000 if r.seconds else 0.0
        rows.append(
            f"{r.name:<16} {r.cases:>5} " + " ".join(f"{c:>13}" for c in cells) + f"  {med:8.1f}"
        )
    return "\n".join(rows)


def as_json(results: list[MethodResult], budgets: list[int]) -> dict:
    """Machine-readable results."""
    return {
        r.name: {
            "cases": r.cases,
            "header": {str(b): round(r.header.get(b, 0) / max(r.cases, 1), 3) for b in budgets},
            "span": {str(b): round(r.span.get(b, 0) / max(r.cases, 1), 3) for b in budgets},
            "median_ms": round(statistics.median(r.seconds) * 1000, 2) if r.seconds else None,
        }
        for r in results
    }
