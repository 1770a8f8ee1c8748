"""A request's answer while the daemon stops: the engine's own last word when it comes within
the grace period, else an end of our own at the grace period's end (never a hang until uvicorn
cuts the connection, 5 s into its shutdown)."""

from __future__ import annotations

import asyncio
import threading
import time

from codeassist.daemon import answers
from codeassist.daemon.request import Update

GRACE = 0.3


def _collect(feed=None, stop_after: float = 0.0) -> tuple[list[Update], float]:
    """Run one request's updates: the daemon starts stopping after stop_after seconds, and
    feed(channel) (from a thread, as the engine) may answer."""

    async def main() -> tuple[list[Update], float]:
        channel, shutdown = answers.Channel(), answers.Shutdown()
        loop = asyncio.get_running_loop()
        loop.call_later(stop_after, shutdown.begin, "test")
        if feed is not None:
            threading.Thread(target=feed, args=(channel,), daemon=True).start()
        start = time.monotonic()
        got = [u async for u in channel.updates(shutdown)]
        return got, time.monotonic() - start

    return asyncio.run(asyncio.wait_for(main(), 5))


def test_a_silent_engine_gets_an_end_of_ours_after_the_grace(monkeypatch):
    monkeypatch.setattr(answers, "STOP_GRACE_S", GRACE)
    for stop_after in (0.0, 0.2):  # stopping before the request waits, or while it waits
        got, took = _collect(stop_after=stop_after)
        assert [(u.finished, u.finish_reason, u.status) for u in got] == [(True, "cancelled", 503)]
        assert "the daemon stopped (test)" in got[0].error
        assert stop_after + GRACE * 0.9 <= took < stop_after + GRACE + 1.0


def test_a_talking_engine_does_not_extend_the_grace(monkeypatch):
    monkeypatch.setattr(answers, "STOP_GRACE_S", GRACE)

    def tokens_forever(channel):
        for _ in range(400):
            channel.put(Update(text="x"))
            time.sleep(0.01)

    got, took = _collect(tokens_forever, stop_after=0.1)
    assert got[-1].finish_reason == "cancelled" and got[-1].status == 503
    assert any(u.text == "x" for u in got[:-1])
    assert took < 0.1 + GRACE + 1.0


def test_the_engines_own_last_word_within_the_grace_is_the_answer(monkeypatch):
    monkeypatch.setattr(answers, "STOP_GRACE_S", 2.0)

    def cancel_soon(channel):
        time.sleep(0.2)
        channel.put(Update(text="partial"))
        channel.put(Update(finished=True, finish_reason="cancelled"))

    got, took = _collect(cancel_soon, stop_after=0.05)
    assert [(u.text, u.finished, u.status) for u in got] == [
        ("partial", False, 200),
        ("", True, 200),
    ]
    assert took < 1.5
