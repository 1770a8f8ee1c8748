"""The scheduling policy: plain data in, decisions out (no threads, no engine)."""

from __future__ import annotations

from codeassist.daemon.policy import Entry, admit, batch, reserve_for, yielding

INTERACTIVE, NORMAL, BATCH = 0, 1, 2


def entry(key: int, priority: int) -> Entry:
    return Entry(key=key, priority=priority, arrival=key)


def keys(entries: list[Entry]) -> list[int]:
    return [e.key for e in entries]


def test_admission_is_most_urgent_first_then_first_come():
    waiting = [entry(1, BATCH), entry(2, NORMAL), entry(3, INTERACTIVE), entry(4, INTERACTIVE)]
    assert keys(admit(waiting, [], capacity=8)) == [3, 4, 2, 1]
    assert keys(admit(waiting, [], capacity=2)) == [3, 4]
    assert keys(admit(waiting, [entry(0, BATCH)] * 8, capacity=8)) == []  # no slot is free


def test_reviews_never_take_the_slot_kept_for_completions():
    capacity = 4
    reserve = reserve_for(capacity)
    assert reserve == 1 and reserve_for(1) == 0
    reviews = [entry(k, BATCH) for k in range(1, 6)]
    started = admit(reviews, [], capacity, reserve)
    assert keys(started) == [1, 2, 3]  # the fourth slot stays free
    completion = entry(9, INTERACTIVE)
    assert keys(admit([*reviews[3:], completion], started, capacity, reserve)) == [9]
    normal = entry(10, NORMAL)  # a refactor is not interactive: it waits for a slot too
    assert keys(admit([normal], started, capacity, reserve)) == []


def test_the_most_urgent_class_steps_together_oldest_first():
    running = [entry(5, BATCH), entry(3, INTERACTIVE), entry(1, INTERACTIVE), entry(2, NORMAL)]
    assert keys(batch(running, max_batch=8)) == [1, 3]
    assert keys(batch(running, max_batch=1)) == [1]  # an engine without batching: one at a time
    assert keys(batch([entry(5, BATCH), entry(4, BATCH)], max_batch=8)) == [4, 5]
    assert batch([], max_batch=8) == []


def test_a_review_yields_while_a_completion_runs_and_resumes_after():
    review, completion = entry(1, BATCH), entry(2, INTERACTIVE)
    stepped = batch([review, completion], max_batch=8)
    assert keys(stepped) == [2]
    assert keys(yielding([review, completion], stepped)) == [1]
    # The completion finished: the review steps again, nothing yields.
    assert keys(batch([review], max_batch=8)) == [1]
    assert yielding([review], [review]) == []


def test_same_class_beyond_the_batch_waits_without_counting_as_yielding():
    running = [entry(1, NORMAL), entry(2, NORMAL), entry(3, NORMAL)]
    stepped = batch(running, max_batch=2)
    assert keys(stepped) == [1, 2]
    assert yielding(running, stepped) == []
    assert keys(batch(running, max_batch=0)) == [1]  # something always advances


def needing(key: int, priority: int, need: int) -> Entry:
    return Entry(key=key, priority=priority, arrival=key, need=need)


def test_with_kv_room_a_request_starts_only_when_its_reservation_fits():
    review = needing(1, BATCH, 30_000)
    completion = needing(2, INTERACTIVE, 3_000)
    # A review that would leave no room for a completion waits; the completion goes.
    assert keys(admit([review, completion], [], 8, room=32_000, keep=4_000)) == [2]
    assert keys(admit([review], [], 8, room=36_000, keep=4_000)) == [1]
    # Knowing the pool's size changes nothing for a request that fits beside a completion.
    assert keys(admit([review], [], 8, room=32_000, keep=4_000, total=64_000)) == []
    # An interactive request needs no margin, only room.
    assert keys(admit([completion], [], 8, room=3_000, keep=4_000)) == [2]
    assert keys(admit([completion], [], 8, room=2_999, keep=4_000)) == []


def test_nobody_starts_ahead_of_an_older_request_waiting_for_room():
    big, small = needing(1, BATCH, 20_000), needing(2, BATCH, 1_000)
    assert keys(admit([big, small], [], 8, room=10_000)) == []  # no overtaking in a class
    urgent = needing(3, INTERACTIVE, 9_000)
    normal = needing(4, NORMAL, 500)
    # The completion waits for room: the refactor behind it does not take what frees up.
    assert keys(admit([normal, urgent], [], 8, room=8_000)) == []
    assert keys(admit([normal, urgent], [], 8, room=9_500)) == [3, 4]
    twins = [needing(5, BATCH, 1_000), needing(6, BATCH, 1_000)]
    assert keys(admit(twins, [], 8, room=1_500)) == [5]  # room is used up


def test_a_request_too_big_to_leave_room_for_a_completion_runs_alone():
    whole = needing(1, BATCH, 32_000)
    assert keys(admit([whole], [], 8, room=32_000, keep=4_000, total=32_000)) == [1]
    assert keys(admit([whole], [needing(2, BATCH, 100)], 8, room=31_900, keep=4_000)) == []
