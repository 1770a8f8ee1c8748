"""While the model loads: /health reports progress and names the model; requests wait for it.

In-process (the daemon's app and scheduler over the real engine), with a load that the test
holds at a known point, so the loading state is seen every time, not by luck.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from codeassist.config import EngineSettings
from codeassist.daemon.app import Shutdown, create_app
from codeassist.daemon.keep_alive import IdleClock
from codeassist.daemon.scheduler import Scheduler


def test_loading_progress_and_the_model_name_before_it_is_loaded(tiny_checkpoint):
    from codeassist.engine import Engine

    release = threading.Event()

    def load(progress):
        progress(0.25, "reading the weights")
        assert release.wait(60)
        return Engine.load(str(tiny_checkpoint), EngineSettings(quantize="none", device="cpu"))

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
