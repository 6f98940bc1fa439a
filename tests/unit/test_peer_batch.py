"""CallBatcher: concurrent calls to one peer coalesce into batch calls only while the peer is busy,
and every caller gets its own item's outcome.

`send` here is a function the tests hold at a gate, so "busy" is exact: a call is on the wire until
the test opens its gate. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time

import pytest

from node.peers.batch import CallBatcher, QueueTimeout

WAIT_S = 10.0


class Wire:
    """A fake peer: records each batch it is sent and answers item * 10, or a ValueError for items
    below zero; each batch waits for its gate when `hold` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.hold = hold
        self.gates: list[threading.Event] = []
        self.arrived = threading.Condition()

    def send(self, address: str, items: list[int]) -> list[object]:
        gate = threading.Event()
        with self.arrived:
            self.batches.append((address, list(items)))
            self.gates.append(gate)
            self.arrived.notify_all()
        if self.hold:
            assert gate.wait(WAIT_S), "the test never opened this batch's gate"
        return [ValueError(f"bad item {i}") if i < 0 else i * 10 for i in items]

    def wait_for_batches(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.batches) >= count, WAIT_S), self.batches

    def open(self, index: int) -> None:
        self.gates[index].set()


def start_calls(batcher: CallBatcher, address: str, items: list[int]) -> tuple[list[threading.Thread], dict]:
    outcomes: dict[int, object] = {}

    def one(item: int) -> None:
        try:
            outcomes[item] = batcher.call(address, item)
        except Exception as err:  # noqa: BLE001 - recorded for the test to look at
            outcomes[item] = err

    threads = [threading.Thread(target=one, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "a caller was never answered"


def wait_queued(batcher: CallBatcher, address: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        with batcher._lock:
            peer = batcher._peers.get(address)
            if peer is not None and len(peer.queued) >= count:
                return
        time.sleep(0.001)
    raise AssertionError(f"{count} callers never queued")


def test_a_call_to_an_idle_peer_goes_at_once_and_alone():
    wire = Wire()
    batcher = CallBatcher(wire.send, size_of=lambda item: 1)
    assert batcher.call("a", 4) == 40
    assert batcher.call("a", 5) == 50
    assert wire.batches == [("a", [4]), ("a", [5])]
    assert batcher._peers == {}  # nothing kept for an idle peer


def test_calls_queued_behind_a_busy_peer_go_as_one_batch_each_with_its_own_answer():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    first, first_outcomes = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    rest, outcomes = start_calls(batcher, "a", [2, -3, 4, 5])
    wait_queued(batcher, "a", 4)
    wire.open(0)
    wire.wait_for_batches(2)
    wire.open(1)
    join(first + rest)
    assert wire.batches[0] == ("a", [1]) and sorted(wire.batches[1][1]) == [-3, 2, 4, 5]
    assert len(wire.batches) == 2
    assert first_outcomes == {1: 10}
    assert {k: v for k, v in outcomes.items() if k != -3} == {2: 20, 4: 40, 5: 50}
    assert isinstance(outcomes[-3], ValueError) and str(outcomes[-3]) == "bad item -3"
    assert batcher._peers == {}


def test_in_flight_max_calls_go_at_once_before_any_queues():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=2)
    threads, outcomes = start_calls(batcher, "a", [1, 2])
    wire.wait_for_batches(2)
    assert sorted(items[0] for _, items in wire.batches) == [1, 2]
    wire.open(0)
    wire.open(1)
    join(threads)
    assert outcomes == {1: 10, 2: 20}


def test_batches_keep_to_items_max_and_bytes_max():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: item, in_flight_max=1, items_max=3, bytes_max=100)
    first, _ = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    queued = []
    for item in (2, 3, 4, 5, 150, 6):  # one at a time, so the queue's order is known
        threads, _ = start_calls(batcher, "a", [item])
        queued += threads
        wait_queued(batcher, "a", len(queued))
    for index in range(5):  # each batch is let go once it is on the wire; the next forms behind it
        wire.wait_for_batches(index + 1)
        wire.open(index)
    join(first + queued)
    assert [items for _, items in wire.batches] == [[1], [2, 3, 4], [5], [150], [6]]


def test_an_item_too_large_for_a_batch_still_goes_alone():
    wire = Wire()
    batcher = CallBatcher(wire.send, size_of=lambda item: item, bytes_max=10)
    assert batcher.call("a", 50) == 500
    assert wire.batches == [("a", [50])]


def test_a_send_that_raises_fails_its_batch_and_the_batcher_goes_on():
    calls = []

    def send(address: str, items: list[int]) -> list[object]:
        calls.append(items)
        if len(calls) == 1:
            raise KeyError("bug")
        return [item for item in items]

    batcher = CallBatcher(send, size_of=lambda item: 1)
    with pytest.raises(RuntimeError, match="batched call to a failed: 'bug'"):
        batcher.call("a", 1)
    assert batcher.call("a", 2) == 2
    assert batcher._peers == {}


def test_a_send_with_the_wrong_number_of_answers_fails_its_batch():
    batcher = CallBatcher(lambda address, items: [], size_of=lambda item: 1)
    with pytest.raises(RuntimeError, match="a batch of 1 calls to a got 0 answers"):
        batcher.call("a", 1)


def test_a_busy_peer_does_not_hold_up_calls_to_another():
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    busy, _ = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    other, outcomes = start_calls(batcher, "b", [7])
    wire.wait_for_batches(2)
    wire.open(1)
    join(other)
    assert outcomes == {7: 70}
    wire.open(0)
    join(busy)


def test_many_callers_are_all_answered_with_their_own_outcome():
    """200 callers on 4 peers at once, the wire answering after a short delay: every caller gets its
    own item's answer, whatever batch carried it, and nothing is left queued."""
    sent: list[list[int]] = []
    lock = threading.Lock()

    def send(address: str, items: list[int]) -> list[object]:
        time.sleep(0.002)
        with lock:
            sent.append(items)
        return [item * 10 for item in items]

    batcher = CallBatcher(send, size_of=lambda item: 1, in_flight_max=1, items_max=16)
    threads, outcomes = [], {}
    for peer in range(4):
        more, got = start_calls(batcher, f"p{peer}", list(range(peer * 50, peer * 50 + 50)))
        threads += more
        outcomes[peer] = got
    join(threads)
    for peer in range(4):
        assert outcomes[peer] == {item: item * 10 for item in range(peer * 50, peer * 50 + 50)}
    assert sorted(item for items in sent for item in items) == list(range(200))
    assert max(len(items) for items in sent) <= 16
    assert len(sent) < 200  # some calls did go together
    assert batcher._peers == {}


def test_a_caller_queued_past_its_timeout_gives_up_and_the_others_go_on():
    """Behind a stalled peer a queued call waits no longer than its own timeout (QueueTimeout), and
    leaves the queue: the batch sent once the stalled call ends does not carry it."""
    wire = Wire(hold=True)
    batcher = CallBatcher(wire.send, size_of=lambda item: 1, in_flight_max=1)
    busy, busy_outcomes = start_calls(batcher, "a", [1])
    wire.wait_for_batches(1)
    started = time.monotonic()
    with pytest.raises(QueueTimeout, match="waited 0.2 s behind a call to a that did not end"):
        batcher.call("a", 2, timeout_s=0.2)
    assert time.monotonic() - started < WAIT_S
    queued, outcomes = start_calls(batcher, "a", [3])
    wait_queued(batcher, "a", 1)
    wire.open(0)
    wire.wait_for_batches(2)
    wire.open(1)
    join(busy + queued)
    assert busy_outcomes == {1: 10} and outcomes == {3: 30}
    assert [items for _, items in wire.batches] == [[1], [3]]
    assert batcher._peers == {}
