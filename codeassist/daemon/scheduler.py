"""Runs requests on the one engine: tokenizing, admission and batched steps.

Three threads. Two tokenizer threads turn submitted requests into token ids, most urgent
first: one for prompts of up to LARGE_PROMPT_CHARS characters, one for larger ones, so a
review's huge prompt never holds up a completion, the engine, the HTTP event loop or /health
(the tokenizer releases the GIL while it works). The engine thread owns every engine call:
before each step it asks `policy` which waiting requests to admit and which running ones to
advance, then runs that ONE step (a prefill chunk, or a decode token for each sequence of the
batch). Deciding again before every step is what makes a batch review yield to an interactive
completion between two decode steps.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from codeassist.daemon import policy
from codeassist.daemon.limits import PromptLimits, capped_max_tokens, prompt_limits
from codeassist.daemon.request import ChatPrompt, Job, Priority, Update, Usage
from codeassist.errors import UserError

log = logging.getLogger("codeassist.daemon")

Progress = Callable[[float, str], None]

# Tokenizing this many characters takes milliseconds; larger prompts go to their own thread.
LARGE_PROMPT_CHARS = 32_768
LANES = ("small", "large")


def lane_of(job: Job) -> str:
    return "large" if job.prompt.chars > LARGE_PROMPT_CHARS else "small"


class EngineLike(Protocol):
    model_name: str
    device: str
    max_context: int
    tokenizer: Any

    def encode_chat(self, messages: list[dict], *, enable_thinking: bool) -> list[int]: ...
    def encode(self, text: str) -> list[int]: ...
    def add_request(self, prompt_ids: list[int], params: Any) -> Any: ...
    def step(self, seq: Any) -> Any: ...
    def release(self, seq: Any) -> None: ...
    def stats(self) -> dict: ...
    def kv_tokens_free(self) -> int: ...
    def kv_tokens_needed(self, prompt_ids: list[int], max_tokens: int) -> int: ...

    @property
    def kv_tokens_total(self) -> int: ...


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
        load_engine: Callable[[Progress], EngineLike],
        *,
        queue_size: int = 64,
        max_running: int = 8,
        max_batch: int | None = None,
        keep_tokens: int = 0,
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        """keep_tokens: K/V kept free for a completion while other work runs (a completion's
        context budget plus its max_tokens)."""
        self._load_engine = load_engine
        self.queue_size = queue_size
        self.max_running = max_running
        self._max_batch = max_batch  # None: max_running when the engine batches, else 1
        self.keep_tokens = keep_tokens
        self._on_fatal = on_fatal
        self._cond = threading.Condition()
        self._pending: list[Job] = []  # submitted, not tokenized yet
        self._tokenizing: dict[str, Job] = {}  # lane -> the job its thread is tokenizing
        self._waiting: list[Job] = []  # tokenized, waiting for a sequence slot
        self._running: list[Job] = []  # holding a sequence; touched by the engine thread only
        self._running_count = 0  # mirror of len(_running) readable under _cond
        self._calls: list[tuple[Callable, concurrent.futures.Future]] = []
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self.engine: EngineLike | None = None
        self.limits: PromptLimits | None = None
        self.state = "loading"  # loading | ready | failed | stopped
        self.progress: tuple[float, str] = (0.0, "starting")
        self.load_error: str | None = None
        self.load_seconds: float | None = None
        self._recent_seconds = 1.0  # moving average of request durations, for Retry-After
        self.completed = 0
        self.cancelled = 0
        self.batched_steps = 0  # steps that advanced more than one sequence

    # ---- called from any thread -------------------------------------------------------
    def start(self) -> None:
        self._threads = [threading.Thread(target=self._engine_main, name="engine", daemon=True)]
        for lane in LANES:
            self._threads.append(
                threading.Thread(
                    target=self._tokenize_main, args=(lane,), name=f"tokenize-{lane}", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        """Queue a job; raises QueueFull when the bound is reached, never blocks."""
        with self._cond:
            if self._stopping or self.state in ("failed", "stopped"):
                raise NotAccepting(self.load_error or "the daemon is shutting down")
            depth = self._depth()
            if depth >= self.queue_size:
                raise QueueFull(self._retry_after(depth - self.capacity + 1))
            self._pending.append(job)
            self._cond.notify_all()

    def cancel(self, job: Job) -> None:
        """Stop a job within one engine step (or drop it from the queue)."""
        job.cancelled.set()
        with self._cond:
            self._cond.notify_all()

    def call(self, fn: Callable[[EngineLike], Any]) -> concurrent.futures.Future:
        """Run fn(engine) on the engine thread between two steps."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            if self.state not in ("ready", "loading") or self._stopping:
                future.set_exception(NotAccepting(self.state))
                return future
            self._calls.append((fn, future))
            self._cond.notify_all()
        return future

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            queued = [*self._pending, *self._tokenizing.values(), *self._waiting]
            by_priority = {name: 0 for name in ("interactive", "normal", "batch")}
            for job in queued:
                by_priority[job.priority.name.lower()] += 1
            return {
                "waiting": len(queued),
                "waiting_by_priority": by_priority,
                "running": self._running_count,
                "limit": self.queue_size,
                "max_running": self.capacity,
                "max_batch": self.max_batch,
                "batched_steps": self.batched_steps,
                "completed": self.completed,
                "cancelled": self.cancelled,
            }

    @property
    def capacity(self) -> int:
        """Sequences that may run at once: [daemon] max_running, and no more than the
        engine has K/V rows for."""
        rows = getattr(self.engine, "max_sequences", None)
        return max(1, min(self.max_running, rows) if isinstance(rows, int) else self.max_running)

    @property
    def max_batch(self) -> int:
        if self._max_batch is not None:
            return max(1, self._max_batch)
        batches = self.engine is not None and hasattr(self.engine, "step_many")
        return self.capacity if batches else 1

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything queued or running and stop the threads (waits up to timeout)."""
        self.stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        """Cancel everything queued or running; does not wait."""
        with self._cond:
            self._stopping = True
            for job in [*self._pending, *self._waiting]:
                job.cancelled.set()
            self._cond.notify_all()

    def _depth(self) -> int:
        queued = len(self._pending) + len(self._tokenizing) + len(self._waiting)
        return queued + self._running_count

    def _retry_after(self, ahead: int) -> int:
        return max(1, min(60, math.ceil(self._recent_seconds * max(1, ahead) / 2)))

    # ---- the tokenizer threads (one per lane) ------------------------------------------
    def _tokenize_main(self, lane: str) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if self.state == "failed":
                        return
                    mine = [j for j in self._pending if lane_of(j) == lane]
                    if self.state == "ready" and mine:
                        break
                    self._cond.wait()
                if self._stopping:
                    return
                job = min(mine, key=lambda j: j.order)
                self._pending.remove(job)
                self._tokenizing[lane] = job
            ended = self._tokenize(job)
            with self._cond:
                del self._tokenizing[lane]
                if ended is None and self._stopping:
                    ended = Update(
                        finished=True,
                        finish_reason="cancelled",
                        error="the daemon is shutting down",
                        status=503,
                    )
                if ended is None:
                    self._waiting.append(job)
                self._cond.notify_all()
            if ended is not None:
                self._report(job, ended)

    def _tokenize(self, job: Job) -> Update | None:
        """Fill job.prompt_ids; an Update when the job ends here instead."""
        if job.cancelled.is_set():
            return Update(finished=True, finish_reason="cancelled")
        if time.monotonic() > job.deadline:
            return self._timeout_update(job)
        engine = self.engine
        assert engine is not None
        try:
            if isinstance(job.prompt, ChatPrompt):
                ids = engine.encode_chat(
                    job.prompt.messages, enable_thinking=job.prompt.enable_thinking
                )
            else:
                ids = engine.encode(job.prompt.text)
        except (ValueError, KeyError, TypeError) as error:
            return _failed(str(error), 400)
        job.usage.prompt_tokens = len(ids)
        if len(ids) >= engine.max_context:
            return _failed(
                f"the prompt has {len(ids):,} tokens but the model takes at most "
                f"{engine.max_context:,}; send less context.",
                400,
            )
        # max_tokens beyond what the context holds after the prompt would never be reached.
        keep = 0 if job.priority is Priority.INTERACTIVE else self.keep_tokens
        max_tokens = capped_max_tokens(len(ids), job.sampling.max_tokens, engine.max_context, keep)
        job.sampling.max_tokens = max_tokens
        job.need = engine.kv_tokens_needed(ids, max_tokens)  # arithmetic: any thread
        job.prompt_ids = ids
        return None

    # ---- the engine thread --------------------------------------------------------------
    def _engine_main(self) -> None:
        started = time.monotonic()
        try:
            engine = self._load_engine(self._on_progress)
            limits = prompt_limits(engine.tokenizer.get_vocab(), int(engine.max_context))
        except BaseException as error:  # report, and let the server exit
            log.exception("model failed to load")
            with self._cond:
                self.state = "failed"
                self.load_error = f"{error.__class__.__name__}: {error}"
                self._cond.notify_all()
            self._fail_queued("model failed to load: " + self.load_error)
            if self._on_fatal:
                self._on_fatal(error)
            return
        self.load_seconds = time.monotonic() - started
        with self._cond:
            self.engine, self.limits = engine, limits
            if self.state == "loading":
                self.state = "ready"
                self.progress = (1.0, "ready")
            self._cond.notify_all()
        log.info(
            "model %s ready on %s in %.1f s (context %d tokens, batch up to %d)",
            engine.model_name,
            engine.device,
            self.load_seconds,
            engine.max_context,
            self.max_batch,
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
            self._fail_queued("the daemon is shutting down", reason="cancelled")
            with self._cond:
                if self.state == "ready":
                    self.state = "stopped"
                self._cond.notify_all()

    def _on_progress(self, fraction: float, message: str) -> None:
        """The engine's load progress (any thread)."""
        fraction = min(1.0, max(0.0, float(fraction)))
        self.progress = (max(fraction, self.progress[0]), str(message))

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._stopping or self._calls or self._running or self._waiting):
                    self._cond.wait()
                if self._stopping:
                    return
                calls, self._calls = self._calls, []
                ended = self._take_ended(self._waiting)
                capacity = self.capacity
                # Admitted jobs reserve their K/V at their first step: until then, what the
                # engine reports free is already promised to them.
                promised = sum(job.need for job in self._running if not job.started)
                chosen = policy.admit(
                    [j.entry for j in self._waiting],
                    [j.entry for j in self._running],
                    capacity,
                    policy.reserve_for(capacity),
                    room=self.engine.kv_tokens_free() - promised,
                    keep=self.keep_tokens,
                    total=self.engine.kv_tokens_total,
                )
                keys = {entry.key for entry in chosen}
                admitted = [j for j in self._waiting if j.entry.key in keys]
                admitted.sort(key=lambda j: j.order)
                self._waiting = [j for j in self._waiting if j.entry.key not in keys]
                self._running_count = len(self._running) + len(admitted)
            for fn, future in calls:
                self._run_call(fn, future)
            for job, update in ended:
                self._report(job, update)
            for job in admitted:
                self._admit(job)
            for job, update in self._take_ended(self._running):
                self._finish(job, update)
            self._step()

    def _take_ended(self, jobs: list[Job]) -> list[tuple[Job, Update]]:
        """Remove and return the cancelled or expired jobs of a list."""
        now = time.monotonic()
        ended = []
        for job in list(jobs):
            if job.cancelled.is_set():
                ended.append((job, Update(finished=True, finish_reason="cancelled")))
            elif now > job.deadline:
                ended.append((job, self._timeout_update(job)))
        for job, _ in ended:
            jobs.remove(job)
        return ended

    def _run_call(self, fn: Callable, future: concurrent.futures.Future) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(self.engine))
        except BaseException as error:
            future.set_exception(error)

    def _admit(self, job: Job) -> None:
        try:
            job.seq = self.engine.add_request(job.prompt_ids, job.sampling)
        except (ValueError, UserError) as error:  # e.g. the prompt does not fit the context
            self._finish(job, _failed(str(error), 400))
            return
        self._running.append(job)

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

    def _step(self) -> None:
        """One engine step for the batch the policy picks."""
        entries = [job.entry for job in self._running]
        chosen = policy.batch(entries, self.max_batch)
        if not chosen:
            return
        by_key = {job.entry.key: job for job in self._running}
        jobs = [by_key[entry.key] for entry in chosen]
        for entry in policy.yielding(entries, chosen):
            by_key[entry.key].yields += 1
        for job in jobs:
            job.started = True  # its K/V is reserved (or it failed trying)
        try:
            if len(jobs) == 1:
                outputs = [self.engine.step(jobs[0].seq)]
            else:
                outputs = self.engine.step_many([job.seq for job in jobs])
                self.batched_steps += 1
        except Exception as error:
            log.exception("engine step failed for request(s) %s", ", ".join(j.id for j in jobs))
            for job in jobs:
                self._finish(job, _failed(str(error), 500))
            return
        for job, out in zip(jobs, outputs, strict=True):
            self._deliver(job, out)

    def _deliver(self, job: Job, out: Any) -> None:
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
        """End a job on the engine thread: free its sequence, then report."""
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
        self._report(job, update)

    def _report(self, job: Job, update: Update) -> None:
        """Count, log and send a job's last update (any thread)."""
        update.usage = update.usage or Usage(**vars(job.usage))
        seconds = time.monotonic() - job.created
        with self._cond:
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

    def _fail_queued(self, message: str, reason: str = "error") -> None:
        """End every job not holding a sequence, and every pending call."""
        with self._cond:
            jobs = [*self._pending, *self._waiting]
            self._pending, self._waiting = [], []
            calls, self._calls = self._calls, []
        for job in jobs:
            self._report(
                job, Update(finished=True, finish_reason=reason, error=message, status=503)
            )
        for _, future in calls:
            if future.set_running_or_notify_cancel():
                future.set_exception(NotAccepting(message))


def _failed(message: str, status: int) -> Update:
    return Update(finished=True, finish_reason="error", error=message, status=status)
