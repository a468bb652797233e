"""The capture service's supervision policy and lag bookkeeping, with fake processes and clock."""

from __future__ import annotations

from pathlib import Path

from lakehouse.capture import Backoff, Child, LagMeter, Supervisor, status_line


class FakeProc:
    pid = 4242

    def __init__(self):
        self.returncode = None

    def poll(self):
        return self.returncode


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_backoff_doubles_on_quick_failures_up_to_the_cap_and_resets_after_a_stable_run():
    b = Backoff(initial_s=1, max_s=8, stable_s=60)
    assert [b.after_exit(2) for _ in range(5)] == [1, 2, 4, 8, 8]
    assert b.after_exit(61) == 1
    assert b.after_exit(0.5) == 2


def _supervisor():
    clock = Clock()
    spawned: list[FakeProc] = []

    def spawn(child):
        spawned.append(FakeProc())
        return spawned[-1]

    child = Child("consumer", ["x"], Path("/dev/null"), Backoff(initial_s=1, max_s=60, stable_s=60))
    return Supervisor([child], spawn=spawn, clock=clock), child, clock, spawned


def test_a_child_that_dies_is_started_again_after_its_backoff():
    sup, child, clock, spawned = _supervisor()
    sup.step()
    assert len(spawned) == 1 and child.running()

    spawned[0].returncode = -9  # SIGKILLed after 5 s
    clock.now += 5
    sup.step()
    assert child.proc is None and child.restarts == 1 and child.last_exit == -9
    clock.now += 0.5
    sup.step()
    assert len(spawned) == 1, "started again before its backoff ended"
    clock.now += 0.6
    sup.step()
    assert len(spawned) == 2 and child.running()

    spawned[1].returncode = 1  # fails at once: the wait doubles
    clock.now += 0.1
    sup.step()
    assert child.next_start_at - clock.now == 2
    state = sup.state()["consumer"]
    assert state["pid"] is None and state["restarts"] == 2 and state["last_exit"] == 1


def test_a_running_child_is_left_alone():
    sup, child, clock, spawned = _supervisor()
    sup.step()
    for _ in range(10):
        clock.now += 30
        sup.step()
    assert len(spawned) == 1 and child.restarts == 0
    assert sup.state()["consumer"]["up_s"] == 300


def test_lag_counts_seconds_since_last_caught_up_and_unknown_lag_does_not_reset_it():
    clock = Clock()
    meter = LagMeter(clock)
    assert meter.measure(0).behind_s == 0
    clock.now += 10
    assert vars(meter.measure(500)) == {"records": 500, "behind_s": 10}
    clock.now += 20
    assert meter.measure(None).behind_s == 30  # Kafka did not answer: still behind
    clock.now += 5
    assert meter.measure(0).behind_s == 0


def test_the_status_line_names_down_children_and_the_lag():
    state = {
        "at": "2026-11-29T22:00:00+00:00",
        "children": {
            "consumer": {"pid": None, "restarts": 3},
            "apply": {"pid": 12, "restarts": 0},
        },
        "lag": {"records": 120, "behind_s": 42.0},
    }
    line = status_line(state)
    assert "consumer DOWN (3 restarts)" in line and "apply up (0 restarts)" in line
    assert "120 records behind for 42s" in line
    state["lag"] = {"records": 0, "behind_s": 0}
    assert "caught up" in status_line(state)
    assert status_line(None) == "no status yet"
