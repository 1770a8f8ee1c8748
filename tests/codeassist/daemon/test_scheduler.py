"""The scheduler over the real engine on the tiny checkpoint (in-process, one engine thread),
and the daemon's app in front of it while the model loads."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from codeassist.daemon.answers import Shutdown
from codeassist.daemon.app import create_app
from codeassist.daemon.keep_alive import IdleClock
from codeassist.daemon.request import ChatPrompt, Job, Priority, TextPrompt, Update
from codeassist.daemon.scheduler import QueueFull, Scheduler
from codeassist.engine.sampling import SamplingParams

KEEP = 3_200  # K/V kept for a completion, as the daemon's default settings give
BATCH_PROMPT = [{"role": "user", "content": "Write a long story about a compiler."}]
QUICK_PROMPT = [{"role": "user", "content": "def add(a, b):"}]


class Collector:
    """A job's sink: records updates, and the global order in which jobs finish."""

    finished_order: list[str] = []

    def __init__(self, name: str) -> None:
        self.name = name
        self.updates: list[Update] = []
        self.done = threading.Event()
        self.first_text = threading.Event()
        self.finished_at = 0.0

    def __call__(self, update: Update) -> None:
        self.updates.append(update)
        if update.text:
            self.first_text.set()
        if update.finished:
            self.finished_at = time.monotonic()
            Collector.finished_order.append(self.name)
            self.done.set()

    @property
    def text(self) -> str:
        return "".join(u.text for u in self.updates)

    @property
    def last(self) -> Update:
        return self.updates[-1]


@pytest.fixture(scope="module")
def engine(tiny_checkpoint):
    """The tiny checkpoint loaded once for this module's schedulers (their engine threads
    use it one after the other)."""
    from codeassist.config import EngineSettings
    from codeassist.engine import Engine

    return Engine.load(str(tiny_checkpoint), EngineSettings(quantize="none", device="cpu"))


@pytest.fixture(scope="module")
def scheduler(engine):
    sched = Scheduler(lambda progress: engine, queue_size=3, max_running=8, keep_tokens=KEEP)
    sched.start()
    deadline = time.monotonic() + 60
    while sched.state != "ready" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sched.state == "ready"
    yield sched
    sched.shutdown()
    assert sched.state == "stopped"


def job(name: str, prompt, priority: Priority, max_tokens: int, timeout: float = 60.0):
    sink = Collector(name)
    sampling = SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=1)
    return Job(prompt, sampling, priority, sink, deadline=time.monotonic() + timeout), sink


def engine_stats(scheduler) -> dict:
    return scheduler.call(lambda engine: engine.stats()).result(10)


def test_interactive_overtakes_batch_which_then_completes_unchanged(scheduler):
    solo, solo_sink = job("solo", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 24)
    scheduler.submit(solo)
    assert solo_sink.done.wait(60)
    assert solo_sink.last.finish_reason == "length"  # a full-length run, so preemption can show

    Collector.finished_order.clear()
    batch, batch_sink = job("batch", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 24)
    scheduler.submit(batch)
    assert batch_sink.first_text.wait(60)
    before = engine_stats(scheduler)
    quick, quick_sink = job("interactive", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 4)
    scheduler.submit(quick)
    assert quick_sink.done.wait(60) and batch_sink.done.wait(60)
    after = engine_stats(scheduler)

    assert Collector.finished_order == ["interactive", "batch"]
    assert batch.yields > 0  # the batch sequence sat out steps while the interactive one ran
    assert batch_sink.text == solo_sink.text  # resumed exactly where it was
    assert batch_sink.last.usage.completion_tokens == 24
    # Resuming did not recompute the batch prompt: only the interactive prompt was prefilled.
    computed = after["computed_tokens"] - before["computed_tokens"]
    assert computed <= quick_sink.last.usage.prompt_tokens


def test_full_slots_of_batch_work_do_not_block_an_interactive_request(scheduler):
    scheduler.max_running = 2  # one slot for batch work, one kept for interactive requests
    try:
        Collector.finished_order.clear()
        batch, batch_sink = job("batch", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 24)
        waiting, waiting_sink = job("batch2", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 2)
        scheduler.submit(batch)
        assert batch_sink.first_text.wait(60)
        scheduler.submit(waiting)  # no slot for batch work: it waits
        quick, quick_sink = job("interactive", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 2)
        scheduler.submit(quick)  # takes the slot kept for it
        for sink in (batch_sink, waiting_sink, quick_sink):
            assert sink.done.wait(60)
        assert Collector.finished_order == ["interactive", "batch", "batch2"]
    finally:
        scheduler.max_running = 8


def test_cancel_stops_within_one_step(scheduler):
    running, sink = job("cancel", TextPrompt("<bos>hello"), Priority.NORMAL, 400)
    scheduler.submit(running)
    assert sink.first_text.wait(60)
    scheduler.cancel(running)
    at_cancel = engine_stats(scheduler)["generated_tokens"]
    assert sink.done.wait(10)
    assert sink.last.finish_reason == "cancelled"
    time.sleep(0.2)
    stats = engine_stats(scheduler)
    assert stats["generated_tokens"] - at_cancel <= 1
    assert stats["live_sequences"] == 0
    assert sink.last.usage.completion_tokens < 400


def test_bounded_queue_refuses_with_retry_after(scheduler):
    jobs = [job(f"fill{i}", TextPrompt("<bos>x"), Priority.BATCH, 500) for i in range(3)]
    for queued, _ in jobs:
        scheduler.submit(queued)
    extra, _ = job("extra", TextPrompt("<bos>x"), Priority.INTERACTIVE, 1)
    with pytest.raises(QueueFull) as refused:
        scheduler.submit(extra)
    assert 1 <= refused.value.retry_after <= 60
    for queued, _ in jobs:
        scheduler.cancel(queued)
    for _, sink in jobs:
        assert sink.done.wait(10)
        assert sink.last.finish_reason == "cancelled"


def test_time_limit_and_bad_prompt(scheduler):
    slow, slow_sink = job("slow", TextPrompt("<bos>x"), Priority.NORMAL, 5000, timeout=0.5)
    scheduler.submit(slow)
    assert slow_sink.done.wait(10)
    assert slow_sink.last.finish_reason == "timeout"
    assert slow_sink.last.status == 504 and "request_timeout_s" in slow_sink.last.error

    messages = [{"role": "user", "content": "a"}, {"role": "system", "content": "late"}]
    bad, bad_sink = job("bad", ChatPrompt(messages), Priority.NORMAL, 5)
    scheduler.submit(bad)
    assert bad_sink.done.wait(10)
    assert bad_sink.last.status == 400 and bad_sink.last.finish_reason == "error"


OTHER_PROMPT = [{"role": "user", "content": "class Stack:"}]


def solo_run(scheduler, name: str, prompt, priority: Priority, max_tokens: int) -> Collector:
    alone, sink = job(name, ChatPrompt(prompt), priority, max_tokens)
    scheduler.submit(alone)
    assert sink.done.wait(60)
    return sink


def test_interactive_requests_decode_together_with_their_solo_answers(scheduler):
    solo = {
        name: solo_run(scheduler, name, prompt, Priority.INTERACTIVE, 8)
        for name, prompt in (("a", QUICK_PROMPT), ("b", OTHER_PROMPT))
    }
    before = scheduler.snapshot()["batched_steps"]
    a, a_sink = job("a", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 8)
    b, b_sink = job("b", ChatPrompt(OTHER_PROMPT), Priority.INTERACTIVE, 8)
    scheduler.submit(a)
    scheduler.submit(b)
    assert a_sink.done.wait(60) and b_sink.done.wait(60)
    assert (a_sink.text, b_sink.text) == (solo["a"].text, solo["b"].text)
    together = min(a_sink.last.usage.completion_tokens, b_sink.last.usage.completion_tokens)
    # Two editors' completions advance in the same steps, not one after the other.
    assert scheduler.snapshot()["batched_steps"] - before >= together - 2 > 0
    assert a.yields == b.yields == 0


def test_batched_reviews_yield_to_a_completion_between_decode_steps(scheduler):
    solo = solo_run(scheduler, "solo", BATCH_PROMPT, Priority.BATCH, 24)
    Collector.finished_order.clear()
    before = scheduler.snapshot()["batched_steps"]
    reviews = [job(f"review{i}", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 24) for i in (1, 2)]
    for review, _ in reviews:
        scheduler.submit(review)
    for _, sink in reviews:
        assert sink.first_text.wait(60)
    quick, quick_sink = job("interactive", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 4)
    scheduler.submit(quick)
    assert quick_sink.done.wait(60)
    for _, sink in reviews:
        assert sink.done.wait(60)
    assert Collector.finished_order[0] == "interactive"
    for review, sink in reviews:
        assert review.yields > 0  # sat out the completion's steps
        assert sink.text == solo.text  # and resumed exactly where it was
    assert scheduler.snapshot()["batched_steps"] > before  # the two reviews ran batched


def test_a_huge_prompt_being_tokenized_never_holds_up_a_completion(scheduler):
    """Within the size bound but far over the context: tokenizing it takes seconds, on its own
    thread; a completion that arrives meanwhile is answered first, then the huge one is
    refused with its token count."""
    limits = scheduler.limits
    huge = "def add(a, b):\n    return a + b\n" * (limits.max_prompt_chars // 40)
    big, big_sink = job("huge", TextPrompt(huge), Priority.BATCH, 4)
    scheduler.submit(big)
    time.sleep(0.05)  # the tokenizer has started on it
    quick, quick_sink = job("quick", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 2)
    scheduler.submit(quick)
    assert quick_sink.done.wait(60) and big_sink.done.wait(120)
    assert quick_sink.last.finish_reason in ("stop", "length")
    assert quick_sink.finished_at < big_sink.finished_at
    assert (
        big_sink.last.status == 400 and "tokens but the model takes at most" in big_sink.last.error
    )


def test_requests_asking_for_the_whole_context_wait_for_room_instead_of_failing(scheduler):
    """Two clients ask for far more tokens than the context holds: each is capped to leave room
    for a completion, the second waits for K/V room, and a completion arriving meanwhile runs."""
    Collector.finished_order.clear()
    first, first_sink = job("first", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 10**9)
    second, second_sink = job("second", ChatPrompt(BATCH_PROMPT), Priority.BATCH, 10**9)
    scheduler.submit(first)
    assert first_sink.first_text.wait(60)
    scheduler.submit(second)
    quick, quick_sink = job("interactive", ChatPrompt(QUICK_PROMPT), Priority.INTERACTIVE, 4)
    scheduler.submit(quick)
    for sink in (quick_sink, first_sink, second_sink):
        assert sink.done.wait(120)
        assert sink.last.error is None, sink.last.error
    assert Collector.finished_order == ["interactive", "first", "second"]
    assert first.sampling.max_tokens < scheduler.engine.max_context
    assert second_sink.first_text.is_set() and second.first_token_at > first_sink.finished_at


def test_loading_progress_and_the_model_name_before_it_is_loaded(engine, tiny_checkpoint):
    """While the model loads, /health reports progress and names the model, and a request
    waits for it. The load is held at a known point, so the state is seen every time."""
    release = threading.Event()

    def load(progress):
        progress(0.25, "reading the weights")
        assert release.wait(60)
        return engine

    scheduler = Scheduler(load, queue_size=4, max_running=2)
    app = create_app(
        scheduler,
        clock=IdleClock(keep_alive_s=None, last_active=time.monotonic()),
        shutdown=Shutdown(),
        request_timeout_s=60,
        model_label=tiny_checkpoint.name,
        info=lambda: {},
    )

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://d", timeout=60) as http:
            health = (await http.get("/health")).json()
            assert (health["status"], health["state"]) == ("loading", "loading")
            assert health["progress"] == 0.25
            assert (
                health["message"]
                == f"loading model {tiny_checkpoint.name}: reading the weights (25%)"
            )
            assert health["model"] == tiny_checkpoint.name  # named before the engine exists
            assert health["unload_in_s"] is None  # loading is not idleness
            models = (await http.get("/v1/models")).json()
            assert [m["id"] for m in models["data"]] == [tiny_checkpoint.name]

            body = {"model": "", "prompt": "<bos>x = ", "max_tokens": 2, "temperature": 0}
            pending = asyncio.ensure_future(http.post("/v1/completions", json=body))
            await asyncio.sleep(0.5)
            assert not pending.done()  # it waits for the model, it is not refused
            release.set()
            answer = await pending
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == tiny_checkpoint.name
            ready = (await http.get("/health")).json()
            assert (ready["status"], ready["state"], ready["progress"]) == ("ok", "ready", None)
            assert ready["max_context"] > 0 and ready["max_prompt_chars"] > ready["max_context"]

    scheduler.start()
    try:
        asyncio.run(scenario())
    finally:
        release.set()
        scheduler.shutdown()
