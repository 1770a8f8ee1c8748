"""Engine memory: NF4 bytes / bf16 bytes on the tiny checkpoint, and the 26B-A4B plan at 24 GiB.

No arguments. Builds the tiny checkpoint in a temporary folder; the plan figures count every
byte at the worst moment (engine/plan.py, docs/model.md). Last line: one JSON object
(keys: quantized_ratio, ...). Target: quantized_ratio <= 0.30.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from codeassist.config import EngineSettings
from codeassist.engine import Engine
from codeassist.engine.plan import memory_plan
from codeassist.gemma4.tiny import make_tiny_checkpoint


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny_checkpoint(Path(tmp) / "tiny")
        nf4 = Engine.load(str(path), EngineSettings(quantize="nf4"))
        double = Engine.load(str(path), EngineSettings(quantize="nf4", double_quant=True))
        bf16 = Engine.load(str(path), EngineSettings(quantize="none"))
        stats, dq = nf4.stats(), double.stats()
        real = memory_plan("gemma-4-26b-a4b", 24 * 2**30, 262_144)
        real_dq = memory_plan("gemma-4-26b-a4b", 24 * 2**30, 262_144, double_quant=True)
        figures = {
            "quantized_ratio": round(stats["quantized_bytes"] / stats["quantized_bf16_bytes"], 4),
            "quantized_ratio_double_quant": round(
                dq["quantized_bytes"] / dq["quantized_bf16_bytes"], 4
            ),
            "tiny_weights_bytes_nf4": stats["weights_bytes"],
            "tiny_weights_bytes_bf16": bf16.stats()["weights_bytes"],
            "plan_26b_weights_bytes": real.weights_bytes,
            "plan_26b_weights_bytes_double_quant": real_dq.weights_bytes,
            "plan_26b_weights_bytes_bf16": real.weights_bytes_bf16,
            "plan_26b_kv_pool_bytes_at_262144": real.kv_pool_bytes,
            "plan_26b_ring_bytes": real.ring_bytes,
            "plan_26b_activation_bytes": real.activation_bytes_per_chunk,
            "plan_26b_graph_pool_bytes": real.graph_pool_bytes,
            "plan_26b_total_bytes_at_262144": real.total_bytes,
            "plan_26b_fits_262144_in_24gib": real.fits,
            "plan_26b_max_context_24gib": real.max_context,
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
