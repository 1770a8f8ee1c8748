"""The engine loop: requests in, one prefill chunk or one decode token per step, text out."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from codeassist.config import EngineSettings
from codeassist.engine.graphs import MODES, DecodeGraphs, DecodeRow
from codeassist.engine.kv_cache import BLOCK, KVCache, KVFull, blocks_for
from codeassist.engine.loading import LoadedModel, load_model, pick_device
from codeassist.engine.out_of_memory import is_out_of_memory
from codeassist.engine.plan import (
    PREFIX_SLACK,
    context_limit_for,
    pool_tokens,
)
from codeassist.engine.prefix_cache import PrefixCache
from codeassist.engine.quant import quantized_modules
from codeassist.engine.runner import ModelRunner
from codeassist.engine.sampler import SamplingRows, sample
from codeassist.engine.sampling import SamplingParams, StepOutput
from codeassist.engine.sequence import Sequence
from codeassist.errors import UserError
from codeassist.gemma4.prompt import Piece, ThinkingParser, render_chat
from codeassist.gemma4.shape import kv_shared_layers, layer_shapes
from codeassist.gemma4.tokens import EOS, OTHER_SPECIALS, STOP_TOKENS, TURN_CLOSE, TURN_OPEN

Progress = Callable[[float, str], None]


@dataclass
class ChatOutput:
    thinking: str  # the thought block(s), never part of the answer
    answer: str
    finish_reason: str | None
    prompt_tokens: int
    token_ids: list[int]
    error: str | None = None


@dataclass
class MemoryUse:
    """Bytes the engine holds, by kind (engine/plan.py predicts the same figures)."""

    weights: int
    kv_pool: int  # full-attention blocks, preallocated
    rings: int  # sliding-window rings of every sequence row, preallocated
    prefix_copies: int  # ring copies held by the prefix cache now (<= its budget)
    graphs: int  # CUDA graph memory pools (0 off CUDA)

    @property
    def total(self) -> int:
        return self.weights + self.kv_pool + self.rings + self.prefix_copies + self.graphs


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
    control = {EOS, TURN_OPEN, TURN_CLOSE, *OTHER_SPECIALS}
    return frozenset(
        index
        for index, token in tokenizer.added_tokens_decoder.items()
        if str(token) not in control
    )


def _decode_mode(setting: str, device: torch.device) -> str:
    """How the decode step runs: auto -> CUDA graphs on CUDA, plain PyTorch ops elsewhere."""
    if setting == "auto":
        return "graph" if device.type == "cuda" else "eager"
    if setting not in MODES:
        raise UserError(f"engine.decode must be one of auto, {', '.join(MODES)}, not '{setting}'.")
    if setting == "graph" and device.type != "cuda":
        raise UserError(
            "engine.decode = 'graph' needs a CUDA GPU; use 'auto', 'eager' or 'compile'."
        )
    return setting


class Engine:
    """A loaded Gemma 4 text model with its tokenizer, K/V storage and prefix cache."""

    def __init__(
        self,
        loaded: LoadedModel,
        tokenizer,
        settings: EngineSettings,
        device: torch.device,
        *,
        context: int | None = None,
    ) -> None:
        self.loaded = loaded
        self.tokenizer = tokenizer
        self.settings = settings
        self.device = str(device)
        self._device = device
        self.model_name = loaded.path.name
        self.config = loaded.config
        self.shapes = layer_shapes(loaded.config)
        self.owners = _owners(loaded.config)
        self.window = loaded.config.sliding_window
        self.chunk = max(1, int(settings.prefill_chunk))
        self.dtype_bytes = torch.empty((), dtype=loaded.dtype).element_size()
        self.max_sequences = int(settings.max_sequences)
        budget = int(settings.prefix_cache_mib) * 2**20
        model_limit = int(loaded.config.max_position_embeddings)
        if context:
            model_limit = min(model_limit, int(context))
        tokens = self._pool_tokens(model_limit, budget)
        self.kv = KVCache(
            self.shapes,
            self.owners,
            tokens=tokens,
            sequences=self.max_sequences,
            slack=PREFIX_SLACK,
            device=device,
            dtype=loaded.dtype,
        )
        self.max_context = min(model_limit, tokens)
        self.runner = ModelRunner(
            loaded.model, loaded.head, loaded.config.final_logit_softcapping, self.kv
        )
        self.graphs = DecodeGraphs(
            self.runner,
            max_batch=self.max_sequences,
            max_blocks=blocks_for(self.max_context),
            mode=_decode_mode(settings.decode, device),
        )
        self.prefix_cache = PrefixCache(budget, self.kv)
        self.stop_ids = self._stop_ids()
        self.hidden_ids = _inert_token_ids(tokenizer)
        self.live: set[Sequence] = set()
        self.counters = {
            "prompt_tokens": 0,
            "reused_tokens": 0,
            "computed_tokens": 0,
            "generated_tokens": 0,
            "prefix_snapshots": 0,  # extra snapshots at a stable point inside a prompt
            "decode_steps": 0,  # batched forwards (each advances one or more sequences)
        }
        self.requests = 0
        self.errors = 0
        # opt-in test hook: called with (sequence, float32 logits it sampled its token from)
        self.logits_hook: Callable[[Sequence, torch.Tensor], None] | None = None

    @classmethod
    def load(
        cls,
        path: str,
        settings: EngineSettings | None = None,
        progress: Progress | None = None,
        *,
        context: int | None = None,
    ) -> Engine:
        """Load a local checkpoint (or an HF cache id, offline) on CUDA if present, else the CPU.

        progress(fraction, message) hears how far loading got (0.0 to 1.0). context: the
        longest prompt + output to hold (default: the model's limit, or what fits the GPU);
        the K/V storage for it is allocated now.
        """
        from transformers import AutoTokenizer

        report = progress or (lambda fraction, message: None)
        settings = settings or EngineSettings()
        device = pick_device(settings.device)
        dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}.get(settings.dtype)
        if dtype is None:
            raise UserError(f"engine.dtype must be bfloat16 or float32, not '{settings.dtype}'.")
        report(0.0, "reading the checkpoint")
        loaded = load_model(
            str(path),
            device,
            settings.quantize,
            settings.double_quant,
            dtype,
            progress=lambda done: report(0.9 * done, "loading weights"),
        )
        report(0.9, "loading the tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(loaded.path), local_files_only=True)
        report(0.95, "allocating the K/V cache")
        engine = cls(loaded, tokenizer, settings, device, context=context)
        if not Path(str(path)).expanduser().exists():
            engine.model_name = str(path)  # an HF cache id: its name, not the snapshot hash
        report(1.0, "ready")
        return engine

    def _pool_tokens(self, model_limit: int, prefix_budget: int) -> int:
        """Positions the full-attention pool holds: the model's limit, or what fits the GPU."""
        if self._device.type != "cuda":
            return model_limit
        from codeassist.sizes import parse_size

        free, total = torch.cuda.mem_get_info(self._device)
        if self.settings.gpu_memory:
            allowed = parse_size(self.settings.gpu_memory) - torch.cuda.memory_reserved(
                self._device
            )
            free = min(free, allowed)
        tokens = pool_tokens(
            self.config,
            free,
            sequences=self.max_sequences,
            prefix_cache_bytes=prefix_budget,
            chunk=self.chunk,
            quantize=self.loaded.quantize,
            dtype_bytes=self.dtype_bytes,
        )
        if tokens < min(model_limit, 4 * self.chunk):
            raise UserError(
                f"the model's weights leave room for only {tokens} tokens of context on this GPU "
                f"({free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB); free GPU memory, "
                "lower engine.prefix_cache_mib or engine.max_sequences, or use a smaller model."
            )
        return min(model_limit, tokens)

    def _stop_ids(self) -> set[int]:
        ids = set()
        vocab = self.tokenizer.get_vocab()
        for token in STOP_TOKENS:
            if token in vocab:
                ids.add(vocab[token])
        return ids

    # --- K/V room (the scheduler admits a request only when its reservation fits) -----------
    @property
    def kv_tokens_total(self) -> int:
        """Positions the full-attention pool holds (all sequences together)."""
        return (self.kv.block_count - 1) * BLOCK

    def kv_tokens_free(self) -> int:
        """Positions a new sequence could reserve now (prefix-cache blocks it would evict
        count as free)."""
        return (self.kv.available_blocks + self.prefix_cache.evictable_blocks()) * BLOCK

    def kv_tokens_needed(self, prompt_ids: list[int], max_tokens: int) -> int:
        """Positions the first step of such a request reserves (at most; a prefix-cache hit
        shares some)."""
        total = min(len(prompt_ids) + max(1, int(max_tokens)), self.max_context)
        return blocks_for(total) * BLOCK

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
        repository context); the K/V state there is kept for them.
        """
        params = params or SamplingParams()
        prompt_ids = [int(i) for i in prompt_ids]
        if not prompt_ids:
            raise UserError("the prompt is empty; send at least one token.")
        if len(prompt_ids) >= self.max_context:
            raise UserError(
                f"the prompt has {len(prompt_ids)} tokens but this engine takes at most "
                f"{self.max_context - 1}; shorten the context."
            )
        vocab = self.config.vocab_size
        bad = next((i for i in prompt_ids if not 0 <= i < vocab), None)
        if bad is not None:
            raise UserError(f"token id {bad} is outside the model's vocabulary (0..{vocab - 1}).")
        if params.max_tokens < 1:
            raise UserError(f"max_tokens must be at least 1, got {params.max_tokens}.")
        seed = params.seed if params.seed is not None else random.getrandbits(31)
        seq = Sequence(prompt_ids, params, seed=int(seed) & 0x7FFFFFFF)
        if stable_prefix and 0 < stable_prefix < len(prompt_ids):
            seq.snapshot_at = int(stable_prefix)
        self.requests += 1
        self.counters["prompt_tokens"] += len(prompt_ids)
        return seq

    def step(self, seq: Sequence) -> StepOutput:
        """Run one prefill chunk or one decode token of seq."""
        return self.step_many([seq])[0]

    def step_many(self, seqs: list[Sequence]) -> list[StepOutput]:
        """Advance each sequence by one step: a prefilling one by its next chunk, and all the
        decoding ones together by one token in one batched forward. Outputs in seqs' order.

        At most `max_sequences` sequences hold K/V at once, so a batch never exceeds that.
        """
        outputs: dict[int, StepOutput] = {}
        decoding: list[Sequence] = []
        for seq in seqs:
            if seq.finished:
                outputs[seq.id] = StepOutput(None, "", True, seq.finish_reason, seq.error)
            elif seq.kv is None or seq.in_prefill:
                outputs[seq.id] = self._guarded([seq], lambda s=seq: [self._prefill_step(s)])[0]
            else:
                decoding.append(seq)
        if decoding:
            results = self._guarded(decoding, lambda: self._decode_step(decoding))
            outputs.update((seq.id, out) for seq, out in zip(decoding, results, strict=True))
        return [outputs[seq.id] for seq in seqs]

    def release(self, seq: Sequence) -> None:
        """Free seq's K/V (its prompt's state stays in the prefix cache); idempotent."""
        if not seq.finished:
            seq.finished, seq.finish_reason = True, "cancelled"
        if seq.kv is not None:
            self.kv.close(seq.kv)
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

    def prompt_logits(self, token_ids: list[int]) -> torch.Tensor:
        """float32 logits [T, V] at every position of token_ids, prefilled in chunks on a
        sequence of its own (scoring and tests; the prefix cache is not used)."""
        kv = self.kv.open()
        try:
            self.prefix_cache.make_room(blocks_for(len(token_ids)))
            self.kv.reserve(kv, len(token_ids))
            parts = [
                self.runner.prefill(kv, token_ids[lo : lo + self.chunk], all_logits=True)
                for lo in range(0, len(token_ids), self.chunk)
            ]
        finally:
            self.kv.close(kv)
        return torch.cat(parts)

    # --- steps ------------------------------------------------------------------------------
    def _guarded(self, seqs: list[Sequence], run: Callable[[], list[StepOutput]]):
        """run(), or when memory runs out: each of seqs freed and failed, the rest untouched."""
        failure = None
        try:
            return run()
        except KVFull as error:
            failure = ("kv", str(error))
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            failure = ("memory", str(error).splitlines()[0] if str(error) else repr(error))
        # outside the except block, so the traceback no longer pins the failed step's tensors
        return [self._fail(seq, *failure) for seq in seqs]

    def _start(self, seq: Sequence) -> None:
        kv = self.kv
        seq.kv = kv.open()
        self.live.add(seq)
        entry, upto, shared = self.prefix_cache.lookup(seq.prompt_ids)
        if entry is not None:
            kv.allocator.retain(entry.blocks)  # kept while room is made for the copied block
            try:
                self.prefix_cache.make_room(1)
                kv.adopt(seq.kv, entry.blocks, upto)
            finally:
                kv.allocator.release(entry.blocks)
            kv.load_rings(seq.kv.row, entry.rings)
            seq.kv.ring_floor = entry.ring_floor
            seq.prefilled = seq.reused = upto
            self.counters["reused_tokens"] += upto
        total = min(len(seq.prompt_ids) + seq.params.max_tokens, self.max_context)
        self.prefix_cache.make_room(blocks_for(total) - len(seq.kv.blocks))
        kv.reserve(seq.kv, total)
        if not seq.snapshot_at and shared > upto + PREFIX_SLACK:
            # Shared with a cached prompt but too far back for its sliding tail: the prompts
            # diverge here, so keep the state at this point for the next request like them.
            seq.snapshot_at = shared

    def _prefill_step(self, seq: Sequence) -> StepOutput:
        if seq.kv is None:
            self._start(seq)
        start = seq.prefilled
        # chunk boundaries at multiples of the chunk size, whatever was reused: cold-run numerics
        end = min(len(seq.prompt_ids), (start // self.chunk + 1) * self.chunk)
        if start < seq.snapshot_at < end:
            end = seq.snapshot_at  # a chunk boundary where the stable part of the prompt ends
        logits = self.runner.prefill(seq.kv, seq.prompt_ids[start:end])
        seq.prefilled = end
        self.counters["computed_tokens"] += end - start
        stable = end == seq.snapshot_at and seq.in_prefill
        if stable and self.prefix_cache.insert(seq.prompt_ids[:end], seq.kv):
            self.counters["prefix_snapshots"] += 1
        if seq.in_prefill:
            return StepOutput(None, "", False, None)
        self.prefix_cache.insert(seq.prompt_ids, seq.kv)
        rows = SamplingRows(*(x.to(self._device) for x in _sampling_columns([seq])))
        token = int(sample(logits[None], rows, seq.params.temperature <= 0)[0])
        return self._emit(seq, token, logits)

    def _decode_step(self, seqs: list[Sequence]) -> list[StepOutput]:
        tokens, logits = self.graphs.run(self._decode_rows(seqs))
        ids = tokens.tolist()  # the step's one device-to-host copy
        self.counters["decode_steps"] += 1
        outputs = []
        for i, seq in enumerate(seqs):
            self.kv.advance(seq.kv, seq.kv.length + 1)
            outputs.append(self._emit(seq, ids[i], logits[i]))
        return outputs

    def _decode_rows(self, seqs: list[Sequence]) -> list[DecodeRow]:
        """Room for one more position each, and the rows of their next decode step."""
        rows = []
        for seq in seqs:
            self.kv.grow(seq.kv, seq.kv.length + 1)
            params = seq.params
            rows.append(
                DecodeRow(
                    token=seq.generated[-1],
                    position=seq.kv.length,
                    row=seq.kv.row,
                    blocks=seq.kv.blocks,
                    temperature=float(params.temperature),
                    top_k=int(params.top_k),
                    top_p=float(params.top_p),
                    seed=seq.seed,
                    index=len(seq.generated),
                )
            )
        return rows

    # --- results ----------------------------------------------------------------------------
    def _emit(self, seq: Sequence, token: int, logits: torch.Tensor) -> StepOutput:
        if self.logits_hook is not None:
            self.logits_hook(seq, logits)
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

    def _fail(self, seq: Sequence, kind: str, detail: str) -> StepOutput:
        """Free seq after running out of memory or K/V room; the prefix cache stays."""
        asked = min(len(seq.prompt_ids) + seq.params.max_tokens, self.max_context)
        holders = len(self.live - {seq})
        self.release(seq)
        if self._device.type == "cuda":
            torch.cuda.empty_cache()
        if kind == "kv":
            free = self.kv.available_blocks * BLOCK
            error = (
                f"the K/V cache is full: this request needs {asked} tokens of context "
                f"({len(seq.prompt_ids)} prompt + {seq.params.max_tokens} max_tokens), "
                f"{free} are free and {holders} other running request(s) hold the rest "
                f"({detail}); lower max_tokens, or retry when they finish."
            )
        else:
            fits = min(
                self.max_context,
                context_limit_for(self.config, self._free_bytes(), self.chunk, self._device.type),
            )
            where = "GPU" if self._device.type == "cuda" else "host"
            error = (
                f"out of {where} memory ({detail}): the request asked for {asked} tokens of "
                f"context ({len(seq.prompt_ids)} prompt + {seq.params.max_tokens} max_tokens) but "
                f"about {fits} fit in the memory free now; shorten the context or lower "
                "max_tokens."
            )
        seq.finished, seq.finish_reason, seq.error = True, "error", error
        self.errors += 1
        return StepOutput(None, "", True, "error", error)

    # --- accounting -------------------------------------------------------------------------
    def _free_bytes(self) -> int:
        """Memory a new request could use now (after the failed one was freed)."""
        if self._device.type == "cuda":
            return int(torch.cuda.mem_get_info(self._device)[0])
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            return 0

    def weights_bytes(self) -> int:
        model = self.loaded.model
        tensors = {id(x): x for x in [*model.parameters(), *model.buffers()]}
        tensors.update(
            {id(x): x for x in [*self.loaded.head.parameters(), *self.loaded.head.buffers()]}
        )
        return sum(x.numel() * x.element_size() for x in tensors.values())

    def memory(self) -> MemoryUse:
        """What the engine holds now, by kind."""
        return MemoryUse(
            weights=self.weights_bytes(),
            kv_pool=self.kv.pool_bytes(),
            rings=self.kv.ring_bytes(),
            prefix_copies=self.prefix_cache.nbytes,
            graphs=self.graphs.pool_bytes(),
        )

    def stats(self) -> dict:
        """Counters, prefix-cache occupancy and memory in use."""
        quantized = quantized_modules(self.loaded.model)
        memory = self.memory()
        device_memory = (
            torch.cuda.memory_allocated(self._device) if self._device.type == "cuda" else 0
        )
        return {
            **self.counters,
            "requests": self.requests,
            "errors": self.errors,
            "live_sequences": len(self.live),
            "max_sequences": self.max_sequences,
            "kv_tokens_in_use": sum(s.kv.length for s in self.live if s.kv is not None),
            "kv_blocks_free": self.kv.allocator.free,
            "kv_blocks_total": self.kv.block_count - 1,
            "prefix_cache_entries": len(self.prefix_cache.entries),
            "prefix_cache_bytes": self.prefix_cache.nbytes,
            "prefix_cache_budget_bytes": self.prefix_cache.budget,
            "prefix_cache_shared_blocks": self.prefix_cache.shared_blocks(),
            "prefix_cache_hits": self.prefix_cache.hits,
            "prefix_cache_misses": self.prefix_cache.misses,
            "prefix_cache_evictions": self.prefix_cache.evictions,
            "memory": asdict(memory) | {"total": memory.total},
            "weights_bytes": memory.weights,
            "quantized_bytes": sum(m.nbytes() for m in quantized),
            "quantized_bf16_bytes": sum(m.float_nbytes() for m in quantized),
            "device": self.device,
            "device_memory_bytes": device_memory,
            "decode_mode": self.graphs.mode,
            "decode_graphs": self.graphs.captured,
            "quantize": self.loaded.quantize,
            "max_context": self.max_context,
        }


def _sampling_columns(seqs: list[Sequence]) -> tuple[torch.Tensor, ...]:
    """SamplingRows' fields (host tensors) for seqs drawing their next token."""
    return (
        torch.tensor([float(s.params.temperature) for s in seqs]),
        torch.tensor([int(s.params.top_k) for s in seqs]),
        torch.tensor([float(s.params.top_p) for s in seqs]),
        torch.tensor([s.seed for s in seqs]),
        torch.tensor([len(s.generated) for s in seqs]),
    )
