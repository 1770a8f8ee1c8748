"""Review preparation benchmark: `codeassist review HEAD~1 --dry-run` cold and warm.

usage: python bench/review_prepare.py REPO [--runs 5] [--file PATH] [--keep DIR]

REPO is a git repository (e.g. the django sdist committed under /work/repos). It is cloned into
a scratch folder, where one line of one Python file is changed and committed, so HEAD~1 is a
one-line commit; REPO itself is never touched. Every measurement is a fresh `codeassist` process
(imports, git, index, prompt: what a user or the pre-commit hook waits for), with the index
cache in a scratch XDG_CACHE_HOME.

Prints progress on stderr and ONE JSON object on the last stdout line:
  prepare_s_cold     review HEAD~1 --dry-run with an empty index cache (indexes the repository)
  prepare_s_warm     the same with the cache warm, median of runs
  prepare_cpu_s_warm its CPU time (user + system, children included), median: what the wall
                     time would be on an idle machine, as long as it stays single-threaded
  context_warm_s     `codeassist context FILE:LINE --json` with the cache warm, median (anchor:
                     the index's own warm start and one query)
  warm_over_context  prepare_s_warm / context_warm_s
  python_start_s     `python -c pass`, median (the floor of any command)
  hook_budget_s      review.hook_time_budget_s (the pre-commit hook's time budget), and
  hook_budget_cover  hook_budget_s / prepare_s_cold: how many cold preparations fit in it
  files              files in the repository (git ls-files), prompt_tokens of the dry run
  loadavg            1-minute load average at the start and the end
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def one_line_commit(source: Path, work: Path, file: str | None) -> tuple[Path, str, int]:
    """A clone of source whose last commit changes one line; (clone, file, line)."""
    clone = work / "repo"
    subprocess.run(
        ["git", "clone", "-q", "--local", "--no-hardlinks", str(source), str(clone)], check=True
    )
    if file is None:
        candidates = [p for p in git(clone, "ls-files", "*.py").splitlines() if "/" in p]
        file = max(candidates, key=lambda p: (clone / p).stat().st_size)
    path = clone / file
    lines = path.read_text(encoding="utf-8").split("\n")
    line = next(
        i for i, text in enumerate(lines[len(lines) // 2 :], len(lines) // 2) if text.strip()
    )
    lines[line] += "  # reviewed by the benchmark"
    path.write_text("\n".join(lines), encoding="utf-8")
    git(clone, "commit", "-q", "-am", "one line")
    return clone, file, line + 1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, float]:
    """(wall seconds, stdout, CPU seconds of the process and its children)."""
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed, done.stdout, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--file", help="the file to change (default: the largest .py)")
    parser.add_argument("--keep", type=Path, help="scratch folder to use and keep")
    opts = parser.parse_args()
    load_start = os.getloadavg()[0]
    scratch = opts.keep or Path(tempfile.mkdtemp(prefix="review-prepare-"))
    scratch.mkdir(parents=True, exist_ok=True)
    clone, file, line = one_line_commit(opts.repo.resolve(), scratch, opts.file)
    files = len(git(clone, "ls-files").splitlines())
    log(f"{clone}: {files} files, HEAD~1 changes {file}:{line}")

    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEASSIST_")}
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        (scratch / var).mkdir(exist_ok=True)
        env[var] = str(scratch / var)
    cli = [sys.executable, "-m", "codeassist.cli.main"]
    review = [*cli, "review", "HEAD~1", "--dry-run", "--format", "json"]
    context = [*cli, "context", f"{file}:{line}", "--json"]

    cold, out, _ = timed(review, clone, env)
    prompt_tokens = json.loads(out)["used"]
    log(f"cold: {cold:.2f} s ({prompt_tokens} prompt tokens)")
    timed([*cli, "index", "--quiet"], clone, env)  # the cache is warm for every command now
    warm, warm_cpu, contexts, starts = [], [], [], []
    for run in range(opts.runs):
        wall, _, cpu = timed(review, clone, env)
        warm.append(wall)
        warm_cpu.append(cpu)
        contexts.append(timed(context, clone, env)[0])
        starts.append(timed([sys.executable, "-c", "pass"], clone, env)[0])
        log(f"run {run + 1}: review {warm[-1]:.2f} s, context {contexts[-1]:.2f} s")
    hook_budget = json.loads(timed([*cli, "config", "--json"], clone, env)[1])[
        "review.hook_time_budget_s"
    ]["value"]
    prepare_warm = statistics.median(warm)
    context_warm = statistics.median(contexts)
    print(
        json.dumps(
            {
                "repo": str(opts.repo),
                "files": files,
                "changed": f"{file}:{line}",
                "prompt_tokens": prompt_tokens,
                "prepare_s_cold": round(cold, 3),
                "prepare_s_warm": round(prepare_warm, 3),
                "prepare_s_warm_runs": [round(t, 3) for t in warm],
                "prepare_cpu_s_warm": round(statistics.median(warm_cpu), 3),
                "context_warm_s": round(context_warm, 3),
                "warm_over_context": round(prepare_warm / context_warm, 2),
                "python_start_s": round(statistics.median(starts), 3),
                "hook_budget_s": hook_budget,
                "hook_budget_cover": round(hook_budget / cold, 1),
                "loadavg": [load_start, os.getloadavg()[0]],
            }
        )
    )


if __name__ == "__main__":
    main()
