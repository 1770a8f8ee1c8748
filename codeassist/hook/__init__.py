"""The plain git pre-commit hook: install, uninstall, chaining a hook that was there before."""

from codeassist.hook.install import (
    CHAINED_NAME,
    MARKER,
    HookStatus,
    hook_script,
    hooks_dir,
    install_hook,
    uninstall_hook,
)

__all__ = [
    "CHAINED_NAME",
    "MARKER",
    "HookStatus",
    "hook_script",
    "hooks_dir",
    "install_hook",
    "uninstall_hook",
]
