"""Who runs next: strict priority across classes, first come first served within one.

All engine calls happen on the one worker thread this class owns. Each loop iteration runs ONE
`engine.step` (a prefill chunk or a decode token) of the most urgent sequence, so a batch
generation yields to a newly arrived interactive request between two steps and resumes later
from its own KV cache, without recomputing its prompt.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from codeassist.daemon.request import ChatPrompt, Job, Priority, Update, Usage
from codeassist.errors import UserError

log = logging.getLogger("codeassist.daemon")


class EngineLike(Protocol):
    model_name: str
    device: str

    def encode_chat(self, messages: list[dict], *, enable_thinking: bool) -> list[int]: ...
    def encode(self, text: str) -> list[int]: ...
    def add_request(self, prompt_ids: list[int], params: Any) -> Any: ...
    def step(self, seq: Any) -> Any: ...
    def release(self, seq: Any) -> None: ...
    def stats(self) -> dict: ...


class QueueFull(Exception):
    """The bounded queue is full; retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full, retry after {retry_after} s")
        self.retry_after = retry_after


class NotAccepting(Exception):
    """The daemon is shutting down or its model failed to load."""


class Scheduler:
    def __init__(
        self,
        load_engine: Callable[[], EngineLike],
        make_params: Callable[..., Any],
        *,
        queue_size: int = 64,
        max_running: int = 8,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._load_engine = load_engine
        self._make_params = make_params
        self.queue_size = queue_size
        self.max_running = max_running
        self._on_fatal = on_fatal
        self._cond = threading.Condition()
        self._waiting: dict[Priority, collections.deque[Job]] = {
            p: collections.deque() for p in Priority
        }
        self._running: list[Job] = []  # touched by the worker thread only
        self._running_count = 0  # mirror of len(_running) readable under _cond
        self._calls: collections.deque[tuple[Callable, concurrent.futures.Future]] = (
            collections.deque()
        )
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.engine: EngineLike | None = None
        self.state = "loading"  # loading | ready | failed | stopped
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._recent_seconds = 1.0  # moving average of request durations, for Retry-After
        self.completed = 0
        self.cancelled = 0

    # ---- called from any thread -------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="engine", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Queue a job; raises QueueFull when the bound is reached, never blocks."""
        with self._cond:
            if self._stopping or self.state in ("failed", "stopped"):
                raise NotAccepting(self.load_error or "the daemon is shutting down")
            depth = sum(len(q) for q in self._waiting.values()) + self._running_count
            if depth >= self.queue_size:
                waiting_ahead = depth - self.max_running + 1
                raise QueueFull(self._retry_after(waiting_ahead))
            self._waiting[job.priority].append(job)
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        """Stop a job within one engine step (or drop it from the queue)."""
        job.cancelled.set()
        with self._cond:
            self._cond.notify()

    def call(self, fn: Callable[[EngineLike], Any]) -> concurrent.futures.Future:
        """Run fn(engine) on the engine thread between two steps."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self.state != "ready" and self.state != "loading":
                future.set_exception(NotAccepting(self.state))
                return future
            self._calls.append((fn, future))
            self._cond.notify()
        return future

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            waiting = {p.name.lower(): len(q) for p, q in self._waiting.items()}
            return {
                "waiting": sum(waiting.values()),
                "waiting_by_priority": waiting,
                "running": self._running_count,
                "limit": self.queue_size,
                "max_running": self.max_running,
                "completed": self.completed,
                "cancelled": self.cancelled,
            }

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything queued or running and stop the engine thread (waits up to timeout)."""
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def stop(self) -> None:
        """Cancel everything queued or running; does not wait (safe in a signal handler)."""
        with self._cond:
            self._stopping = True
            for queue in self._waiting.values():
                for job in queue:
                    job.cancelled.set()
            self._cond.notify()

    def _retry_after(self, ahead: int) -> int:
        return max(1, min(60, math.ceil(self._recent_seconds * max(1, ahead) / 2)))

    # ---- the engine thread --------------------------------------------------------------
    def _main(self) -> None:
        started = time.monotonic()
        try:
            self.engine = self._load_engine()
        except BaseException as error:  # report, and let the server exit
            log.exception("model failed to load")
            with self._cond:
                self.state = "failed"
                self.load_error = f"{error.__class__.__name__}: {error}"
            self._fail_all_waiting("model failed to load: " + self.load_error)
            if self._on_fatal:
                self._on_fatal(error)
            return
        self.load_seconds = time.monotonic() - started
        with self._cond:
            if self.state == "loading":
                self.state = "ready"
        log.info(
            "model %s ready on %s in %.1f s",
            self.engine.model_name,
            self.engine.device,
            self.load_seconds,
        )
        try:
            self._loop()
        except BaseException as error:
            log.exception("engine thread crashed")
            with self._cond:
                self.state = "failed"
                self.load_error = f"engine thread crashed: {error}"
            if self._on_fatal:
                self._on_fatal(error)
        finally:
            for job in list(self._running):
                self._finish(job, Update(finished=True, finish_reason="cancelled"))
            self._fail_all_waiting("the daemon is shutting down", reason="cancelled")
            with self._cond:
                if self.state == "ready":
                    self.state = "stopped"

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._calls or self._running or self._has_waiting()):
                    self._cond.wait()
                if self._stopping:
                    return
                calls = list(self._calls)
                self._calls.clear()
                admitted = self._take_admissible()
            for fn, future in calls:
                self._run_call(fn, future)
            for job in admitted:
                self._admit(job)
            self._drop_finished_or_expired()
            job = min(self._running, key=lambda j: j.order, default=None)
            if job is not None:
                self._step(job)

    def _has_waiting(self) -> bool:
        return any(self._waiting.values())

    def _take_admissible(self) -> list[Job]:
        """Waiting jobs to admit now, most urgent first, up to max_running sequences.

        Beyond the limit, a job is still admitted when nothing running is as urgent as it:
        otherwise eight reviews holding every slot would keep a completion waiting for minutes.
        """
        taken: list[Job] = []
        live: list[Job] = list(self._running)
        now = time.monotonic()
        for priority in Priority:
            queue = self._waiting[priority]
            for job in list(queue):
                if job.cancelled.is_set() or now > job.deadline:
                    queue.remove(job)
                    taken.append(job)  # _admit reports it
                elif len(live) < self.max_running or all(j.priority > priority for j in live):
                    queue.remove(job)
                    taken.append(job)
                    live.append(job)
        self._running_count = len(live)
        return taken

    def _run_call(self, fn: Callable, future: concurrent.futures.Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(self.engine))
        except BaseException as error:
            future.set_exception(error)

    def _admit(self, job: Job) -> None:
        if job.cancelled.is_set():
            self._finish(job, Update(finished=True, finish_reason="cancelled"))
            return
        if time.monotonic() > job.deadline:
            self._finish(job, self._timeout_update(job))
            return
        engine = self.engine
        try:
            if isinstance(job.prompt, ChatPrompt):
                ids = engine.encode_chat(
                    job.prompt.messages, enable_thinking=job.prompt.enable_thinking
                )
            else:
                ids = engine.encode(job.prompt.text)
        except (ValueError, KeyError, TypeError) as error:
            self._finish(
                job, Update(finished=True, finish_reason="error", error=str(error), status=400)
            )
            return
        job.usage.prompt_tokens = len(ids)
        params = self._make_params(
            temperature=job.sampling.temperature,
            top_p=job.sampling.top_p,
            top_k=job.sampling.top_k,
            max_tokens=job.sampling.max_tokens,
            stop=list(job.sampling.stop),
            seed=job.sampling.seed,
        )
        try:
            job.seq = engine.add_request(ids, params)
        except (ValueError, UserError) as error:  # e.g. the prompt does not fit the context
            self._finish(
                job, Update(finished=True, finish_reason="error", error=str(error), status=400)
            )
            return
        self._running.append(job)

    def _drop_finished_or_expired(self) -> None:
        now = time.monotonic()
        for job in list(self._running):
            if job.cancelled.is_set():
                self._finish(job, Update(finished=True, finish_reason="cancelled"))
            elif now > job.deadline:
                self._finish(job, self._timeout_update(job))

    def _timeout_update(self, job: Job) -> Update:
        limit = job.deadline - job.created
        return Update(
            finished=True,
            finish_reason="timeout",
            error=(
                f"request exceeded the daemon's time limit of {limit:.0f} s "
                "(raise [daemon] request_timeout_s, or ask for fewer tokens)"
            ),
            status=504,
        )

    def _step(self, job: Job) -> None:
        for other in self._running:
            if other.priority > job.priority:
                other.yields += 1  # a lower-priority sequence waits out this step
        try:
            out = self.engine.step(job.seq)
        except Exception as error:
            log.exception("engine step failed for request %s", job.id)
            self._finish(
                job, Update(finished=True, finish_reason="error", error=str(error), status=500)
            )
            return
        if out.token_id is not None:
            job.usage.completion_tokens += 1
            if job.first_token_at is None:
                job.first_token_at = time.monotonic()
        if out.finished:
            error = getattr(out, "error", None)
            if out.finish_reason == "error":
                error = error or "the engine failed this request"
            self._finish(
                job,
                Update(
                    text=out.text,
                    finished=True,
                    finish_reason=out.finish_reason,
                    error=error,
                    status=500 if error else 200,
                ),
            )
        elif out.text:
            job.sink(Update(text=out.text))

    def _finish(self, job: Job, update: Update) -> None:
        if job.seq is not None:
            job.usage.reused_tokens = int(getattr(job.seq, "reused", 0) or 0)
            try:
                self.engine.release(job.seq)
            except Exception:
                log.exception("engine release failed for request %s", job.id)
            job.seq = None
        if job in self._running:
            self._running.remove(job)
        with self._cond:
            self._running_count = len(self._running)
        update.usage = update.usage or Usage(**vars(job.usage))
        seconds = time.monotonic() - job.created
        self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * seconds
        if update.finish_reason == "cancelled":
            self.cancelled += 1
        else:
            self.completed += 1
        log.info(
            "request %s %s: %s, %d prompt + %d generated tokens (%d reused), %.3f s, yielded %d",
            job.id,
            job.priority.name.lower(),
            update.finish_reason,
            job.usage.prompt_tokens,
            job.usage.completion_tokens,
            job.usage.reused_tokens,
            seconds,
            job.yields,
        )
        job.sink(update)

    def _fail_all_waiting(self, message: str, reason: str = "error") -> None:
        with self._cond:
            jobs = [job for q in self._waiting.values() for job in q]
            for q in self._waiting.values():
                q.clear()
            calls = list(self._calls)
            self._calls.clear()
        for job in jobs:
            status = 503
            job.sink(Update(finished=True, finish_reason=reason, error=message, status=status))
        for _, future in calls:
            if future.set_running_or_notify_cancel():
                future.set_exception(NotAccepting(message))


def _failed(message: str, status: int) -> Update:
    return Update(finished=True, finish_reason="error", error=message, status=status)
