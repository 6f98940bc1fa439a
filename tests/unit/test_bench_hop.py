"""bench.hop: one gRPC hop measured end to end (a real server process, real TLS), and the store's
floor. The figures themselves are the bench's business; these tests check that every variant moves
every byte it claims to and reports a figure from it."""

import pathlib
import sys

import pytest

# bench/ is a folder of scripts run from the checkout (`python -m bench`), not an installed package.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from bench import hop  # noqa: E402

MIB = 1024 * 1024


@pytest.mark.parametrize("mode", hop.MODES)
@pytest.mark.parametrize("secure", [True, False], ids=["tls", "plain"])
def test_a_hop_moves_every_byte_and_reports_both_sides(mode, secure, tmp_path):
    tls = None
    if secure:
        ca = hop.make_tls(tmp_path)
        tls = (str(tmp_path), ca)
    row = hop.one_run(mode, tls, 256 * 1024, 4 * MIB, hash_each=secure)
    assert row["mb_s"] > 0
    assert row["client_ms_per_mb"] >= 0 and row["server_ms_per_mb"] >= 0


@pytest.mark.parametrize("mode", hop.MODES)
def test_unary_calls_get_every_answer(mode, tmp_path):
    ca = hop.make_tls(tmp_path)
    row = hop.ask_run(mode, (str(tmp_path), ca), 20)
    assert row["calls_s"] > 0 and row["client_ms_per_call"] > 0 and row["server_ms_per_call"] >= 0


def test_a_short_transfer_is_an_error_not_a_figure(tmp_path, monkeypatch):
    """The byte count the server saw is checked: a sender that stops early cannot pass for a fast hop."""
    real = hop.send_sync
    monkeypatch.setattr(hop, "send_sync", lambda port, ca, message, count: real(port, ca, message, count - 1))
    with pytest.raises(SystemExit, match="bytes arrived"):
        hop.one_run("sync", None, 64 * 1024, MIB, hash_each=False)


def test_the_store_floor_commits_real_shares():
    row = hop.store_cost(2)
    assert row["store_ms_per_share"] > 0 and row["store_mb_s"] > 0
    assert not list(pathlib.Path("/var/tmp").glob("ringstore-hop-store-*"))  # its scratch store is gone
