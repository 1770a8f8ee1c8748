"""The one token counter: how many tokens a text costs the configured model.

Three cases, in this order:
- `[model] path` names a checkpoint with a `tokenizer.json`: its exact count, whatever the
  endpoint (the user pointed us at the model's files);
- the endpoint is our daemon: retrieval's estimator (it errs on the high side for code);
- an OpenAI-compatible endpoint without a local tokenizer: one token per UTF-8 byte. A BPE or
  SentencePiece token covers at least one byte (byte fallback included), so this never counts
  fewer tokens than the server will, and a prompt packed to a budget can never overflow the
  server's window. It is generous by ~3-4x for code: configure `[model] path` for exact budgets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from codeassist.config import Settings, uses_daemon
from retrieval.tokens import estimate_tokens

CountTokens = Callable[[str], int]


def token_counter(settings: Settings) -> CountTokens:
    """Tokens of a text for the configured model (see the module docstring for the rule)."""
    exact = tokenizer_counter(settings.model.path)
    if exact is not None:
        return exact
    if uses_daemon(settings):
        return estimate_tokens
    return count_utf8_bytes


def describe_counter(settings: Settings) -> str:
    """What token_counter(settings) counts with, for people (`codeassist doctor`, --explain)."""
    file = _tokenizer_file(settings.model.path)
    if file is not None and tokenizer_counter(settings.model.path) is not None:
        return f"the model's tokenizer ({file})"
    if uses_daemon(settings):
        return "an estimate (retrieval.tokens.estimate_tokens)"
    return "one token per byte (no local tokenizer: set [model] path for exact counts)"


def count_utf8_bytes(text: str) -> int:
    """An upper bound on any byte-level BPE's token count: the text's UTF-8 length."""
    return len(text.encode("utf-8", "surrogatepass"))


def _tokenizer_file(model_path: str) -> Path | None:
    if not model_path:
        return None
    file = Path(model_path).expanduser() / "tokenizer.json"
    return file if file.is_file() else None


def tokenizer_counter(model_path: str) -> CountTokens | None:
    """The exact counter of the checkpoint at model_path; None without a readable tokenizer.

    Loaded once per file version (Gemma's tokenizer.json takes about a second to load).
    """
    file = _tokenizer_file(model_path)
    if file is None:
        return None
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        return None
    return _load_counter(str(file), stamp)


@functools.lru_cache(maxsize=4)
def _load_counter(file: str, _stamp: int) -> CountTokens | None:
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(file)
    except Exception:  # an unreadable tokenizer: the caller falls back to an estimate
        return None

    def count(text: str) -> int:
        try:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)
        except Exception:
            # A lone surrogate (an editor buffer mid-edit) is not encodable: count it as the
            # replacement character the model would get.
            clean = text.encode("utf-8", "replace").decode("utf-8")
            return len(tokenizer.encode(clean, add_special_tokens=False).ids)

    return count
