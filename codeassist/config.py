"""The one settings model, and the one loader that fills it.

Sources, later wins (see ARCHITECTURE.md): built-in defaults, the user file
(`~/.config/codeassist/config.toml`, or `$CODEASSIST_CONFIG`), the repository file
(`.codeassist.toml`, or `[tool.codeassist]` in `pyproject.toml`), `CODEASSIST_<SECTION>_<KEY>`
environment variables, then flags or LSP initialization options.

A repository is untrusted input: its files may set how tasks behave ([completion], [refactor],
[review], [retrieval]) but never which model runs, where code is sent or how the daemon runs
([model], [daemon], [engine]: USER_ONLY_SECTIONS). Such keys in a repository file are ignored
with one warning naming the file and key. An endpoint off this machine also needs
`[model] allow_remote = true` from the user (see check_endpoint_allowed).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from codeassist import paths
from codeassist.errors import UserError


class Duration(str):
    """A duration setting: text ("10m", "90s") or a bare number of seconds (300, 0, -1)."""


@dataclass
class ModelSettings:
    path: str = ""  # local checkpoint (directory or HF cache id) the daemon loads
    endpoint: str = "daemon"  # "daemon", or an OpenAI-compatible base URL
    name: str = ""  # model name to send to an OpenAI-compatible endpoint
    api_key: str = ""  # bearer token for an OpenAI-compatible endpoint
    allow_remote: bool = False  # the user's consent to send code to an endpoint off this machine


@dataclass
class DaemonSettings:
    socket: str = ""  # default: $XDG_RUNTIME_DIR/codeassist/daemon.sock
    tcp: str = ""  # optional loopback HOST:PORT, bearer token required
    queue_size: int = 64  # queued + running requests; beyond it: 503 with Retry-After
    max_running: int = 8  # sequences holding KV cache at once (the rest wait in the queue)
    request_timeout_s: float = 600.0
    start_timeout_s: float = 300.0
    # Unload (exit) after this long with no request and no editor open: "10m", "90s", 300;
    # 0: right after the last request; -1: never. Parsed by codeassist/daemon/keep_alive.py.
    keep_alive: Duration = Duration("10m")


@dataclass
class EngineSettings:
    device: str = "auto"  # auto | cuda | cpu
    quantize: str = "nf4"  # nf4 | none
    double_quant: bool = False
    prefill_chunk: int = 1024
    prefix_cache_mib: int = 2048
    gpu_memory: str = ""  # e.g. "24GiB"; empty: what the device reports
    dtype: str = "bfloat16"  # compute dtype: bfloat16 | float32 (exactness tests on the CPU)
    max_sequences: int = 4  # sequences holding K/V at once (each: a sliding-window ring of K/V)
    decode: str = "auto"  # auto | eager | compile | graph (auto: CUDA graphs on CUDA, else eager)


@dataclass
class CompletionSettings:
    budget_tokens: int = 3072
    max_tokens: int = 128
    temperature: float = 0.2
    debounce_ms: int = 60
    disabled_languages: list[str] = field(default_factory=list)


@dataclass
class RefactorSettings:
    budget_tokens: int = 16384
    max_tokens: int = 2048
    temperature: float = 0.3


@dataclass
class ReviewSettings:
    budget_tokens: int = 0  # 0: as much as the memory plan allows
    max_tokens: int = 8192
    fail_on: str = "error"
    hook_time_budget_s: float = 300.0
    response_format: str = "auto"  # auto, json_schema, json_object, none (auto: none on daemon)
    only_changed: bool = True  # findings only on lines the diff shows


@dataclass
class RetrievalSettings:
    max_file_bytes: int = 1_000_000
    workers: int = 0  # 0: one per core


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    refactor: RefactorSettings = field(default_factory=RefactorSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    # "section.key" -> where the effective value came from; keys absent here are defaults.
    sources: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Settings a repository file tried to set and was not allowed to (one line each).
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    def source_of(self, dotted: str) -> str:
        return self.sources.get(dotted, "default")

    def items(self) -> list[tuple[str, Any, str]]:
        """Every setting as ("section.key", value, source), in declaration order."""
        rows = []
        for section in _sections():
            group = getattr(self, section)
            for f in dataclasses.fields(group):
                dotted = f"{section}.{f.name}"
                rows.append((dotted, getattr(group, f.name), self.source_of(dotted)))
        return rows


ENV_PREFIX = "CODEASSIST_"
RESERVED_ENV = {"CODEASSIST_CONFIG"}
# Which model runs, where code is sent, what the daemon runs: only the user decides these.
USER_ONLY_SECTIONS = ("model", "daemon", "engine")

# Ranges of numbers that would otherwise exhaust the machine (a repository file may set them).
LIMITS: dict[str, tuple[float, float]] = {
    "retrieval.workers": (0, 256),
    "engine.max_sequences": (1, 256),
    "retrieval.max_file_bytes": (1, 100_000_000),
    "completion.budget_tokens": (0, 1 << 20),
    "completion.max_tokens": (1, 1 << 20),
    "completion.debounce_ms": (0, 60_000),
    "refactor.budget_tokens": (0, 1 << 20),
    "refactor.max_tokens": (1, 1 << 20),
    "review.budget_tokens": (0, 1 << 24),
    "review.max_tokens": (1, 1 << 20),
    "review.hook_time_budget_s": (0.001, 86_400),
}

log = logging.getLogger(__name__)
_warned: set[str] = set()  # each repository warning once per process


def _sections() -> list[str]:
    return [f.name for f in dataclasses.fields(Settings) if f.name not in ("sources", "warnings")]


def _field_types(section: str) -> dict[str, Any]:
    group_cls = typing.get_type_hints(Settings)[section]
    hints = typing.get_type_hints(group_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(group_cls)}


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is list:
        (inner,) = typing.get_args(tp)
        return f"a list of {inner.__name__}"
    names = {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        Duration: 'a duration ("10m", "90s", or seconds: 300, 0, -1)',
    }
    return names.get(tp, str(tp))


def _coerce(value: Any, tp: Any, *, from_text: bool) -> Any:
    """Value checked against (or, from env text, parsed into) type tp; ValueError if it can't be."""
    if typing.get_origin(tp) is list:
        (inner,) = typing.get_args(tp)
        if from_text:
            value = [part.strip() for part in str(value).split(",") if part.strip()]
        if not isinstance(value, list):
            raise ValueError
        return [_coerce(v, inner, from_text=from_text) for v in value]
    if tp is bool:
        if from_text:
            lowered = str(value).strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if isinstance(value, bool):
            return value
        raise ValueError
    if tp is int:
        if from_text:
            return int(str(value).strip())
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError
    if tp is float:
        if from_text:
            return float(str(value).strip())
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ValueError
    if tp is Duration:  # TOML writes `keep_alive = -1` as a number, env and flags as text
        if from_text or isinstance(value, str | int | float) and not isinstance(value, bool):
            return Duration(str(value).strip())
        raise ValueError
    if tp is str:
        if from_text or isinstance(value, str):
            return str(value)
        raise ValueError
    raise TypeError(f"unsupported settings type {tp!r}")


def _unknown(kind: str, name: str, known: list[str], where: str) -> UserError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return UserError(
        f"{where}: unknown {kind} '{name}'{hint}; known: {', '.join(known)}. "
        f"Fix or remove it (`codeassist config` lists every setting)."
    )


def _apply(
    settings: Settings, section: str, key: str, value: Any, source: str, *, from_text: bool
) -> None:
    sections = _sections()
    if section not in sections:
        raise _unknown("section", section, sections, source)
    fields = _field_types(section)
    if key not in fields:
        raise _unknown(f"key in [{section}]", key, list(fields), source)
    tp = fields[key]
    try:
        coerced = _coerce(value, tp, from_text=from_text)
    except (ValueError, TypeError):
        raise UserError(
            f"{source}: '{section}.{key}' must be {_type_name(tp)}, got {value!r}. "
            f"Fix the value (example default: {getattr(getattr(Settings(), section), key)!r})."
        ) from None
    limits = LIMITS.get(f"{section}.{key}")
    if limits is not None and not limits[0] <= coerced <= limits[1]:
        raise UserError(
            f"{source}: '{section}.{key}' = {coerced!r} is out of range; it must be between "
            f"{limits[0]:,} and {limits[1]:,}."
        )
    setattr(getattr(settings, section), key, coerced)
    settings.sources[f"{section}.{key}"] = source


def _apply_table(
    settings: Settings, table: Mapping[str, Any], source: str, *, repository: bool = False
) -> None:
    for section, body in table.items():
        if repository and section in USER_ONLY_SECTIONS:
            keys = list(body) if isinstance(body, Mapping) else []
            for key in keys or ["(the whole table)"]:
                settings.warnings.append(_refused(source, section, key))
            continue
        if not isinstance(body, Mapping):
            if section in _sections():
                raise UserError(f"{source}: '{section}' must be a table ([{section}]).")
            raise _unknown("section", section, _sections(), source)
        for key, value in body.items():
            _apply(settings, section, key, value, f"{source} [{section}]", from_text=False)


def _refused(source: str, section: str, key: str) -> str:
    if key.startswith("("):
        where = f"set it in {paths.user_config_file()}"
    else:
        env = f"CODEASSIST_{section.upper()}_{key.upper()}"
        where = f"set it in {paths.user_config_file()} (or {env}, or a flag)"
    return (
        f"{source}: ignored [{section}] {key}: a repository's config cannot choose the model, "
        f"where code is sent or how the daemon runs; {where} if you mean it."
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"config file {path} does not exist; create it or unset the path."
        ) from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as error:
        raise UserError(
            f"config file {path} cannot be read ({error.__class__.__name__}); "
            f"check its permissions and that it is UTF-8 text."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"config file {path} is not valid TOML: {error}. Fix the syntax.") from None


def find_repo_root(start: Path | None = None) -> Path:
    """The git root above start (default: the current directory), else start itself."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def load_settings(
    repo: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "flag",
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Effective settings for a repository (default: the git root of the current directory).

    overrides maps "section.key" to a value (flags, LSP initialization options).
    """
    env = os.environ if env is None else env
    settings = Settings()

    explicit = env.get("CODEASSIST_CONFIG")
    user_file = Path(explicit).expanduser() if explicit else paths.user_config_file()
    if explicit or user_file.is_file():
        _apply_table(settings, _read_toml(user_file), str(user_file))

    root = find_repo_root(repo)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool", {})
        tool = tool.get("codeassist") if isinstance(tool, Mapping) else None
        if isinstance(tool, Mapping):
            _apply_table(settings, tool, f"{pyproject} [tool.codeassist]", repository=True)
        elif tool is not None:
            raise UserError(f"{pyproject}: [tool.codeassist] must be a table.")
    repo_file = root / ".codeassist.toml"
    if repo_file.is_file():
        _apply_table(settings, _read_toml(repo_file), str(repo_file), repository=True)
    for message in settings.warnings:
        if message not in _warned:
            _warned.add(message)
            log.warning(message)

    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section, _, key = rest.partition("_")
        if section not in _sections():
            raise _unknown("section", section, _sections(), f"environment variable {name}")
        _apply(settings, section, key, env[name], f"env {name}", from_text=True)

    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        _apply(settings, section, key, value, overrides_source, from_text=isinstance(value, str))
    return settings


def uses_daemon(settings: Settings) -> bool:
    """True when the model is our own daemon (not an OpenAI-compatible URL)."""
    return settings.model.endpoint.strip() in ("", "daemon")


def endpoint_host(settings: Settings) -> str | None:
    """The host code is sent to for an OpenAI-compatible endpoint (None: our daemon)."""
    if uses_daemon(settings):
        return None
    return urlsplit(settings.model.endpoint.strip()).hostname or ""


def is_loopback_host(host: str) -> bool:
    """True for names and addresses that stay on this machine (localhost, 127/8, ::1)."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def endpoint_refusal(settings: Settings) -> str | None:
    """Why code must not be sent to the configured endpoint, or None when it may."""
    host = endpoint_host(settings)
    if host is None or is_loopback_host(host) or settings.model.allow_remote:
        return None
    return (
        f"[model] endpoint {settings.model.endpoint} ({settings.source_of('model.endpoint')}) "
        f"is not on this machine: your code would be sent to {host or 'an unnamed host'}. If "
        f"you mean it, set `allow_remote = true` under [model] in {paths.user_config_file()} "
        f"(or CODEASSIST_MODEL_ALLOW_REMOTE=1); otherwise use the local daemon or a loopback URL."
    )


def check_endpoint_allowed(settings: Settings) -> None:
    """UserError (endpoint_refusal's message) before any code is sent off the machine."""
    refusal = endpoint_refusal(settings)
    if refusal is not None:
        raise UserError(refusal)
