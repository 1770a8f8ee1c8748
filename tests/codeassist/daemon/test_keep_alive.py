"""keep_alive durations, the idle clock, and how status describes them (pure)."""

from __future__ import annotations

import pytest

from codeassist.cli.daemon import describe_keep_alive
from codeassist.daemon.keep_alive import (
    FIRST_REQUEST_GRACE_S,
    IdleClock,
    describe,
    parse_keep_alive,
)
from codeassist.daemon.status import keep_alive_fields


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("10m", 600.0),
        ("2s", 2.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("90", 90.0),
        (300, 300.0),
        (2.5, 2.5),
        ("0", 0.0),
        (0, 0.0),
        ("-1", None),
        (-1, None),
        ("-5m", None),
    ],
)
def test_durations(given, seconds):
    assert parse_keep_alive(given) == seconds


@pytest.mark.parametrize("bad", ["soon", "", "10x", "1.2.3s", "m", True, float("inf")])
def test_bad_durations_name_the_setting_and_the_forms(bad):
    with pytest.raises(ValueError) as wrong:
        parse_keep_alive(bad, "[daemon] keep_alive")
    assert "[daemon] keep_alive" in str(wrong.value) and "10m" in str(wrong.value)
    assert "-1 to never" in str(wrong.value)


def test_describe():
    assert [describe(s) for s in (None, 0, 2, 600, 5400)] == [
        "never",
        "0 s",
        "2 s",
        "10 min",
        "1 h 30 min",
    ]


def loaded(keep_alive_s: float | None, at: float, served: int = 1) -> IdleClock:
    clock = IdleClock(keep_alive_s=keep_alive_s, last_active=0.0)
    clock.ready(at)
    clock.served = served
    return clock


def test_loading_is_not_idleness_and_the_first_request_gets_time_to_arrive():
    clock = IdleClock(keep_alive_s=0.0, last_active=0.0)
    assert clock.unload_at() is None  # still loading
    clock.ready(50.0)
    assert clock.unload_at() == 50.0 + FIRST_REQUEST_GRACE_S  # the starter's request is coming
    clock.request_started(51.0)
    clock.request_finished(52.0, 0.0)
    assert clock.unload_at() == 52.0  # keep_alive 0: right after the last request


def test_unload_after_keep_alive_of_quiet():
    clock = loaded(10.0, at=100.0)
    assert clock.unload_at() == 110.0
    assert not clock.due(109.9) and clock.due(110.0)
    clock.request_started(105.0)
    assert clock.unload_at() is None and clock.idle_s(200.0) == 0.0  # busy: never due
    clock.request_finished(107.0, clock.keep_alive_s)
    assert clock.unload_at() == 117.0 and clock.idle_s(110.0) == 3.0


def test_a_request_sets_the_wait_after_it_and_the_next_one_resets_it():
    clock = loaded(600.0, at=0.0)
    clock.request_started(1.0)
    clock.request_finished(2.0, 0.0)  # keep_alive 0: unload right after this request
    assert clock.unload_at() == 2.0
    clock.request_started(2.5)
    clock.request_finished(3.0, None)  # keep_alive -1: never
    assert clock.unload_at() is None
    clock.request_started(4.0)
    clock.request_finished(5.0, clock.keep_alive_s)  # no keep_alive: the setting again
    assert clock.unload_at() == 605.0


def test_never_means_never():
    clock = loaded(None, at=0.0)
    assert clock.unload_at() is None and not clock.due(10**9)


def test_a_lease_holds_the_daemon_and_the_wait_counts_from_its_end():
    clock = loaded(5.0, at=0.0)
    clock.lease_opened()
    clock.lease_opened()
    assert not clock.due(1000.0)
    clock.lease_closed(50.0)
    assert not clock.due(1000.0)  # one editor is still open
    clock.lease_closed(60.0)
    assert clock.unload_at() == 65.0
    clock.lease_closed(70.0)  # a stray close never goes below zero
    assert clock.leases == 0


def test_status_fields_and_their_words():
    clock = loaded(600.0, at=100.0)
    fields = keep_alive_fields(clock, now=112.0)
    assert fields["idle_s"] == 12.0 and fields["unload_in_s"] == 588.0
    assert fields["keep_alive"] == "10 min"
    assert describe_keep_alive(fields) == "idle 12 s; unloads in 9 min 48 s (keep_alive 10 min)"
    clock.lease_opened()
    held = keep_alive_fields(clock, now=112.0)
    assert held["unload_in_s"] is None
    assert describe_keep_alive(held) == (
        "kept loaded by 1 editor; unloads 10 min after the last one closes"
    )
    never = keep_alive_fields(loaded(None, at=0.0), now=30.0)
    assert describe_keep_alive(never) == "idle 30 s; never unloads (keep_alive never)"
