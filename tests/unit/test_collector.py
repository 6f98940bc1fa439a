"""node/collector.py: start-up objects frozen out of the collector's walks; pauses timed."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from node import collector

FREEZE_CHECK = textwrap.dedent("""
    import gc, weakref
    import node.daemon  # what a node imports before it serves
    from node import collector

    class Node:
        pass

    def cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    before = cycle()  # garbage made during start-up
    walked_before = len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1))
    frozen = collector.freeze_startup_objects()
    assert before() is None, "start-up's garbage is collected before the rest is frozen"
    assert frozen == gc.get_freeze_count() > 10_000, frozen
    walked_after = len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1))
    assert walked_after < walked_before / 20, (walked_before, walked_after)
    after = cycle()  # garbage made while serving: still collected
    gc.collect()
    assert after() is None
    print("ok", frozen, walked_before, walked_after)
""")


def test_freezing_keeps_start_up_objects_out_of_later_collections():
    done = subprocess.run([sys.executable, "-c", FREEZE_CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok "), done.stdout


def test_pause_meter_times_each_collection_by_generation_until_stopped():
    seen: list[tuple[int, float]] = []
    meter = collector.PauseMeter(lambda generation, seconds: seen.append((generation, seconds)))
    meter.start()
    meter.start()  # idempotent: one callback, one observation per collection
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        meter.stop()
    mine = [generation for generation, _ in seen]
    assert mine[-2:] == [0, 2], seen
    assert all(0 <= seconds < 5 for _, seconds in seen)
    count = len(seen)
    gc.collect()
    assert len(seen) == count, "a stopped meter observes nothing"
    meter.stop()  # stopping twice is harmless
