"""The forward pass: Gemma 4's decoder layers over the engine's K/V storage (gpt-fast style).

The weights are transformers' modules (norms, projections, router, experts, possibly swapped
for 4-bit ones and fused by engine/quant.py); the layer arithmetic is transformers' Gemma 4
decoder layer, written out here so that attention reads and writes the engine's own storage.

- `prefill`: one chunk of one sequence (any length), eager; writes its K/V, returns logits.
- `decode`: one token for each of B sequences, a pure function of fixed-shape tensors (ids,
  positions, ring rows, block tables, sampling rows) returning the next ids on the device: no
  host reads, no data-dependent shapes, so it traces with `torch.compile(fullgraph=True)` and
  is captured as one CUDA graph per (batch, context) bucket (engine/graphs.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.models.gemma4.modeling_gemma4 import Gemma4TextModel, apply_rotary_pos_emb

from codeassist.engine import layout
from codeassist.engine.attention import (
    decode_attention,
    prefill_attention,
    ring_positions,
    visible,
)
from codeassist.engine.gather import take_rows
from codeassist.engine.kv_cache import BLOCK, KVCache, SequenceKV
from codeassist.engine.sampler import SamplingRows, sample

try:  # the decode kernel that reads K/V in place needs Triton (engine/kernels decides when)
    from codeassist.engine import paged_attention
except ImportError:
    paged_attention = None


@dataclass
class DecodeInputs:
    """One batched decode step: device tensors, [B] each unless said."""

    ids: torch.Tensor  # int64: the token each row feeds in
    positions: torch.Tensor  # int64: that token's position
    rows: torch.Tensor  # int64: each sequence's ring row
    tables: torch.Tensor  # int64 [B, blocks]: block ids in position order (scratch-padded)
    sampling: SamplingRows


class ModelRunner:
    """Runs a Gemma4TextModel's layers against a KVCache."""

    def __init__(
        self, model: Gemma4TextModel, head: nn.Module, softcap: float | None, kv: KVCache
    ) -> None:
        self.model = model
        self.head = head  # hidden [..., H] -> float32 logits [..., V]
        self.softcap = softcap
        self.kv = kv
        self.config = model.config
        self.layer_types = list(self.config.layer_types)
        self.window = self.config.sliding_window
        # decode attention: "auto" (the Triton kernel reading the pools in place, on CUDA when
        # Triton is there, else gathered blocks and PyTorch's attention), "triton" or "torch"
        self.attention = "auto"

    # --- the two entry points ---------------------------------------------------------------
    @torch.no_grad()
    def prefill(self, seq: SequenceKV, token_ids: list[int], all_logits: bool = False):
        """Logits (float32) of the chunk's last token (or of all of them); stores its K/V."""
        device = self.kv.device
        start, count = seq.length, len(token_ids)
        ids = torch.tensor([token_ids], device=device)
        self.kv.grow(seq, start + count)
        context = _PrefillContext(self.kv, seq, start, count)
        hidden = self._layers(ids, context.positions[None], context)
        self.kv.advance(seq, start + count)
        if not all_logits:
            hidden = hidden[:, -1:]
        logits = self._logits(hidden)[0]
        return logits if all_logits else logits[-1]

    @torch.no_grad()
    def decode(
        self, step: DecodeInputs, greedy_only: bool, paged: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(next ids [B], float32 logits [B, V]) for one token of each row; paged: attention by
        the Triton kernel reading K/V in place (see `paged()`), else over gathered blocks."""
        context = _DecodeContext(self.kv, step, self.window, paged)
        hidden = self._layers(step.ids[:, None], step.positions[:, None], context)
        logits = self._logits(hidden[:, 0])
        return sample(logits, step.sampling, greedy_only), logits

    def paged(self) -> bool:
        """Whether decode attention runs the Triton kernel (decided on the host, per step)."""
        from codeassist.engine.kernels import use_triton

        return use_triton(self.attention, self.kv.keys[next(iter(self.kv.keys))])

    # --- the model --------------------------------------------------------------------------
    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.model.norm(hidden)).float()
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def _layers(self, ids: torch.Tensor, positions: torch.Tensor, context) -> torch.Tensor:
        model = self.model
        hidden = model.embed_tokens(ids)
        per_layer = None
        if model.hidden_size_per_layer_input:
            per_layer = model.project_per_layer_inputs(
                hidden, model.get_per_layer_inputs(ids, hidden)
            )
        rope = {
            kind: model.rotary_emb(hidden, positions, kind)
            for kind in sorted(set(self.layer_types))
        }
        for index, layer in enumerate(model.layers):
            extra = per_layer[:, :, index, :] if per_layer is not None else None
            hidden = self._layer(
                index, layer, hidden, extra, rope[self.layer_types[index]], context
            )
        return hidden

    def _layer(self, index, layer, hidden, per_layer_input, rope, context) -> torch.Tensor:
        """transformers' Gemma4TextDecoderLayer.forward, attention going to `context`."""
        residual = hidden
        x = layer.input_layernorm(hidden)
        x = self._attention(index, layer.self_attn, x, rope, context)
        x = layer.post_attention_layernorm(x)
        hidden = residual + x
        residual = hidden
        x = _mlp(layer.mlp, layer.pre_feedforward_layernorm(hidden))
        if layer.enable_moe_block:
            dense = layer.post_feedforward_layernorm_1(x)
            flat = residual.reshape(-1, residual.shape[-1])
            _, weights, experts = layer.router(flat)
            routed = layer.experts(layer.pre_feedforward_layernorm_2(flat), experts, weights)
            routed = layer.post_feedforward_layernorm_2(routed.reshape(residual.shape))
            x = dense + routed
        x = layer.post_feedforward_layernorm(x)
        hidden = residual + x
        if per_layer_input is not None:
            residual = hidden
            x = layer.act_fn(layer.per_layer_input_gate(hidden)) * per_layer_input
            x = layer.post_per_layer_input_norm(layer.per_layer_projection(x))
            hidden = residual + x
        return hidden * layer.layer_scalar

    def _attention(self, index, attn, x, rope, context) -> torch.Tensor:
        batch, length, _ = x.shape
        dim = attn.head_dim
        cos, sin = rope
        fused = getattr(attn, "qkv_proj", None)
        parts = fused(x).split(fused.splits, -1) if fused is not None else None
        query = parts[0] if parts is not None else attn.q_proj(x)
        query = attn.q_norm(query.view(batch, length, -1, dim))
        query = apply_rotary_pos_emb(query, cos, sin, unsqueeze_dim=2)
        if not attn.is_kv_shared_layer:
            if parts is not None:
                keys = parts[1]
                values = parts[2] if len(parts) > 2 else keys
            else:
                keys = attn.k_proj(x)
                values = attn.v_proj(x) if attn.v_proj is not None else keys
            keys = attn.k_norm(keys.view(batch, length, -1, dim))
            keys = apply_rotary_pos_emb(keys, cos, sin, unsqueeze_dim=2)
            values = attn.v_norm(values.view(batch, length, -1, dim))
            context.store(index, keys, values)
        out = context.attend(index, query, attn.scaling)  # [B, T, H, d]
        return attn.o_proj(out.reshape(batch, length, -1))


def _mlp(mlp: nn.Module, x: torch.Tensor) -> torch.Tensor:
    fused = getattr(mlp, "gate_up_proj", None)
    if fused is None:
        return mlp(x)
    gate, up = fused(x).split(fused.splits, -1)
    return mlp.down_proj(mlp.act_fn(gate) * up)


class _PrefillContext:
    """K/V of one chunk [start, start + count) of one sequence."""

    def __init__(self, kv: KVCache, seq: SequenceKV, start: int, count: int) -> None:
        self.kv, self.seq = kv, seq
        self.start, self.end = start, start + count
        self.positions = torch.arange(start, start + count, device=kv.device)
        self.slots = kv.slots(seq, start, start + count) if kv.global_layers else None
        self.new: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.sliding: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def store(self, index: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        if self.kv.shapes[index].window is None:
            self.kv.write_blocks(index, self.slots, keys[0], values[0])
        else:
            self.new[index] = (keys[0], values[0])  # into the ring once attention read it

    def attend(self, index: int, query: torch.Tensor, scale: float) -> torch.Tensor:
        owner = self.kv.owners[index]
        window = self.kv.shapes[index].window
        if window is None:
            end = self.end

            segment = layout.SEGMENT

            def segments():
                for lo in range(0, end, segment):
                    hi = min(end, lo + segment)
                    keys, values = self.kv.read_blocks(owner, self.seq, lo, hi)
                    positions = torch.arange(lo, hi, device=self.kv.device)
                    yield keys.transpose(0, 1), values.transpose(0, 1), positions

            single = end <= segment
        else:
            if owner not in self.sliding:
                self.sliding[owner] = self._ring_and_chunk(owner)
            keys, values, positions = self.sliding[owner]

            def segments():
                yield keys.transpose(0, 1), values.transpose(0, 1), positions

            single = True
        out = prefill_attention(
            query[0].transpose(0, 1), segments, self.positions, window, scale, single
        )
        return out[None]

    def _ring_and_chunk(self, owner: int):
        """The ring as it was before this chunk, then the chunk; the chunk's tail into the ring."""
        kv, row = self.kv, self.seq.row
        new_keys, new_values = self.new.pop(owner)
        newest = torch.tensor(self.start - 1, device=kv.device)
        keys = torch.cat([kv.keys[owner][row], new_keys])
        values = torch.cat([kv.values[owner][row], new_values])
        positions = torch.cat([ring_positions(newest, kv.ring), self.positions])
        tail = min(len(self.positions), kv.ring)
        slots = self.positions[-tail:] % kv.ring
        kv.keys[owner][row].index_copy_(0, slots, new_keys[-tail:])
        kv.values[owner][row].index_copy_(0, slots, new_values[-tail:])
        return keys, values, positions


class _DecodeContext:
    """K/V of one token per row: written at fixed slots, read through tables and ring rows."""

    def __init__(self, kv: KVCache, step: DecodeInputs, window: int, paged: bool) -> None:
        self.kv, self.step, self.window, self.paged = kv, step, window, paged
        positions = step.positions
        blocks = step.tables.gather(1, (positions // BLOCK)[:, None])[:, 0]
        self.block_slots = blocks * BLOCK + positions % BLOCK
        self.ring_slots = step.rows * kv.ring + positions % kv.ring
        if paged:
            self.ring_block = paged_attention.ring_blocks(kv.ring)
            per_row = kv.ring // self.ring_block
            span = torch.arange(per_row, device=positions.device)
            self.ring_table = step.rows[:, None] * per_row + span[None, :]
        else:
            span = torch.arange(step.tables.shape[1] * BLOCK, device=positions.device)
            self.global_visible = visible(positions[:, None], span[None, :], None)
            self.ring_visible = visible(
                positions[:, None], ring_positions(positions, kv.ring), window
            )

    def store(self, index: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        slots = self.block_slots if self.kv.shapes[index].window is None else self.ring_slots
        heads, dim = keys.shape[2:]
        self.kv.keys[index].view(-1, heads, dim).index_copy_(0, slots, keys[:, 0])
        self.kv.values[index].view(-1, heads, dim).index_copy_(0, slots, values[:, 0])

    def attend(self, index: int, query: torch.Tensor, scale: float) -> torch.Tensor:
        owner = self.kv.owners[index]
        full = self.kv.shapes[index].window is None
        keys, values = self.kv.keys[owner], self.kv.values[owner]
        if self.paged:
            if full:
                out = paged_attention.paged_decode_attention(
                    query[:, 0], keys, values, self.step.tables, self.step.positions, scale
                )
            else:
                shape = (-1, self.ring_block, *keys.shape[2:])
                out = paged_attention.paged_decode_attention(
                    query[:, 0],
                    keys.view(shape),
                    values.view(shape),
                    self.ring_table,
                    self.step.positions,
                    scale,
                    window=self.window,
                    ring=self.kv.ring,
                )
            return out[:, None]
        if full:
            keys = take_rows(keys, self.step.tables).flatten(1, 2)
            values = take_rows(values, self.step.tables).flatten(1, 2)
            allowed = self.global_visible
        else:
            keys, values = take_rows(keys, self.step.rows), take_rows(values, self.step.rows)
            allowed = self.ring_visible
        out = decode_attention(
            query[:, 0], keys.transpose(1, 2), values.transpose(1, 2), allowed, scale
        )
        return out[:, None]
