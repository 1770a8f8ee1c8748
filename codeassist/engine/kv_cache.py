"""One sequence's KV cache: full-attention layers grow, sliding layers keep their window.

The attention modules of transformers call `update(keys, values, layer_idx)`; this class stands
in for transformers' Cache there. Each layer keeps a preallocated buffer holding its tokens in
position order; a sliding layer's live range is the last `window` tokens, and moving it is an
offset change, not a copy. While the prompt is prefilled, sliding layers also keep up to
`slack` tokens before their window so that the prefix cache can later cut the state back to an
earlier position (GEMMA4.md: a sliding cache that moved past a position cannot be rewound).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codeassist.gemma4.shape import LayerShape


class LayerBuffer:
    """Keys and values of one layer: buffer slots [floor, end) hold positions [floor_pos, ...)."""

    def __init__(self, shape: LayerShape, device: torch.device, dtype: torch.dtype) -> None:
        self.shape = shape
        self.device = device
        self.dtype = dtype
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.floor = 0  # first slot still held
        self.start = 0  # first slot attention sees
        self.end = 0  # one past the last slot
        self.pos0 = 0  # position of slot 0
        self.hint = 0  # capacity to allocate at once (avoids regrowing a long global buffer)

    @property
    def start_pos(self) -> int:
        return self.pos0 + self.start

    @property
    def floor_pos(self) -> int:
        return self.pos0 + self.floor

    @property
    def end_pos(self) -> int:
        return self.pos0 + self.end

    def live_len(self) -> int:
        return self.end - self.start

    def held_len(self) -> int:
        return self.end - self.floor

    def _alloc(self, capacity: int) -> tuple[torch.Tensor, torch.Tensor]:
        size = (1, self.shape.num_kv_heads, capacity, self.shape.head_dim)
        return (
            torch.empty(size, device=self.device, dtype=self.dtype),
            torch.empty(size, device=self.device, dtype=self.dtype),
        )

    def reserve(self, count: int) -> None:
        """Room for count more tokens after end, compacting to the front or growing as needed."""
        capacity = 0 if self.keys is None else self.keys.shape[2]
        if self.end + count <= capacity:
            return
        held = self.held_len()
        if held + count <= capacity:
            new_capacity = capacity
        else:
            new_capacity = max(2 * capacity, held + count, self.hint, 64)
        if self.keys is None or new_capacity != capacity:
            keys, values = self._alloc(new_capacity)
        else:
            keys, values = self.keys, self.values
        if held:
            # clone first: source and destination may overlap in the same buffer
            keys[:, :, :held] = self.keys[:, :, self.floor : self.end].clone()
            values[:, :, :held] = self.values[:, :, self.floor : self.end].clone()
        self.keys, self.values = keys, values
        shift = self.floor
        self.pos0 += shift
        self.floor, self.start, self.end = 0, self.start - shift, self.end - shift

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store new keys/values; return all that attention must see (live range plus them)."""
        count = keys.shape[2]
        self.reserve(count)
        self.keys[:, :, self.end : self.end + count] = keys
        self.values[:, :, self.end : self.end + count] = values
        self.end += count
        return self.keys[:, :, self.start : self.end], self.values[:, :, self.start : self.end]

    def settle(self, slack: int) -> None:
        """After a forward pass: a sliding layer's live range back to its window (plus slack)."""
        window = self.shape.window
        if window is None:
            return
        self.start = max(self.start, self.end - window)
        self.floor = max(self.floor, self.start - slack)

    def nbytes(self) -> int:
        if self.keys is None:
            return 0
        return 2 * self.keys.numel() * self.keys.element_size()


@dataclass
class LayerSnapshot:
    """A copy of one layer's held K/V: positions [start_pos, start_pos + keys.shape[2])."""

    start_pos: int
    keys: torch.Tensor
    values: torch.Tensor

    def nbytes(self) -> int:
        return 2 * self.keys.numel() * self.keys.element_size()


class SequenceKV:
    """All layers' K/V of one sequence (the Cache that transformers' attention writes into)."""

    def __init__(
        self,
        shapes: list[LayerShape],
        owners: list[int],
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        # owners[i]: the layer whose K/V layer i uses; a KV-shared layer stores nothing.
        self.shapes = shapes
        self.owners = owners
        self.layers = {i: LayerBuffer(shapes[i], device, dtype) for i in set(owners)}
        self.length = 0  # tokens processed
        self.slack = 0

    # transformers' Cache protocol: the attention module calls this per layer.
    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        return self.layers[layer_idx].append(key_states, value_states)

    def expect(self, total: int, chunk: int) -> None:
        """Size buffers for a sequence of total tokens prefilled in chunks of chunk tokens."""
        for index, layer in self.layers.items():
            window = self.shapes[index].window
            layer.hint = total if window is None else min(total, window + self.slack + chunk)

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.length

    def key_positions(self, layer_type: str, new: int) -> torch.Tensor:
        """Positions of the keys attention will see for the next `new` tokens of a layer type."""
        for index, layer in self.layers.items():
            if self.shapes[index].layer_type == layer_type:
                return torch.arange(layer.start_pos, self.length + new)
        return torch.arange(0, self.length + new)

    def advance(self, count: int) -> None:
        """Close a forward pass of count tokens."""
        self.length += count
        for layer in self.layers.values():
            layer.settle(self.slack)

    def max_sliding_len(self) -> int:
        lens = [b.live_len() for i, b in self.layers.items() if self.shapes[i].window is not None]
        return max(lens, default=0)

    def max_sliding_held(self) -> int:
        lens = [b.held_len() for i, b in self.layers.items() if self.shapes[i].window is not None]
        return max(lens, default=0)

    def nbytes(self) -> int:
        return sum(layer.nbytes() for layer in self.layers.values())

    def snapshot(self) -> dict[int, LayerSnapshot]:
        """A copy of every layer's held K/V (full layers from 0, sliding layers their tail)."""
        snap = {}
        for index, layer in self.layers.items():
            snap[index] = LayerSnapshot(
                layer.floor_pos,
                layer.keys[:, :, layer.floor : layer.end].clone(),
                layer.values[:, :, layer.floor : layer.end].clone(),
            )
        return snap

    def restore(self, snap: dict[int, LayerSnapshot], upto: int) -> None:
        """Load a snapshot cut back to position upto (the caller checked that it covers it)."""
        for index, layer in self.layers.items():
            part = snap[index]
            begin = part.start_pos
            window = self.shapes[index].window
            if window is not None:
                begin = max(begin, upto - window - self.slack)
            lo, hi = begin - part.start_pos, upto - part.start_pos
            count = hi - lo
            layer.keys, layer.values = layer._alloc(max(count + 64, layer.hint))
            layer.keys[:, :, :count] = part.keys[:, :, lo:hi]
            layer.values[:, :, :count] = part.values[:, :, lo:hi]
            layer.pos0 = begin
            layer.floor, layer.start, layer.end = 0, 0, count
            layer.settle(self.slack)
        self.length = upto
