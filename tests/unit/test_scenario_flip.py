"""The bitrot scenario's file picker: random chunk files, never two of one chunk, since bitrot on
every copy of a chunk is a loss no redundancy survives (seed 18 once flipped all three shares of an
ec=2+1 stripe, and the scenario failed a read for what was the picker's doing)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cluster_sim.scenarios.schedule import pick_one_per_chunk


def _files(chunks: int, copies: int) -> list[Path]:
    return [Path(f"node-{c}/store/chunks/aa/bb/{i:064x}.{c}of2+1") for i in range(chunks) for c in range(copies)]


@pytest.mark.parametrize("seed", range(20))
def test_the_picker_takes_distinct_chunks_at_random(seed):
    files = _files(chunks=10, copies=3)
    chosen = pick_one_per_chunk(files, 6, random.Random(seed))
    assert len(chosen) == 6 and len({path.name.split(".")[0] for path in chosen}) == 6
    assert set(chosen) <= set(files)


def test_the_picker_returns_fewer_when_there_are_not_enough_chunks():
    assert len(pick_one_per_chunk(_files(chunks=4, copies=3), 6, random.Random(1))) == 4


def test_the_picker_is_a_function_of_its_seed():
    files = _files(chunks=10, copies=3)
    assert pick_one_per_chunk(files, 6, random.Random(7)) == pick_one_per_chunk(files, 6, random.Random(7))
