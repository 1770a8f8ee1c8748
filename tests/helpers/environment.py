"""Environments for the processes tests start: never the caller's own codeassist settings."""

from __future__ import annotations

import os
from collections.abc import Mapping


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without CODEASSIST_* variables, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEASSIST_")}
    env.update(extra or {})
    return env
