"""Running out of memory, in any of the ways CUDA libraries report it, or out of K/V room.

The failing request is freed with a clear error; the prefix cache and every other request stay,
and the engine keeps serving. Errors are injected inside a real forward pass (after some
layers already wrote their K/V), which is where the allocator or cuBLAS would raise them.
"""

from __future__ import annotations

import pytest
import torch

from codeassist.engine import SamplingParams

GREEDY = SamplingParams(temperature=0, max_tokens=6)

FLAVOURS = [
    torch.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.6 GiB total)"
    ),
    RuntimeError("CUDA out of memory. Tried to allocate 512.00 MiB"),
    RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    RuntimeError("CUDA error: CUBLAS_STATUS_NOT_INITIALIZED when calling `cublasCreate(handle)`"),
    RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"),
    torch.AcceleratorError("CUDA error: out of memory"),
    RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8589934592"),
    MemoryError(),
]


def _prompt(n: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    return [2, *torch.randint(110, 1000, (n - 1,), generator=generator).tolist()]


class Fault:
    """Raises `error` from inside layer 3's attention output projection while armed."""

    def __init__(self, engine) -> None:
        self.error: BaseException | None = None
        module = engine.loaded.model.layers[3].self_attn.o_proj
        self.handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        if self.error is not None:
            error, self.error = self.error, None
            raise error


@pytest.fixture
def engine(make_engine):
    engine = make_engine(quantize="none", dtype="float32", prefill_chunk=64)
    yield engine
    engine.loaded.model.layers[3].self_attn.o_proj._forward_pre_hooks.clear()


def _run(engine, prompt, params=GREEDY) -> list[int]:
    return [o.token_id for o in engine.generate(prompt, params) if o.token_id is not None]


@pytest.mark.parametrize("error", FLAVOURS, ids=lambda e: type(e).__name__ + ":" + str(e)[:24])
def test_out_of_memory_in_prefill_frees_the_request_and_keeps_the_prefix_cache(engine, error):
    context = _prompt(200, seed=1)
    cold = _run(engine, context + [400, 401])
    assert engine.stats()["prefix_cache_entries"] == 1
    fault = Fault(engine)
    fault.error = error
    seq = engine.add_request(context + [402, 403] + _prompt(100, seed=2), GREEDY)
    out = engine.step(seq)  # resumes from the cache, then its first chunk fails mid-forward
    assert out.finished and out.finish_reason == "error" and out.token_id is None
    assert "out of host memory" in out.error and "fit in the memory free now" in out.error
    stats = engine.stats()
    assert seq.kv is None and stats["live_sequences"] == 0 and stats["errors"] == 1
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"] - stats["prefix_cache_shared_blocks"]
    assert stats["prefix_cache_entries"] == 1  # the cache is left for other requests...
    before = stats["reused_tokens"]
    assert _run(engine, context + [400, 401]) == cold
    assert engine.stats()["reused_tokens"] - before == len(context) + 1  # ...and still used


@pytest.mark.parametrize("error", FLAVOURS[:3] + FLAVOURS[-1:], ids=lambda e: type(e).__name__)
def test_out_of_memory_in_a_batched_decode_fails_that_batch_only(engine, error):
    a, b, c = (engine.add_request(_prompt(70, seed=s), GREEDY) for s in (3, 4, 5))
    engine.step_many([a, b, c])  # first chunks
    engine.step_many([a, b, c])  # rest of the prompts: each has its first token
    assert not any(s.in_prefill for s in (a, b, c))
    fault = Fault(engine)
    fault.error = error
    outs = engine.step_many([a, b])  # one batched decode: a and b fail together
    assert [o.finish_reason for o in outs] == ["error", "error"]
    assert a.kv is None and b.kv is None and c.kv is not None
    rest = []
    while not c.finished:
        rest += [o.token_id for o in engine.step_many([c]) if o.token_id is not None]
    engine.release(c)
    alone = _run(engine, _prompt(70, seed=5))
    assert c.generated == alone  # the survivor is untouched by its neighbours' failure
    stats = engine.stats()
    assert stats["live_sequences"] == 0
    assert stats["kv_blocks_free"] == stats["kv_blocks_total"] - stats["prefix_cache_shared_blocks"]


def test_other_errors_are_not_taken_for_out_of_memory(engine):
    fault = Fault(engine)
    fault.error = RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    seq = engine.add_request(_prompt(20, seed=6), GREEDY)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        engine.step(seq)
    engine.release(seq)


def test_a_request_the_kv_cache_cannot_hold_gets_a_clear_error(engine):
    limit = engine.max_context
    first = engine.add_request(_prompt(50, seed=7), SamplingParams(max_tokens=limit // 2))
    assert engine.step(first).error is None
    second = engine.add_request(_prompt(50, seed=8), SamplingParams(max_tokens=limit // 2 + 600))
    out = engine.step(second)
    assert out.finish_reason == "error" and "K/V cache is full" in out.error
    assert "1 other running request" in out.error and "lower max_tokens" in out.error
    assert second.kv is None and first.kv is not None
    engine.release(first)
    assert engine.step(engine.add_request(_prompt(50, seed=8), GREEDY)).error is None


def test_kv_room_for_the_scheduler(engine):
    """What the daemon asks before admitting a request: room now, room a request needs."""
    total = engine.kv_tokens_total
    assert total == engine.kv_tokens_free() >= engine.max_context
    need = engine.kv_tokens_needed(_prompt(50, seed=9), 1000)
    assert need == 1280  # 1,050 positions in blocks of 256
    seq = engine.add_request(_prompt(50, seed=9), SamplingParams(max_tokens=1000))
    engine.step(seq)
    assert engine.kv_tokens_free() == total - need
    engine.release(seq)  # its prompt's blocks stay with the prefix cache, evictable
    assert engine.kv_tokens_free() == total
    assert engine.kv_tokens_needed([1] * 10, 10**9) == total  # capped at the context


def test_decode_setting_is_checked(make_engine):
    from codeassist.errors import UserError

    with pytest.raises(UserError, match="engine.decode must be one of"):
        make_engine(decode="fast")
    with pytest.raises(UserError, match="needs a CUDA GPU"):
        make_engine(decode="graph")
