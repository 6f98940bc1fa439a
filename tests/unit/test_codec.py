"""zfec stripe coding: any K of K+M shares rebuild the chunk, byte for byte, at every size."""

from __future__ import annotations

import itertools
import os

import pytest

from node.erasure import Geometry, GeometryError, decode, encode


SIZES = [1, 2, 3, 4, 5, 7, 4095, 4096, 4097, 65536, 1 << 20, (1 << 20) + 3]


@pytest.mark.parametrize("k,m", [(1, 1), (2, 1), (4, 2), (3, 2), (10, 4)])
def test_every_k_subset_rebuilds_the_chunk(k: int, m: int) -> None:
    """Whichever K shares survive, decode returns the original bytes (small sizes, all subsets)."""
    geometry = Geometry(k, m)
    for size in (1, k - 1 or 1, k, k + 1, 1000, 4097):
        chunk = os.urandom(size)
        shares = [bytes(s) for s in encode(chunk, geometry)]
        assert len(shares) == k + m
        assert all(len(s) == geometry.share_size_bytes(size) for s in shares)
        subsets = itertools.combinations(range(k + m), k)
        for subset in itertools.islice(subsets, 60):
            assert decode({i: shares[i] for i in subset}, geometry, size) == chunk


@pytest.mark.parametrize("size", SIZES)
def test_data_shares_are_the_chunk_bytes(size: int) -> None:
    """Systematic code: data share i is chunk bytes [i*s, (i+1)*s), zero-padded at the end."""
    geometry = Geometry(4, 2)
    chunk = os.urandom(size)
    shares = encode(chunk, geometry)
    share = geometry.share_size_bytes(size)
    padded = chunk + bytes(4 * share - size)
    for i in range(4):
        assert bytes(shares[i]) == padded[i * share:(i + 1) * share]
    # Two data shares lost: parity fills in.
    assert decode({0: shares[0], 3: shares[3], 4: shares[4], 5: shares[5]}, geometry, size) == chunk


def test_encoding_is_deterministic() -> None:
    """The same chunk always gives the same shares, so share blake3s dedupe and can be re-checked."""
    chunk = os.urandom(100_000)
    a = [bytes(s) for s in encode(chunk, Geometry(4, 2))]
    b = [bytes(s) for s in encode(bytearray(chunk), Geometry(4, 2))]
    assert a == b


def test_too_few_or_wrong_sized_shares_is_an_error_not_wrong_bytes() -> None:
    geometry = Geometry(4, 2)
    chunk = os.urandom(4000)
    shares = encode(chunk, geometry)
    with pytest.raises(ValueError, match="needs 4 shares of 1000 bytes, got 3"):
        decode({0: shares[0], 1: shares[1], 5: shares[5]}, geometry, 4000)
    with pytest.raises(ValueError, match="got 3"):
        decode({0: shares[0], 1: shares[1], 2: shares[2], 5: bytes(shares[5])[:-1]}, geometry, 4000)


@pytest.mark.parametrize("k,m,message", [
    (0, 2, "K \\(data shares\\) must be at least 1"),
    (4, 0, "M \\(parity shares\\) must be at least 1"),
    (30, 3, "K\\+M is 33, at most 32"),
])
def test_geometry_limits_name_the_numbers(k: int, m: int, message: str) -> None:
    with pytest.raises(GeometryError, match=f"ec={k}\\+{m} is invalid: {message}"):
        Geometry(k, m)


def test_empty_chunk_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode(b"", Geometry(2, 1))
