"""Retrieval benchmark: cold/warm indexing, query latency, update cost, memory.

usage: python bench/retrieval.py REPO [--aider-python PY] [--runs 3] [--queries 60]

Prints progress on stderr and ONE JSON object on the last stdout line:
  cold_s            index from an empty cache (all cores), median of runs, fresh process each
  floor_s           tree-sitter alone on one core: read + parse + tags query of every file
                    the index reads (the grammar's TAGS_QUERY where it ships one), median
  cold_over_floor   cold_s / floor_s
  aider_cold_s      Aider 0.86.2 repo map from no cache (null without --aider-python)
  cold_over_aider   cold_s / aider_cold_s
  warm_start_s      open from a warm cache in a fresh process until ready to answer
                    (inverted indexes built), median
  query_p95_ms_4k   context_for_position, warm, in process, 4K budget (estimator), p95
  query_p95_ms_128k the same at a 128K budget
  update_ms         update_buffer after a one-line edit of a file, median over files
  peak_rss_bytes    peak RSS of the cold-indexing process (workers included: the max of both)
  loadavg           the 1-minute load average at the start and the end (shared machines: the
                    absolute times above scale with it; the ratios much less)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _child(mode: str, repo: str, cache: str) -> None:
    """Runs in a fresh process: one cold or warm open, prints JSON."""
    from retrieval import RepoIndex

    t0 = time.perf_counter()
    idx = RepoIndex.open(repo, Path(cache))
    opened = time.perf_counter() - t0
    idx.maps()  # the inverted indexes a query needs
    ready = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "open_s": opened,
                "ready_s": ready,
                "rss": max(me, kids),
                "files": idx.summary.files,
                "parsed": idx.summary.parsed,
            }
        )
    )


def run_child(mode: str, repo: Path, cache: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(repo), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor_once(repo: Path, files: list[str]) -> float:
    """Read + parse + the grammar's tags query, every file, this process (one core)."""
    from tree_sitter import Parser, Query, QueryCursor

    from retrieval.languages import grammar
    from retrieval.queries import DEFINITIONS

    queries: dict[str, tuple[Parser, Query]] = {}
    t0 = time.perf_counter()
    for path, lang in files:
        if lang not in queries:
            mod = {
                "python": "tree_sitter_python",
                "javascript": "tree_sitter_javascript",
                "go": "tree_sitter_go",
                "rust": "tree_sitter_rust",
                "java": "tree_sitter_java",
                "c": "tree_sitter_c",
                "cpp": "tree_sitter_cpp",
                "ruby": "tree_sitter_ruby",
            }.get(lang)
            src = getattr(__import__(mod), "TAGS_QUERY", None) if mod else None
            g = grammar(lang)
            queries[lang] = (Parser(g), Query(g, src or DEFINITIONS[lang]))
        parser, query = queries[lang]
        data = (repo / path).read_bytes()
        tree = parser.parse(data)
        QueryCursor(query).captures(tree.root_node)
    return time.perf_counter() - t0


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("--aider-python", default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--queries", type=int, default=60)
    args = ap.parse_args()
    repo = Path(args.repo).resolve()
    from retrieval import RepoIndex, estimate_tokens

    load_start = os.getloadavg()[0]

    colds, rss, warms = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            cache = Path(tmp) / f"cold{i}"
            r = run_child("cold", repo, cache)
            colds.append(r["open_s"])
            rss.append(r["rss"])
            log(f"cold run {i}: {r['open_s']:.2f}s ({r['files']} files, {r['parsed']} parsed)")
        for i in range(args.runs):
            r = run_child("warm", repo, Path(tmp) / "cold0")
            warms.append(r["ready_s"])
            log(f"warm run {i}: open {r['open_s']:.3f}s, ready {r['ready_s']:.3f}s")

        idx = RepoIndex.open(repo, Path(tmp) / "cold0")
        files = [(p, idx.tags(p).lang) for p in idx.paths()]
        floors = []
        for i in range(args.runs):
            floors.append(floor_once(repo, files))
            log(f"floor run {i}: {floors[-1]:.2f}s")

        # queries: a cursor at the end of random lines of random files, warm, in process
        rng = random.Random(0)
        paths = [p for p, _ in files if len(idx.lines(p)) > 20]
        positions = []
        for _ in range(args.queries):
            p = rng.choice(paths)
            n = len(idx.lines(p))
            line = rng.randint(5, n - 1)
            positions.append((p, line, len(idx.lines(p)[line - 1])))
        idx.context_for_position(*positions[0], buffer=None, budget=4096, count_tokens=len)
        lat = {}
        for budget in (4096, 131072):
            times = []
            for p, line, col in positions:
                t0 = time.perf_counter()
                idx.context_for_position(
                    p, line, col, buffer=None, budget=budget, count_tokens=estimate_tokens
                )
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            lat[budget] = times[min(len(times) - 1, int(0.95 * len(times)))]
            log(f"query {budget}: p50 {statistics.median(times):.1f} ms, p95 {lat[budget]:.1f} ms")
        updates = []
        for p, _line, _col in positions[:30]:
            text = "\n".join(idx.lines(p))
            edited = text.replace("\n", "\n# edited\n", 1)
            t0 = time.perf_counter()
            idx.update_buffer(p, edited)
            updates.append((time.perf_counter() - t0) * 1000)
            idx.update_buffer(p, None)
        log(f"update: median {statistics.median(updates):.1f} ms, max {max(updates):.1f} ms")

    aider_cold = None
    if args.aider_python:
        runs = []
        for i in range(args.runs):
            out = subprocess.run(
                [
                    args.aider_python,
                    str(ROOT / "retrieval/evaluation/aider_map.py"),
                    str(repo),
                    "--cold",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs.append(r["cold_s"])
            log(f"aider run {i}: cold {r['cold_s']:.2f}s, warm request {r['warm_request_s']:.2f}s")
        aider_cold = statistics.median(runs)

    cold = statistics.median(colds)
    floor = statistics.median(floors)
    print(
        json.dumps(
            {
                "repo": repo.name,
                "files": len(files),
                "cold_s": round(cold, 3),
                "floor_s": round(floor, 3),
                "cold_over_floor": round(cold / floor, 3),
                "aider_cold_s": round(aider_cold, 3) if aider_cold else None,
                "cold_over_aider": round(cold / aider_cold, 3) if aider_cold else None,
                "warm_start_s": round(statistics.median(warms), 3),
                "query_p95_ms_4k": round(lat[4096], 2),
                "query_p95_ms_128k": round(lat[131072], 2),
                "update_ms": round(statistics.median(updates), 2),
                "update_max_ms": round(max(updates), 2),
                "peak_rss_bytes": max(rss),
                "loadavg": [round(load_start, 2), round(os.getloadavg()[0], 2)],
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
