"""Packing the review prompt: right-side line numbers, priorities, budget, related code."""

from __future__ import annotations

from codeassist.config import load_settings
from codeassist.git import changes_from_git
from codeassist.tasks.review import retrieval_context
from codeassist.tasks.review_prompt import build_prompt, language_rank
from retrieval.tokens import estimate_tokens as count_tokens_default


def test_diff_is_numbered_by_the_reviewed_version(app_repo):
    changes = changes_from_git(app_repo.root, "HEAD~1")
    prompt = build_prompt(changes, budget=20000, count_tokens=count_tokens_default)
    user = prompt.messages[1]["content"]
    assert "### app.py (modified, +6 -0)" in user
    assert "23 +     if not values:" in user
    assert "32 +     return a / b" in user
    assert "25       total = 0" in user
    assert prompt.used <= prompt.budget and prompt.omitted == []
    assert prompt.changed_ranges() == {"app.py": [(20, 32)]}


def test_big_diffs_keep_code_first_and_list_what_did_not_fit(make_repo):
    repo = make_repo()
    repo.commit("one", {"a.py": "", "notes.md": "", "package-lock.json": "{}\n"})
    code = "".join(f"def f{n}(x):\n    return x + {n}\n\n\n" for n in range(40))
    repo.commit(
        "two",
        {
            "a.py": code,
            "notes.md": "".join(f"note {n}\n" for n in range(300)),
            "package-lock.json": '{"lock": [' + ",".join(str(n) for n in range(500)) + "]}\n",
        },
    )
    changes = changes_from_git(repo.root, "HEAD~1")
    count = count_tokens_default
    prompt = build_prompt(changes, budget=2500, count_tokens=count)
    diff_paths = [p.path for p in prompt.parts if p.kind == "diff"]
    assert diff_paths[0] == "a.py"
    assert prompt.used <= prompt.budget
    assert any("notes.md" in o for o in prompt.omitted)
    assert any("package-lock.json" in o for o in prompt.omitted)
    user = prompt.messages[1]["content"]
    assert "did not fit in this review" in user  # the model is told what it is not shown
    for part in prompt.parts:
        assert part.tokens == count(part.text) or part.kind == "instructions"


def test_single_hunks_fill_the_room_a_whole_file_does_not(make_repo):
    repo = make_repo()
    base = "".join(f"line_{n} = {n}\n" for n in range(200))
    repo.commit("one", {"big.py": base})
    changed = base.replace("line_10 = 10\n", "line_10 = 'ten'\n").replace(
        "line_150 = 150\n", "line_150 = 'one fifty'\n"
    )
    repo.commit("two", {"big.py": changed})
    changes = changes_from_git(repo.root, "HEAD~1")
    whole = build_prompt(changes, budget=100000, count_tokens=count_tokens_default)
    diff_tokens = sum(p.tokens for p in whole.parts if p.kind == "diff")
    fixed = whole.parts[0].tokens
    tight = build_prompt(
        changes, budget=int((fixed + diff_tokens - 20) / 0.75), count_tokens=count_tokens_default
    )
    (part,) = [p for p in tight.parts if p.kind == "diff"]
    assert part.ranges == [(8, 14)]
    (omitted,) = tight.omitted
    assert omitted.startswith("big.py lines 148-154 (")


def test_language_rank():
    assert language_rank("src/x.py") == 0 and language_rank("Cargo.lock") == 3
    assert language_rank("pyproject.toml") == 1 and language_rank("README.md") == 2
    assert language_rank("data.bin") == 4


def test_related_code_comes_from_the_repository_index(app_repo):
    app_repo.commit(
        "caller",
        {
            "report.py": "from app import ratio\n\n\n"
            "def share(done, total):\n    return ratio(done, total)\n"
        },
    )
    text = (app_repo.root / "app.py").read_text()
    app_repo.write("app.py", text.replace("return a / b", "return a / b if b else 0.0"))
    app_repo.git("add", "app.py")
    changes = changes_from_git(app_repo.root, staged=True)
    prompt = build_prompt(
        changes,
        budget=20000,
        count_tokens=count_tokens_default,
        context=retrieval_context(changes, load_settings(repo=app_repo.root), count_tokens_default),
    )
    context = [p for p in prompt.parts if p.kind == "context"]
    assert "report.py:4-5 caller" in [p.label for p in context]  # share() calls ratio()
    user = prompt.messages[1]["content"]
    assert "## Related code from the repository" in user and "return ratio(done, total)" in user
    assert "### report.py lines 4-5 (caller)" in user


def test_enclosing_function_and_definitions_used_fit_a_tight_budget(make_repo):
    from codeassist.tasks.review import plan_review

    repo = make_repo()
    body = "".join(f"    step_{n} = helper(x, {n})\n" for n in range(30))
    others = "".join(f"def other_{n}():\n    return {n}\n\n\n" for n in range(30))
    source = "def helper(x, n):\n    return x + n\n\n\ndef long_function(x):\n" + body
    source += "    return x\n\n\n" + others
    repo.commit("one", {"mod.py": source})
    repo.commit("two", {"mod.py": source.replace("helper(x, 15)", "helper(x, 150)")})
    changes = changes_from_git(repo.root, "HEAD~1")
    settings = load_settings(repo=repo.root, overrides={"review.budget_tokens": 1400})
    prompt = plan_review(changes, settings)
    labels = [p.label for p in prompt.parts if p.kind == "context"]
    assert "mod.py:5-36 definition" in labels  # long_function, around the changed line 21
    assert "mod.py:1-2 definition" in labels  # helper, which the change calls
    assert prompt.used <= 1400


def test_outline_items_are_explained_once_and_carry_no_line_numbers(app_repo):
    from codeassist.tasks.review_prompt import OUTLINE_NOTE
    from retrieval import ContextItem, PackedContext

    outline = "class Shop:\n    def buy(self, item):\n        # [body elided]\n"
    items = [
        ContextItem("shop.py", 10, 40, 20, "outline", 1.0, outline, ""),
        ContextItem("cart.py", 5, 30, 20, "outline", 1.0, outline.replace("Shop", "Cart"), ""),
    ]

    def context(ranges, budget):
        return PackedContext(budget=budget, used=40, items=items, omitted=[])

    changes = changes_from_git(app_repo.root, "HEAD~1")
    prompt = build_prompt(changes, budget=20000, count_tokens=count_tokens_default, context=context)
    user = prompt.messages[1]["content"]
    assert user.count(OUTLINE_NOTE) == 1
    assert "### shop.py lines 10-40 (outline)\n      class Shop:\n" in user
    assert "10   class Shop" not in user and "11       def buy" not in user
