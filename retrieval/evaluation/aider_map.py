"""Aider 0.86.2's repo map for eval cases; run with the python of aider's own venv.

usage: aider_map.py REPO CASES.jsonl BUDGETS   (cases: {"path", "buffer"} per line)
       aider_map.py REPO --cold                 (prints {"cold_s": ...}: a map from no cache)

Works on a scratch copy of REPO: each case's file is replaced by its cut buffer while the
map is built (so the map cannot see the answer), then restored. Aider counts tokens with the
same estimator as the other methods (retrieval/tokens.py, loaded by path). The identifiers of
the buffer's last three lines are passed as `mentioned_idents`, as a chat message would.
Prints one JSON line per case: {"maps": {budget: {path: [shown 1-based lines]}}, "seconds"}.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "ca_tokens", Path(__file__).resolve().parent.parent / "tokens.py"
)
_tokens = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tokens)


class _Model:
    def token_count(self, text):
        return _tokens.estimate_tokens(text if isinstance(text, str) else json.dumps(text))


def _files(root):
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def _repomap(root):
    from aider.io import InputOutput
    from aider.repomap import RepoMap

    rm = RepoMap(
        map_tokens=1024,
        root=str(root),
        main_model=_Model(),
        io=InputOutput(pretty=False, yes=True),
        refresh="always",
    )
    shown_by_key = {}
    current = {}
    orig_render = rm.render_tree
    orig_to_tree = rm.to_tree
    outputs = {}

    def render_tree(abs_fname, rel_fname, lois):
        res = orig_render(abs_fname, rel_fname, lois)
        key = (rel_fname, tuple(sorted(lois)))
        if key not in shown_by_key:
            ctx = rm.tree_context_cache[rel_fname]["context"]
            shown_by_key[key] = sorted(i + 1 for i in ctx.show_lines)
        current[rel_fname] = shown_by_key[key]
        return res

    def to_tree(tags, chat_rel_fnames):
        current.clear()
        out = orig_to_tree(tags, chat_rel_fnames)
        outputs[out] = dict(current)
        return out

    rm.render_tree = render_tree
    rm.to_tree = to_tree
    return rm, outputs


def main():
    root = Path(sys.argv[1]).resolve()
    files = _files(root)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(root, work, ignore=shutil.ignore_patterns(".git"), symlinks=True)
        abs_files = [str(work / f) for f in files if (work / f).is_file()]
        if sys.argv[2] == "--cold":
            rm, _ = _repomap(work)
            rm.max_map_tokens = 4096
            chat = [f for f in abs_files if f.endswith(".py")][:1]
            t0 = time.perf_counter()
            rm.get_repo_map(chat, [f for f in abs_files if f not in chat])
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            rm.get_repo_map(chat, [f for f in abs_files if f not in chat], force_refresh=True)
            print(json.dumps({"cold_s": cold, "warm_request_s": time.perf_counter() - t0}))
            return
        budgets = [int(b) for b in sys.argv[3].split(",")]
        rm, outputs = _repomap(work)
        for line in Path(sys.argv[2]).read_text().splitlines():
            case = json.loads(line)
            target = work / case["path"]
            original = target.read_bytes() if target.exists() else None
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(case["buffer"])
            now = time.time() + 1
            os.utime(target, (now, now))  # aider's tag cache is keyed by mtime
            chat = [str(target)]
            others = [f for f in abs_files if f != str(target)]
            idents = set(re.findall(r"[A-Za-z_]\w*", "\n".join(case["buffer"].split("\n")[-3:])))
            maps = {}
            t0 = time.perf_counter()
            for b in budgets:
                rm.max_map_tokens = b
                text = rm.get_repo_map(chat, others, mentioned_idents=idents) or ""
                maps[str(b)] = outputs.get(text, {}) if text else {}
            secs = (time.perf_counter() - t0) / len(budgets)
            if original is None:
                target.unlink()
            else:
                target.write_bytes(original)
                now = time.time() + 2
                os.utime(target, (now, now))
            print(json.dumps({"maps": maps, "seconds": secs}), flush=True)


if __name__ == "__main__":
    main()
