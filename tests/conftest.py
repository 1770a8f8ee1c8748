"""Fixtures every test may use: an isolated home, new git repositories (`make_repo`), the tiny
Gemma 4 checkpoint, and a real daemon serving it (`daemon_settings`, `model_client`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Triton picks interpreter-or-GPU when triton.language is first imported (bitsandbytes and
# transformers import it), so this must be set before any test module loads: without a GPU
# the NF4 kernels run in Triton's interpreter (importing torch does not import triton).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def private_dirs(home: Path) -> dict[str, str]:
    """XDG config, cache, state and runtime folders (0700) under home, by variable."""
    dirs = {"XDG_CONFIG_HOME": "config", "XDG_CACHE_HOME": "cache"}
    dirs |= {"XDG_STATE_HOME": "state", "XDG_RUNTIME_DIR": "run"}
    for sub in dirs.values():
        (home / sub).mkdir(mode=0o700)
    return {var: str(home / sub) for var, sub in dirs.items()}


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    """Config, cache, state and runtime dirs in a temporary home, never the user's own."""
    home = tmp_path_factory.mktemp("home")
    for var, path in private_dirs(home).items():
        monkeypatch.setenv(var, path)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in list(os.environ):
        if name.startswith("CODEASSIST_"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture
def make_repo(tmp_path):
    """make_repo() -> a new, empty GitRepo (tests/helpers/git_repo.py) in its own folder."""
    from tests.helpers.git_repo import GitRepo

    count = iter(range(1000))
    return lambda: GitRepo(tmp_path / f"repo{next(count)}")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """The tiny random-weight Gemma 4 checkpoint, built once per test session."""
    from codeassist.gemma4.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-gemma4"))


# Engine settings of the shared test daemon: unquantized on the CPU.
# float32: the engine equals transformers exactly there (bf16 greedy ties flip on random weights).
TEST_ENGINE = {"engine.quantize": "none", "engine.device": "cpu", "engine.dtype": "float32"}


@pytest.fixture(scope="session")
def daemon_settings(tiny_checkpoint, tmp_path_factory):
    """Settings pointing at a real `codeassist serve` on a temp socket, serving tiny_checkpoint.

    Session-scoped: one daemon for the whole run, stopped (SIGTERM) at the end.
    """
    from codeassist.config import Settings
    from tests.helpers.environment import clean_env
    from tests.helpers.serve_process import start_serve

    home = tmp_path_factory.mktemp("daemon-home")
    # One torch thread: on a busy 2-core machine two OpenMP threads make each step ~10x slower.
    env = clean_env({**private_dirs(home), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    socket_dir = home / "sock"
    socket_dir.mkdir(mode=0o700)
    socket_path = socket_dir / "daemon.sock"
    args = [f"--set={key}={value}" for key, value in TEST_ENGINE.items()]
    child = start_serve(tiny_checkpoint, socket_path, output=home / "serve.out", args=args, env=env)
    try:
        child.wait_ready(timeout=180)
        settings = Settings()
        settings.model.path = str(tiny_checkpoint)
        settings.model.endpoint = "daemon"
        settings.daemon.socket = str(socket_path)
        settings.sources.update({"model.path": "test", "daemon.socket": "test"})
        for key, value in TEST_ENGINE.items():
            section, _, name = key.partition(".")
            setattr(getattr(settings, section), name, value)
            settings.sources[key] = "test"
        yield settings
    finally:
        child.stop()


@pytest.fixture(scope="session")
def model_client(daemon_settings):
    """client_from_settings(daemon_settings): a ModelClient talking to the shared test daemon."""
    from codeassist.client import client_from_settings

    client = client_from_settings(daemon_settings)
    yield client
    client.close()
