"""Engines on the tiny checkpoint, loaded once per session (loading takes well under a second)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from codeassist.config import EngineSettings
from codeassist.engine import Engine


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model runs fastest on one thread; with 2 shared cores, 2 threads spin and wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def nf4_engine(tiny_checkpoint):
    """The default engine: NF4 weights, bf16 compute, chunks of 64 tokens."""
    return Engine.load(str(tiny_checkpoint), EngineSettings(prefill_chunk=64))


@pytest.fixture(scope="session")
def exact_engine(tiny_checkpoint):
    """float32 compute, no quantization: differences in logits are bugs, not rounding."""
    return Engine.load(
        str(tiny_checkpoint), EngineSettings(quantize="none", dtype="float32", prefill_chunk=48)
    )


@pytest.fixture(scope="session")
def make_engine(tiny_checkpoint):
    def make(**settings) -> Engine:
        return Engine.load(str(tiny_checkpoint), EngineSettings(**settings))

    return make


@pytest.fixture(scope="module")
def two_layers(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint cut to its layers 0 (sliding) and 2 (full attention): both kinds of
    layer, MoE and all, at a third of the tracing time."""
    out = tmp_path_factory.mktemp("two-layers")
    for file in tiny_checkpoint.iterdir():
        if file.suffix != ".safetensors":
            shutil.copy(file, out / file.name)
    config = json.loads((out / "config.json").read_text())
    config["num_hidden_layers"] = 2
    config["layer_types"] = ["sliding_attention", "full_attention"]
    if "per_layer_config" in config:  # keyed by layer index: layer 2 is now layer 1
        config["per_layer_config"] = {"1": config["per_layer_config"]["2"]}
    (out / "config.json").write_text(json.dumps(config))
    keep = {"layers.0.": "layers.0.", "layers.2.": "layers.1."}
    tensors = {}
    for name, tensor in load_file(tiny_checkpoint / "model.safetensors").items():
        if ".layers." not in name:
            tensors[name] = tensor
        for old, new in keep.items():
            if f".{old}" in name:
                tensors[name.replace(old, new)] = tensor
    save_file(tensors, out / "model.safetensors")
    return out
