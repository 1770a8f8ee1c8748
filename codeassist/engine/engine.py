"""The engine loop: requests in, one prefill chunk or one decode token per `step`, text out."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from codeassist.config import EngineSettings
from codeassist.engine.kv_cache import SequenceKV
from codeassist.engine.loading import LoadedModel, load_model, pick_device
from codeassist.engine.plan import PREFIX_SLACK, context_limit_for
from codeassist.engine.prefix_cache import PrefixCache
from codeassist.engine.quant import quantized_modules
from codeassist.engine.runner import ModelRunner
from codeassist.engine.sampling import SamplingParams, StepOutput, sample
from codeassist.engine.sequence import Sequence
from codeassist.errors import UserError
from codeassist.gemma4 import tokens as t
from codeassist.gemma4.prompt import Piece, ThinkingParser, render_chat
from codeassist.gemma4.shape import kv_shared_layers, layer_shapes


@dataclass
class ChatOutput:
    thinking: str  # the thought block(s), never part of the answer
    answer: str
    finish_reason: str | None
    prompt_tokens: int
    token_ids: list[int]
    error: str | None = None


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.OutOfMemoryError) or any(
        marker in text for marker in ("out of memory", "can't allocate memory")
    )


def _owners(config) -> list[int]:
    """For each layer, the layer whose K/V it uses (KV-shared layers reuse an earlier one)."""
    shapes = layer_shapes(config)
    shared = kv_shared_layers(config)
    first_shared = len(shapes) - shared
    owners = list(range(len(shapes)))
    for i in range(first_shared, len(shapes)):
        kind = shapes[i].layer_type
        owners[i] = max(j for j in range(first_shared) if shapes[j].layer_type == kind)
    return owners


def _inert_token_ids(tokenizer) -> frozenset[int]:
    """Added tokens that carry no text for us (fillers, padding, media): never shown as text."""
    control = {t.EOS, t.TURN_OPEN, t.TURN_CLOSE, *t.OTHER_SPECIALS}
    return frozenset(
        index
        for index, token in tokenizer.added_tokens_decoder.items()
        if str(token) not in control
    )


class Engine:
    """A loaded Gemma 4 text model with its tokenizer, KV caches and prefix cache."""

    def __init__(
        self, loaded: LoadedModel, tokenizer, settings: EngineSettings, device: torch.device
    ) -> None:
        self.loaded = loaded
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = str(device)
        self._device = device
        self.model_name = loaded.path.name
        self.config = loaded.config
        self.runner = ModelRunner(
            loaded.model, loaded.lm_head, loaded.config.final_logit_softcapping
        )
        self.shapes = layer_shapes(loaded.config)
        self.owners = _owners(loaded.config)
        self.window = loaded.config.sliding_window
        self.max_context = int(loaded.config.max_position_embeddings)
        self.chunk = max(1, int(settings.prefill_chunk))
        self.prefix_cache = PrefixCache(int(settings.prefix_cache_mib) * 2**20)
        self.stop_ids = self._stop_ids()
        self.hidden_ids = _inert_token_ids(tokenizer)
        self.live: set[Sequence] = set()
        self.counters = {
            "prompt_tokens": 0,
            "reused_tokens": 0,
            "computed_tokens": 0,
            "generated_tokens": 0,
            "prefix_snapshots": 0,  # extra snapshots at a stable point inside a prompt
        }
        self.requests = 0
        self.errors = 0
        self.max_sliding_len = 0  # largest live sliding-layer cache seen, for benchmarks
        self.max_sliding_held = 0
        # opt-in test hook: called with (sequence, float32 logits of its next token)
        self.logits_hook = None

    @classmethod
    def load(cls, path: str, settings: EngineSettings | None = None) -> Engine:
        """Load a local checkpoint (or an HF cache id, offline) on CUDA if present, else the CPU."""
        from transformers import AutoTokenizer

        settings = settings or EngineSettings()
        device = pick_device(settings.device)
        dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}.get(settings.dtype)
        if dtype is None:
            raise UserError(f"engine.dtype must be bfloat16 or float32, not '{settings.dtype}'.")
        loaded = load_model(str(path), device, settings.quantize, settings.double_quant, dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(loaded.path), local_files_only=True)
        engine = cls(loaded, tokenizer, settings, device)
        if not Path(str(path)).expanduser().exists():
            engine.model_name = str(path)  # an HF cache id: its name, not the snapshot hash
        return engine

    def _stop_ids(self) -> set[int]:
        ids = set()
        vocab = self.tokenizer.get_vocab()
        for token in t.STOP_TOKENS:
            if token in vocab:
                ids.add(vocab[token])
        return ids

    # --- text -------------------------------------------------------------------------------
    def encode_chat(self, messages: list[dict], *, enable_thinking: bool = False) -> list[int]:
        """Token ids of messages rendered by Gemma 4's chat format, ready for the model's turn."""
        return self.encode(render_chat(messages, enable_thinking=enable_thinking))

    def encode(self, text: str) -> list[int]:
        """Token ids of text (special tokens in it are recognised; no BOS is added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # --- requests ---------------------------------------------------------------------------
    def add_request(
        self,
        prompt_ids: list[int],
        params: SamplingParams | None = None,
        *,
        stable_prefix: int | None = None,
    ) -> Sequence:
        """A new sequence for prompt_ids; nothing is computed until `step`.

        stable_prefix (optional): tokens at the start that later prompts will share (e.g. the
        repository context); the KV state there is kept for them.
        """
        params = params or SamplingParams()
        prompt_ids = [int(i) for i in prompt_ids]
        if not prompt_ids:
            raise UserError("the prompt is empty; send at least one token.")
        if len(prompt_ids) >= self.max_context:
            raise UserError(
                f"the prompt has {len(prompt_ids)} tokens but the model takes at most "
                f"{self.max_context}; "
                f"shorten the context."
            )
        vocab = self.config.vocab_size
        bad = next((i for i in prompt_ids if not 0 <= i < vocab), None)
        if bad is not None:
            raise UserError(f"token id {bad} is outside the model's vocabulary (0..{vocab - 1}).")
        if params.max_tokens < 1:
            raise UserError(f"max_tokens must be at least 1, got {params.max_tokens}.")
        seq = Sequence(prompt_ids, params)
        if stable_prefix and 0 < stable_prefix < len(prompt_ids):
            seq.snapshot_at = int(stable_prefix)
        if params.seed is not None:
            seq.generator = torch.Generator(device=self._device)
            seq.generator.manual_seed(int(params.seed))
        self.requests += 1
        self.counters["prompt_tokens"] += len(prompt_ids)
        return seq

    def step(self, seq: Sequence) -> StepOutput:
        """Run one prefill chunk or one decode token of seq."""
        if seq.finished:
            return StepOutput(None, "", True, seq.finish_reason, seq.error)
        out_of_memory = False
        try:
            if seq.kv is None:
                self._start(seq)
            if seq.in_prefill:
                return self._prefill_chunk(seq)
            logits = self.runner.forward([seq.generated[-1]], seq.kv)
            self._track(seq)
            return self._emit(seq, logits)
        except Exception as error:
            if not _is_oom(error):
                raise
            out_of_memory = True
        # outside the except block, so the traceback no longer pins the failed step's tensors
        if out_of_memory:
            return self._fail_oom(seq)
        raise AssertionError("unreachable")

    def release(self, seq: Sequence) -> None:
        """Free seq's KV cache (its prompt's state stays in the prefix cache); idempotent."""
        if not seq.finished:
            seq.finished, seq.finish_reason = True, "cancelled"
        seq.kv = None
        self.live.discard(seq)

    def generate(
        self,
        prompt_ids: list[int],
        params: SamplingParams | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StepOutput]:
        """Stream a request step by step; a set cancel event ends it before the next step."""
        seq = self.add_request(prompt_ids, params)
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    self.release(seq)
                    yield StepOutput(None, "", True, "cancelled")
                    return
                out = self.step(seq)
                yield out
                if out.finished:
                    return
        finally:
            self.release(seq)

    def chat(
        self,
        messages: list[dict],
        *,
        enable_thinking: bool = False,
        params: SamplingParams | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatOutput:
        """Generate a reply to messages; thinking split from the answer by ThinkingParser."""
        prompt = self.encode_chat(messages, enable_thinking=enable_thinking)
        parser = ThinkingParser()
        pieces: list[Piece] = []
        tokens: list[int] = []
        last = StepOutput(None, "", True, "cancelled")
        for last in self.generate(prompt, params, cancel):
            if last.token_id is not None:
                tokens.append(last.token_id)
            pieces += parser.feed(last.text)
        pieces += parser.finish()
        return ChatOutput(
            thinking="".join(p.text for p in pieces if p.kind == "thinking"),
            answer="".join(p.text for p in pieces if p.kind == "answer"),
            finish_reason=last.finish_reason,
            prompt_tokens=len(prompt),
            token_ids=tokens,
            error=last.error,
        )

    # --- internals --------------------------------------------------------------------------
    def _start(self, seq: Sequence) -> None:
        seq.kv = SequenceKV(self.shapes, self.owners, self._device, self.loaded.dtype)
        seq.kv.slack = PREFIX_SLACK
        total = min(len(seq.prompt_ids) + seq.params.max_tokens, self.max_context)
        seq.kv.expect(total, self.chunk)
        self.live.add(seq)
        entry, upto, shared = self.prefix_cache.lookup(seq.prompt_ids)
        if entry is not None:
            seq.kv.restore(entry.layers, upto)
            seq.prefilled = seq.reused = upto
            self.counters["reused_tokens"] += upto
        if not seq.snapshot_at and shared > upto + PREFIX_SLACK:
            # Shared with a cached prompt but too far back for its sliding tail: the prompts
            # diverge here, so keep the state at this point for the next request like them.
            seq.snapshot_at = shared

    def _prefill_chunk(self, seq: Sequence) -> StepOutput:
        start = seq.prefilled
        # chunk boundaries at multiples of the chunk size, whatever was reused: cold-run numerics
        end = min(len(seq.prompt_ids), (start // self.chunk + 1) * self.chunk)
        if start < seq.snapshot_at < end:
            end = seq.snapshot_at  # a chunk boundary where the stable part of the prompt ends
        logits = self.runner.forward(seq.prompt_ids[start:end], seq.kv)
        seq.prefilled = end
        self.counters["computed_tokens"] += end - start
        self._track(seq)
        if end == seq.snapshot_at and seq.in_prefill and self.prefix_cache.budget > 0:
            windows = {i: self.shapes[i].window for i in seq.kv.layers}
            self.prefix_cache.insert(seq.prompt_ids[:end], seq.kv.snapshot(), windows)
            self.counters["prefix_snapshots"] += 1
        if seq.in_prefill:
            return StepOutput(None, "", False, None)
        self._remember_prompt(seq)
        return self._emit(seq, logits)

    def _remember_prompt(self, seq: Sequence) -> None:
        kv = seq.kv
        if self.prefix_cache.budget > 0:
            windows = {i: self.shapes[i].window for i in kv.layers}
            self.prefix_cache.insert(seq.prompt_ids, kv.snapshot(), windows)
        kv.slack = 0  # decoding needs no more than the window
        for layer in kv.layers.values():
            layer.settle(0)

    def _track(self, seq: Sequence) -> None:
        self.max_sliding_len = max(self.max_sliding_len, seq.kv.max_sliding_len())
        self.max_sliding_held = max(self.max_sliding_held, seq.kv.max_sliding_held())

    def _emit(self, seq: Sequence, logits: torch.Tensor) -> StepOutput:
        if self.logits_hook is not None:
            self.logits_hook(seq, logits)
        token = sample(logits, seq.params, seq.generator)
        seq.generated.append(token)
        self.counters["generated_tokens"] += 1
        if token in self.stop_ids:
            return self._finish(seq, token, "stop", "")
        seq.next_delta(self.tokenizer, self.hidden_ids)
        text, stopped = seq.take_text(final=False)
        if stopped:
            return self._finish(seq, token, "stop", text)
        total = len(seq.prompt_ids) + len(seq.generated)
        if len(seq.generated) >= seq.params.max_tokens or total >= self.max_context:
            return self._finish(seq, token, "length", text)
        return StepOutput(token, text, False, None)

    def _finish(self, seq: Sequence, token: int, reason: str, text: str) -> StepOutput:
        rest, stopped = seq.take_text(final=True)
        seq.finished, seq.finish_reason = True, "stop" if stopped else reason
        return StepOutput(token, text + rest, True, seq.finish_reason)

    def _fail_oom(self, seq: Sequence) -> StepOutput:
        asked = len(seq.prompt_ids) + seq.params.max_tokens
        seq.kv = None
        self.live.discard(seq)
        self.prefix_cache.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        fits = context_limit_for(self.config, self._free_bytes(), self.chunk)
        where = "GPU" if self._device.type == "cuda" else "host"
        seq.finished, seq.finish_reason = True, "error"
        seq.error = (
            f"out of {where} memory: the request asked for {asked} tokens of context "
            f"({len(seq.prompt_ids)} prompt + {seq.params.max_tokens} max_tokens) but about "
            f"{fits} fit next to the weights now; shorten the context or lower max_tokens."
        )
        self.errors += 1
        return StepOutput(None, "", True, "error", seq.error)

    def _free_bytes(self) -> int:
        """Memory a new request could use now (after this one was freed)."""
        if self._device.type == "cuda":
            return int(torch.cuda.mem_get_info(self._device)[0])
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            return 0

    def weights_bytes(self) -> int:
        model = self.loaded.model
        tensors = list(model.parameters()) + list(model.buffers())
        return sum(x.numel() * x.element_size() for x in tensors)

    def stats(self) -> dict:
        """Counters, prefix-cache occupancy and memory in use."""
        quantized = quantized_modules(self.loaded.model)
        device_memory = (
            torch.cuda.memory_allocated(self._device) if self._device.type == "cuda" else 0
        )
        return {
            **self.counters,
            "requests": self.requests,
            "errors": self.errors,
            "live_sequences": len(self.live),
            "kv_bytes": sum(s.kv.nbytes() for s in self.live if s.kv is not None),
            "prefix_cache_entries": len(self.prefix_cache.entries),
            "prefix_cache_bytes": self.prefix_cache.nbytes,
            "prefix_cache_budget_bytes": self.prefix_cache.budget,
            "prefix_cache_hits": self.prefix_cache.hits,
            "prefix_cache_misses": self.prefix_cache.misses,
            "prefix_cache_evictions": self.prefix_cache.evictions,
            "weights_bytes": self.weights_bytes(),
            "quantized_bytes": sum(m.nbytes() for m in quantized),
            "quantized_bf16_bytes": sum(m.float_nbytes() for m in quantized),
            "device": self.device,
            "device_memory_bytes": device_memory,
            "quantize": self.loaded.quantize,
            "max_context": self.max_context,
        }
