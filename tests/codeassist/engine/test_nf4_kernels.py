"""The Triton kernels against the pure-torch path and a float32 reference.

Without a GPU they run in Triton's interpreter on the CPU (TRITON_INTERPRET=1, set here before
the kernels are built; the setting is read when a kernel is decorated). Shapes are tiny: the
interpreter runs every program instance in numpy.
"""

from __future__ import annotations

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

tl = pytest.importorskip("triton.language", reason="Triton has wheels for Linux x86_64 only")
from torch.nn.functional import cosine_similarity  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402

from codeassist.engine.head import Int8Head, Int8Matrix  # noqa: E402
from codeassist.engine.kernels import nf4_gemv, nf4_grouped  # noqa: E402
from codeassist.engine.nf4_linear import NF4Linear  # noqa: E402
from tests.helpers.nf4_experts import make_block, routing  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(autouse=True)
def interpreter_ready():
    if DEVICE == "cpu" and not isinstance(tl.standard.zeros, InterpretedFunction):
        pytest.fail(
            "triton.language was imported before TRITON_INTERPRET=1 was set, so its kernels "
            "cannot run on the CPU: set it before bitsandbytes/transformers load (conftest.py)"
        )


def _on_device(block):
    for stack in (block.gate_up, block.down):
        for name, tensor in list(stack.state_dict().items()):
            setattr(stack, name, tensor.to(DEVICE))
        stack.prepare()
    return block


def _errors(got, torch_path, exact):
    """(kernel's max error, torch path's max error) against the float32 computation."""
    return (
        (got.float().cpu() - exact.cpu()).abs().max().item(),
        (torch_path.float().cpu() - exact.cpu()).abs().max().item(),
    )


@pytest.mark.parametrize("double_quant", [False, True])
@pytest.mark.parametrize("tokens", [1, 2])  # decode, and a batch of two
def test_decode_kernels_match_the_torch_path(double_quant, tokens):
    block = _on_device(make_block(double_quant))
    hidden, ids, weights = (t.to(DEVICE) for t in routing(tokens))
    got = nf4_gemv.experts_decode(block.gate_up, block.down, hidden, ids, weights)
    assert got.shape == hidden.shape and got.dtype == torch.bfloat16
    torch_path = block.gathered(hidden, ids, weights)
    exact = block.gathered(hidden.float(), ids, weights)  # same weights, float32 arithmetic
    kernel_error, torch_error = _errors(got, torch_path, exact)
    # float32 accumulation, one rounding at the end: no worse than the bf16 torch path
    assert kernel_error <= torch_error + 1e-6
    assert cosine_similarity(got.float().flatten(), exact.flatten(), dim=0) > 0.9999


def test_decode_kernels_in_float32_are_the_float32_computation():
    block = _on_device(make_block(double_quant=True))
    hidden, ids, weights = (t.to(DEVICE) for t in routing(2))
    got = nf4_gemv.experts_decode(block.gate_up, block.down, hidden.float(), ids, weights)
    torch.testing.assert_close(got, block.gathered(hidden.float(), ids, weights))


def test_wrong_expert_is_caught():
    """Each pair must read its own expert: shifting the ids changes the result far beyond noise."""
    block = _on_device(make_block())
    hidden, ids, weights = (t.to(DEVICE) for t in routing(2))
    exact = block.gathered(hidden.float(), ids, weights)
    shifted = nf4_gemv.experts_decode(block.gate_up, block.down, hidden, (ids + 1) % 8, weights)
    assert cosine_similarity(shifted.float().flatten(), exact.flatten(), dim=0) < 0.9


def test_decode_kernels_read_only_the_routed_experts():
    block = _on_device(make_block())
    hidden, ids, weights = (t.to(DEVICE) for t in routing(1))
    want = nf4_gemv.experts_decode(block.gate_up, block.down, hidden, ids, weights)
    for stack in (block.gate_up, block.down):
        for e in set(range(8)) - set(ids.flatten().tolist()):
            stack.absmax[e] = float("nan")  # any read of these would poison the output
    got = nf4_gemv.experts_decode(block.gate_up, block.down, hidden, ids, weights)
    assert torch.equal(got, want)


def test_sort_by_expert_groups_every_pair_once():
    ids = torch.tensor([[3, 1], [1, 0], [3, 2], [1, 3]], device=DEVICE)
    rows, block_expert = nf4_grouped.sort_by_expert(ids, num_experts=5, block_m=4)
    pairs = ids.numel()
    assert rows.shape == ((2 + 5) * 4,) and block_expert.shape == (7,)
    rows, block_expert = rows.cpu(), block_expert.cpu()
    assert sorted(r for r in rows.tolist() if r < pairs) == list(range(pairs))
    for b, expert in enumerate(block_expert.tolist()):
        members = [r for r in rows[b * 4 : (b + 1) * 4].tolist() if r < pairs]
        if expert == 5:
            assert not members  # past the last expert's run: nothing to do
        else:
            assert members and all(ids.flatten()[r] == expert for r in members)
    assert block_expert.tolist() == [0, 1, 2, 3, 5, 5, 5]


def test_grouped_kernels_match_the_torch_path():
    """Double-quantized scales here; plain ones go through the grouped kernels just below."""
    block = _on_device(make_block(double_quant=True))
    hidden, ids, weights = (t.to(DEVICE) for t in routing(12))
    got = nf4_grouped.experts_prefill(block.gate_up, block.down, hidden, ids, weights)
    torch_path = block.grouped(hidden, ids, weights)
    exact = block.gathered(hidden.float(), ids, weights)
    kernel_error, torch_error = _errors(got, torch_path, exact)
    assert kernel_error <= torch_error + 1e-6
    shifted = nf4_grouped.experts_prefill(block.gate_up, block.down, hidden, (ids + 3) % 8, weights)
    assert cosine_similarity(shifted.float().flatten().cpu(), exact.flatten().cpu(), dim=0) < 0.9


def test_experts_module_dispatches_to_the_kernels():
    block = _on_device(make_block())
    block.backend = "triton"
    for tokens in (1, 12):  # 2 pairs: decode kernels; 24 pairs >= 8 experts: grouped kernels
        hidden, ids, weights = (t.to(DEVICE) for t in routing(tokens))
        exact = block.gathered(hidden.float(), ids, weights)
        got = block(hidden, ids, weights)
        assert cosine_similarity(got.float().flatten(), exact.flatten(), dim=0) > 0.9999


@pytest.mark.parametrize("rows", [1, 3, 16])  # one token, a small batch, GEMV_ROWS
def test_dense_kernels_read_each_weight_once_for_all_rows(rows):
    torch.manual_seed(0)
    linear = NF4Linear(128, 192, double_quant=True, device="cpu")
    linear.weight4.load_float(torch.randn(192, 128) * 0.05, "cpu")
    for name, tensor in list(linear.weight4.state_dict().items()):
        setattr(linear.weight4, name, tensor.to(DEVICE))
    linear.weight4.prepare()
    x = torch.randn(1, rows, 128, device=DEVICE).to(torch.bfloat16)
    exact = torch.nn.functional.linear(x.float(), linear.weight4.dequantize(None, torch.float32)[0])
    linear.backend = "triton"
    got = linear(x)
    assert got.shape == (1, rows, 192)
    linear.backend = "torch"
    kernel_error, torch_error = _errors(got, linear(x), exact)
    assert kernel_error <= torch_error + 1e-6

    matrix = Int8Matrix(300, 128, device=DEVICE)
    matrix.load_float(torch.randn(300, 128), DEVICE)
    head = Int8Head(matrix)
    hidden = torch.randn(rows, 128, device=DEVICE).to(torch.bfloat16)
    head.backend = "triton"
    got = head(hidden)
    exact = hidden.float() @ matrix.dequantize(None, torch.float32).T
    head.backend = "torch"
    kernel_error, torch_error = _errors(got, head(hidden), exact)
    assert got.dtype == torch.float32 and kernel_error <= torch_error + 1e-6


@pytest.mark.skipif(DEVICE != "cpu", reason="on CUDA the engine runs these kernels by default")
def test_tiny_model_through_the_kernels(make_engine):
    """The engine's own forward with every 4-bit layer on its Triton kernels vs pure torch.

    A 1-token prompt: the decode kernels (experts, fused NF4 linears, int8 head) at every layer.
    """
    from codeassist.engine.quant import quantized_modules

    engine = make_engine(prefill_chunk=16)
    layers = [m for m in engine.loaded.model.modules() if hasattr(m, "backend")]
    layers.append(engine.loaded.head)
    assert len(quantized_modules(engine.loaded.model)) > 0
    prompt = [300]
    want = engine.prompt_logits(prompt)
    for layer in layers:
        layer.backend = "triton"
    try:
        got = engine.prompt_logits(prompt)
    finally:
        for layer in layers:
            layer.backend = "auto"
    assert cosine_similarity(got, want, dim=-1).min() > 0.999
