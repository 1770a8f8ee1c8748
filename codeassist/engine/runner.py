"""One forward pass of the text model over a chunk of one sequence's tokens (gpt-fast style)."""

from __future__ import annotations

import torch
from transformers.models.gemma4.modeling_gemma4 import Gemma4TextModel, KVSharingDict

from codeassist.engine.kv_cache import SequenceKV
from codeassist.gemma4.shape import SLIDING


def attention_mask(
    query_pos: torch.Tensor, key_pos: torch.Tensor, window: int | None
) -> torch.Tensor:
    """[1, 1, q, k] booleans: True where a query may attend to a key (causal, within the window)."""
    allowed = key_pos[None, :] <= query_pos[:, None]
    if window is not None:
        allowed &= key_pos[None, :] > query_pos[:, None] - window
    return allowed[None, None]


class ModelRunner:
    """Runs the decoder layers of a transformers Gemma4TextModel against a SequenceKV."""

    def __init__(
        self, model: Gemma4TextModel, lm_head: torch.Tensor, softcap: float | None
    ) -> None:
        self.model = model
        self.lm_head = lm_head
        self.softcap = softcap
        self.config = model.config
        self.device = lm_head.device
        self.window = self.config.sliding_window

    @torch.inference_mode()
    def forward(
        self, token_ids: list[int], kv: SequenceKV, all_logits: bool = False
    ) -> torch.Tensor:
        """Logits (float32) of the last token, or of every token with all_logits; appends to kv."""
        model = self.model
        count = len(token_ids)
        ids = torch.tensor([token_ids], device=self.device)
        positions = torch.arange(kv.length, kv.length + count, device=self.device)
        hidden = model.embed_tokens(ids)
        per_layer_inputs = None
        if model.hidden_size_per_layer_input:
            per_layer_inputs = model.project_per_layer_inputs(
                hidden, model.get_per_layer_inputs(ids, hidden)
            )
        rope = {
            kind: model.rotary_emb(hidden, positions[None], kind)
            for kind in model.unique_layer_types
        }
        masks = {}
        for kind in model.unique_layer_types:
            keys = kv.key_positions(kind, count).to(self.device)
            masks[kind] = attention_mask(positions, keys, self.window if kind == SLIDING else None)
        shared = KVSharingDict()
        for index, layer in enumerate(model.layers):
            kind = self.config.layer_types[index]
            hidden = layer(
                hidden,
                per_layer_inputs[:, :, index, :] if per_layer_inputs is not None else None,
                shared_kv_states=shared,
                position_embeddings=rope[kind],
                attention_mask=masks[kind],
                position_ids=positions[None],
                cache=kv,
            )
        kv.advance(count)
        if not all_logits:
            hidden = hidden[:, -1:]
        hidden = model.norm(hidden)
        logits = torch.nn.functional.linear(hidden, self.lm_head).float()[0]
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits if all_logits else logits[-1]
