"""The daemon's log: a rotating file in the user state directory (and stderr in the foreground)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from codeassist.daemon_files import log_file

LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 3


def setup_logging(*, to_stderr: bool) -> Path:
    """Send the daemon's and uvicorn's records to the rotating log file; returns its path."""
    path = log_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    handlers: list[logging.Handler] = [handler]
    if to_stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(message)s"))
        console.setLevel(logging.INFO)
        handlers.append(console)
    for name in ("codeassist", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        for h in handlers:
            logger.addHandler(h)
    return path
