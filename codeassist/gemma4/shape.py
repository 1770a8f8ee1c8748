"""The one accessor for Gemma 4's config layout: per-layer head dims, KV heads, window, layer type.

Configs come in two layouts: older ones carry `global_head_dim` / `num_global_key_value_heads`
for the full-attention layers, newer ones a `per_layer_config` of overrides (keyed by layer
index or by layer type). Everything else reads layer shapes through `text_config` and
`layer_shapes` here, never through scattered attribute reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SLIDING = "sliding_attention"
FULL = "full_attention"


@dataclass(frozen=True)
class LayerShape:
    index: int
    layer_type: str  # SLIDING or FULL
    head_dim: int
    num_kv_heads: int
    window: int | None  # tokens a sliding layer attends to; None for full attention
    k_eq_v: bool  # values are the (unrotated) keys: no v_proj

    @property
    def sliding(self) -> bool:
        return self.layer_type == SLIDING


def text_config(config: Mapping[str, Any] | Any) -> dict[str, Any]:
    """The text part of a Gemma 4 config (a config.json dict or a transformers config) as a dict."""
    if not isinstance(config, Mapping):
        config = config.to_dict()
    config = dict(config)
    if config.get("model_type") == "gemma4" or "text_config" in config:
        inner = config.get("text_config") or {}
        config = dict(inner)
    return config


def _default_layer_types(count: int) -> list[str]:
    return [SLIDING if (i + 1) % 6 else FULL for i in range(count)]


def layer_types(config: Mapping[str, Any] | Any) -> list[str]:
    cfg = text_config(config)
    types = list(cfg.get("layer_types") or _default_layer_types(cfg["num_hidden_layers"]))
    types[-1] = FULL  # transformers forces the last layer global
    return types


def layer_shapes(config: Mapping[str, Any] | Any) -> list[LayerShape]:
    """The attention shape of every layer, whichever layout the config uses."""
    cfg = text_config(config)
    types = layer_types(cfg)
    head_dim = int(cfg.get("head_dim", 256))
    kv_heads = int(cfg.get("num_key_value_heads", 4))
    k_eq_v = bool(cfg.get("attention_k_eq_v", False))
    per_layer = cfg.get("per_layer_config")
    overrides: dict[int, dict[str, Any]] = {i: {} for i in range(len(types))}
    if per_layer:
        for key, body in dict(per_layer).items():
            body = dict(body or {})
            if str(key).isdigit():
                overrides[int(key)].update(body)
            else:
                for i, kind in enumerate(types):
                    if kind == key:
                        overrides[i].update(body)
    else:
        global_dim = int(cfg.get("global_head_dim", 512))
        global_kv = cfg.get("num_global_key_value_heads")
        for i, kind in enumerate(types):
            if kind == FULL:
                overrides[i]["head_dim"] = global_dim
                if global_kv is not None and k_eq_v:
                    overrides[i]["num_key_value_heads"] = int(global_kv)
    window = int(cfg.get("sliding_window", 512))
    shapes = []
    for i, kind in enumerate(types):
        o = overrides[i]
        shapes.append(
            LayerShape(
                index=i,
                layer_type=kind,
                head_dim=int(o.get("head_dim", head_dim)),
                num_kv_heads=int(o.get("num_key_value_heads", kv_heads)),
                window=window if kind == SLIDING else None,
                k_eq_v=k_eq_v and kind == FULL,
            )
        )
    return shapes


def sliding_window(config: Mapping[str, Any] | Any) -> int:
    return int(text_config(config).get("sliding_window", 512))


def kv_shared_layers(config: Mapping[str, Any] | Any) -> int:
    """How many trailing layers reuse earlier layers' K/V (E2B/E4B) and so store none."""
    return int(text_config(config).get("num_kv_shared_layers", 0) or 0)
