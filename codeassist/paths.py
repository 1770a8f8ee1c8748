"""Where codeassist keeps its files: config, cache, state and the daemon socket."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "codeassist"


def user_config_file() -> Path:
    """The user's config file (`~/.config/codeassist/config.toml` on Linux)."""
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def cache_dir() -> Path:
    """Caches that can be rebuilt (the retrieval index, tiny checkpoints)."""
    return Path(platformdirs.user_cache_dir(APP))


def state_dir() -> Path:
    """Logs and other state worth keeping across runs."""
    return Path(platformdirs.user_state_dir(APP))


def runtime_dir() -> Path:
    """Sockets and lock files: `$XDG_RUNTIME_DIR/codeassist`, else under the cache directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / APP
    return cache_dir() / "run"


def default_socket_path() -> Path:
    """The daemon's Unix socket when `[daemon] socket` is empty."""
    return runtime_dir() / "daemon.sock"
