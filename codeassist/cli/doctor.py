"""`codeassist doctor`: what this machine has, each line OK or a concrete fix."""

from __future__ import annotations

import importlib.metadata
import platform
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from codeassist import paths
from codeassist.config import (
    Settings,
    endpoint_host,
    endpoint_refusal,
    is_loopback_host,
    load_settings,
    uses_daemon,
)
from codeassist.errors import UserError
from codeassist.gemma4.checkpoint import read_checkpoint_config


@dataclass
class Check:
    name: str
    status: str  # OK | WARN | FIX
    detail: str


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _at_least(version: str, minimum: tuple[int, ...]) -> bool:
    numbers = []
    for part in version.split("+")[0].split(".")[: len(minimum)]:
        digits = "".join(ch for ch in part if ch.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers) >= minimum


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    detail = f"Python {platform.python_version()}"
    return Check(
        "python", "OK" if ok else "FIX", detail if ok else f"{detail}; install Python 3.11+"
    )


def check_torch() -> list[Check]:
    try:
        import torch
    except ImportError:
        return [
            Check(
                "torch",
                "FIX",
                "not installed; pip install torch (the CPU or CUDA build for this machine)",
            )
        ]
    checks = [Check("torch", "OK", f"torch {torch.__version__}")]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        gib = props.total_memory / 2**30
        status = "OK" if gib >= 20 else "WARN"
        detail = f"CUDA {torch.version.cuda}: {props.name}, {gib:.1f} GiB"
        if status == "WARN":
            detail += "; the 26B-A4B in 4-bit wants ~16 GiB plus KV cache: expect a short context"
        checks.append(Check("gpu", status, detail))
    else:
        build = (
            "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build"
        )
        checks.append(
            Check(
                "gpu",
                "WARN",
                f"no GPU: CUDA is not available (torch is {build}); the model runs on the CPU, "
                f"slowly. For a GPU, install the CUDA build of torch, or point [model] endpoint at "
                f"an OpenAI-compatible server.",
            )
        )
    return checks


def check_library(package: str, minimum: tuple[int, ...]) -> Check:
    version = _version(package)
    want = ".".join(map(str, minimum))
    if version is None:
        return Check(package, "FIX", f"not installed; pip install '{package}>={want}'")
    if not _at_least(version, minimum):
        return Check(package, "FIX", f"{version} is too old; pip install -U '{package}>={want}'")
    return Check(package, "OK", f"{package} {version}")


def check_model(settings: Settings) -> Check:
    if settings.model.endpoint not in ("", "daemon"):
        return Check("model", "OK", f"OpenAI-compatible endpoint {settings.model.endpoint}")
    try:
        config = read_checkpoint_config(settings.model.path)
    except UserError as error:
        return Check("model", "FIX", str(error))
    text = config.get("text_config", config)
    layers = text.get("num_hidden_layers", "?")
    experts = text.get("num_experts") or "no"
    return Check(
        "model",
        "OK",
        f"{settings.model.path}: Gemma 4 ({config['model_type']}), {layers} layers, "
        f"{experts} experts (source: {settings.source_of('model.path')})",
    )


def check_socket(settings: Settings) -> Check:
    path = Path(settings.daemon.socket) if settings.daemon.socket else paths.default_socket_path()
    if not path.exists():
        return Check("daemon", "OK", f"not running (socket {path}); clients start it on demand")
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(1.0)
    try:
        client.connect(str(path))
    except OSError as error:
        return Check(
            "daemon",
            "WARN",
            f"socket {path} exists but refuses connections ({error.strerror}): a crashed daemon "
            f"left it; the next client replaces it, or remove it by hand",
        )
    finally:
        client.close()
    return Check("daemon", "OK", f"running on {path}")


def check_destination(settings: Settings) -> Check:
    """Where prompts (your code) are sent, and whether that is allowed."""
    refusal = endpoint_refusal(settings)
    if refusal is not None:
        return Check("code sent", "FIX", refusal)
    source = settings.source_of("model.endpoint")
    if uses_daemon(settings):
        socket_path = settings.daemon.socket or str(paths.default_socket_path())
        where = f"the codeassist daemon on this machine (socket {socket_path})"
        if settings.daemon.tcp:
            where += f", loopback TCP {settings.daemon.tcp} with a token"
        return Check("code sent", "OK", f"to {where}")
    host = endpoint_host(settings) or ""
    if is_loopback_host(host):
        return Check("code sent", "OK", f"to {settings.model.endpoint} on this machine ({source})")
    return Check(
        "code sent",
        "WARN",
        f"OFF this machine, to {settings.model.endpoint} ({source}), allowed by [model] "
        f"allow_remote = true ({settings.source_of('model.allow_remote')})",
    )


def run_checks(settings: Settings) -> list[Check]:
    checks = [check_python(), *check_torch()]
    checks.append(check_library("transformers", (5, 5)))
    checks.append(check_library("bitsandbytes", (0, 48)))
    checks.append(check_model(settings))
    checks.append(check_socket(settings))
    checks.append(check_destination(settings))
    return checks


def doctor() -> None:
    """Check Python, torch and the GPU, libraries, the model path and the daemon socket."""
    try:
        settings = load_settings()
        config_check = Check("config", "OK", "settings load (codeassist config shows them)")
    except UserError as error:
        settings = Settings()
        config_check = Check("config", "FIX", str(error))
    checks = run_checks(settings)
    checks.insert(1, config_check)
    for check in checks:
        typer.echo(f"{check.status:<4} {check.name:<12} {check.detail}")
    if any(check.status == "FIX" for check in checks):
        raise typer.Exit(1)
