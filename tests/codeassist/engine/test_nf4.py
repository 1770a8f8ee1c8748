"""NF4 storage read back by table lookup: the very weights bitsandbytes dequantizes."""

from __future__ import annotations

import bitsandbytes.functional as bnbf
import pytest
import torch

from codeassist.engine.head import Int8Embedding, Int8Head, Int8Matrix, head_nbytes
from codeassist.engine.nf4 import NF4_CODE, NF4Stack
from codeassist.engine.nf4_linear import NF4Linear
from tests.helpers.nf4_experts import bnb_dequantize


def _stack(count: int, out: int, inp: int, double_quant: bool, seed: int = 0) -> NF4Stack:
    torch.manual_seed(seed)
    stack = NF4Stack(count, out, inp, double_quant, device="cpu")
    # double quantization needs more than one nested block of 256 scales to be exercised
    stack.load_float(torch.randn(count, out, inp) * 0.05, "cpu")
    return stack


def test_code_is_bitsandbytes_nf4():
    assert torch.equal(
        torch.tensor(NF4_CODE, dtype=torch.float32), bnbf.get_4bit_type("nf4", device="cpu")
    )


@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_dequantize_equals_bitsandbytes_exactly(double_quant, dtype):
    stack = _stack(3, 192, 128, double_quant)  # 384 blocks: two nested blocks of scales
    ids = torch.tensor([2, 0, 2, 1])
    got = stack.dequantize(ids, dtype)
    assert got.shape == (4, 192, 128) and got.dtype == dtype
    for row, e in enumerate(ids.tolist()):
        assert torch.equal(got[row], bnb_dequantize(stack, e, dtype))
    assert torch.equal(stack.dequantize(None, dtype)[1], bnb_dequantize(stack, 1, dtype))


def test_dequantize_reads_only_the_matrices_asked_for():
    stack = _stack(4, 64, 64, double_quant=False)
    want = stack.dequantize(torch.tensor([1, 3]))
    stack.absmax[0] = float("nan")
    stack.absmax[2] = float("nan")
    assert torch.equal(stack.dequantize(torch.tensor([1, 3])), want)


def test_prequantized_buffers_read_back_the_same():
    source = _stack(2, 64, 128, double_quant=True)
    loaded = NF4Stack(2, 64, 128, double_quant=True, device="cpu")
    for name, tensor in source.state_dict().items():
        setattr(loaded, name, tensor.clone())  # as the loader places checkpoint buffers
    assert "code" not in source.state_dict()  # shared, never written to a checkpoint
    assert torch.equal(loaded.dequantize(), source.dequantize())


@pytest.mark.parametrize("double_quant", [False, True])
def test_fused_linear_is_its_parts_side_by_side(double_quant):
    parts = []
    for seed, out in enumerate((256, 128, 128)):  # q, k, v
        layer = NF4Linear(128, out, double_quant, device="cpu")
        layer.weight4 = _stack(1, out, 128, double_quant, seed=seed)
        parts.append(layer)
    fused = NF4Linear.fuse(parts)
    assert fused.splits == (256, 128, 128)
    want = torch.cat([p.weight4.dequantize()[0] for p in parts])
    assert torch.equal(fused.weight4.dequantize()[0], want)  # bit-for-bit the same weights
    x = torch.randn(3, 128, dtype=torch.bfloat16)
    q, k, v = fused(x).split(fused.splits, -1)
    for got, part in zip((q, k, v), parts, strict=True):
        torch.testing.assert_close(got, part(x), rtol=0, atol=0)


def test_fusing_needs_the_same_input():
    with pytest.raises(ValueError, match="same input"):
        NF4Linear.fuse(
            [NF4Linear(128, 64, False, device="cpu"), NF4Linear(64, 64, False, device="cpu")]
        )


def test_int8_head_and_embedding_share_one_matrix():
    torch.manual_seed(0)
    weight = torch.randn(300, 128, dtype=torch.bfloat16)
    embedding = Int8Embedding(300, 128, embed_scale=128**0.5, dtype=torch.bfloat16, device="cpu")
    embedding.matrix.load_float(weight, "cpu")
    head = Int8Head(embedding.matrix)
    error = (embedding.matrix.dequantize(None, torch.float32) - weight.float()).abs()
    # symmetric int8 per 64 weights: at most half a step of absmax / 127
    step = weight.float().view(300, 2, 64).abs().amax(-1) / 127
    assert (error.view(300, 2, 64) <= step[..., None] / 2 + 1e-6).all()
    ids = torch.tensor([[5, 299, 0]])
    want_rows = weight[ids] * torch.tensor(128**0.5, dtype=torch.bfloat16)
    cos = torch.nn.functional.cosine_similarity(
        embedding(ids).float().flatten(), want_rows.float().flatten(), dim=0
    )
    assert cos > 0.9999
    hidden = torch.randn(2, 128, dtype=torch.bfloat16)
    logits = head(hidden)
    assert logits.dtype == torch.float32 and logits.shape == (2, 300)
    want = hidden.float() @ weight.float().T
    assert torch.nn.functional.cosine_similarity(logits, want, dim=-1).min() > 0.9999
    assert embedding.matrix.nbytes() == head_nbytes(300, 128) == 300 * 128 + 300 * 2 * 4


def test_int8_matrix_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="300x128"):
        Int8Matrix(300, 128, device="cpu").load_float(torch.zeros(128, 300), "cpu")


def test_int8_head_reads_the_vocabulary_in_slices(monkeypatch):
    from codeassist.engine import head as head_module

    matrix = Int8Matrix(300, 128, device="cpu")
    matrix.load_float(torch.randn(300, 128), "cpu")
    hidden = torch.randn(5, 128, dtype=torch.bfloat16)
    whole = Int8Head(matrix)(hidden)
    monkeypatch.setattr(head_module, "VOCAB_SLICE", 128)  # 3 slices, the last one partial
    assert torch.equal(Int8Head(matrix)(hidden), whole)
