"""The change feed through real noded processes: a watcher that loses its node (kill -9) and
reconnects with its last cursor through another, while metadata homes are killed and restarted,
misses no acknowledged change; --from-now, prefixes, every kind of change, and the one-line errors
of bad cursors, both natively and from nodectl."""

from __future__ import annotations

import json
import threading
import time

import pytest
from click.testing import CliRunner

from cluster_checks import wait_for
from nodectl.cli import main
from nodectl.client import Client
from nodectl.errors import FailedPrecondition, InvalidArgument, NotFound, RingstoreError, Unavailable

KIB = 1024


class _Watcher:
    """Watches a bucket on a thread, reconnecting with its last cursor through the next node of
    `addresses()` whenever its node goes away; collects (key, kind, version) of every change."""

    def __init__(self, addresses, bucket: str, prefix: str = "") -> None:
        self._addresses, self._bucket, self._prefix = addresses, bucket, prefix
        self.seen: list[tuple[str, str, str]] = []
        self.cursor = ""
        self.reconnects = 0
        self.started = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        turn = 0
        while not self._stop.is_set():
            address = self._addresses()[turn % len(self._addresses())]
            turn += 1
            try:
                with Client(address=address, timeout_s=10.0) as client:
                    for event in client.watch(self._bucket, self._prefix, cursor=self.cursor,
                                              from_now=not self.cursor):
                        self.cursor = event.cursor
                        self.started.set()
                        if event.change is not None:
                            self.seen.append((event.change.key, event.change.kind, event.change.version))
                        if self._stop.is_set():
                            return
            except RingstoreError:
                self.reconnects += 1
                time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def test_a_watcher_reconnecting_with_its_cursor_misses_nothing_across_kills(cluster_factory):
    cluster = cluster_factory(nodes=4)
    nodes = sorted(cluster.running())
    watched = nodes[0]

    def addresses() -> list[str]:
        live = sorted(cluster.running())
        return [cluster.nodes[n].address for n in live]

    with Client(address=cluster.nodes[nodes[1]].address, timeout_s=30.0) as client:
        client.create_bucket("feed")
    watcher = _Watcher(lambda: [cluster.nodes[watched].address] if watched in cluster.running()
                       else addresses(), "feed")
    assert watcher.started.wait(30), "the watch never started"
    acked: list[tuple[str, str, str]] = []
    deletes: dict[str, int] = {}
    for i in range(60):
        if i == 15:
            cluster.kill(watched)  # the watcher's own node: it reconnects elsewhere with its cursor
        if i == 25:
            cluster.restart(watched)
        if i == 30:
            victim = nodes[2]
            cluster.kill(victim)  # a metadata home, likely: its log is gone until it is back
        if i == 45:
            cluster.restart(victim)
        key = f"k{i % 20:02d}"
        deadline = time.monotonic() + 30
        while True:  # until acknowledged: a write right after a kill may miss its quorum
            try:
                with Client(address=addresses()[i % len(addresses())], timeout_s=30.0) as client:
                    if i % 7 == 3:
                        try:
                            client.delete("feed", key)
                        except NotFound:
                            break  # nothing to delete
                        deletes[key] = deletes.get(key, 0) + 1
                    else:
                        info = client.put("feed", key, f"v{i}".encode() * (1 if i % 2 else 2000))
                        acked.append((key, "put", info.version))
                break
            except Unavailable:
                assert time.monotonic() < deadline, f"change {i} was not acknowledged within 30 s"
                time.sleep(0.5)

    def delivered() -> bool:
        seen = set(watcher.seen)
        deleted = {key: sum(1 for k, kind, _ in seen if k == key and kind == "delete") for key in deletes}
        return set(acked) <= seen and all(deleted[key] >= n for key, n in deletes.items())

    wait_for("every acknowledged change to reach the watcher", delivered, timeout_s=60)
    watcher.stop()
    assert watcher.reconnects >= 1
    # Per key, puts come in the order they were made (each the first time it comes).
    for key in {k for k, _, _ in acked}:
        order = [v for k, _, v in acked if k == key]
        firsts = list(dict.fromkeys(v for k, kind, v in watcher.seen if k == key and v in order))
        assert firsts == order, key


def test_from_now_prefixes_kinds_cli_and_bad_cursors(cluster_factory, tmp_path):
    cluster = cluster_factory(nodes=3, settings={"repair.change_retention_s": "12"})
    address = cluster.any_address()
    with Client(address=address, timeout_s=30.0) as client:
        client.create_bucket("kinds")
        client.put("kinds", "old/before", b"before the watch")
        client.set_versioning("kinds", "enabled")
        events = client.watch("kinds", "docs/", from_now=True)
        first = next(events)
        assert first.change is None and first.cursor
        v1 = client.put("kinds", "docs/a", b"one")
        client.put("kinds", "other/x", b"not watched")
        client.set_tags("kinds", "docs/a", {"team": "red"})
        client.put("kinds", "docs/a", b"two")
        client.delete("kinds", "docs/a", version=v1.version_id)
        client.delete("kinds", "docs/a")
        kinds = []
        while len(kinds) < 5:
            event = next(events)
            if event.change is not None:
                assert event.change.key == "docs/a"
                kinds.append(event.change.kind)
        events.close()
        assert kinds == ["put", "tags", "put", "erase", "delete"]

        # From the start: the put made before the watch too; a cursor continues after its event.
        first_three = _changes(client.watch("kinds"), 3)
        assert (first_three[0].change.key, first_three[0].change.kind) == ("old/before", "put")
        cursor = first_three[-1].cursor
        after = [(e.change.key, e.change.kind) for e in _changes(client.watch("kinds", cursor=cursor), 4)]
        assert ("old/before", "put") not in after and after[-1] == ("docs/a", "delete")

        with pytest.raises(InvalidArgument, match="not one a watch gave"):
            next(client.watch("kinds", cursor="garbage"))
        client.create_bucket("other")
        with pytest.raises(InvalidArgument, match="is for bucket 'kinds'"):
            next(client.watch("other", cursor=cursor))

    runner = CliRunner()
    result = runner.invoke(main, ["--addr", address, "watch", "kinds/docs/", "--json", "--count", "5"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["change"]["kind"] for line in lines if line["change"]] == ["put", "tags", "put", "erase", "delete"]
    result = runner.invoke(main, ["--addr", address, "watch", "kinds", "--from", "c1.!!"], catch_exceptions=False)
    assert result.exit_code == 2 and "is damaged" in result.output and "Traceback" not in result.output
    # A cursor older than the retention (12 s here) must resync.
    with Client(address=address, timeout_s=30.0) as client:
        wait_for("the cursor to age past the retention", lambda: _too_old(client, cursor), timeout_s=60, poll_s=2)


def _changes(events, count: int):
    got = []
    for event in events:
        if event.change is not None:
            got.append(event)
            if len(got) == count:
                break
    events.close()
    return got


def _too_old(client: Client, cursor: str) -> bool:
    try:
        next(client.watch("kinds", cursor=cursor))
    except FailedPrecondition as err:
        assert "resync" in str(err)
        return True
    return False
