"""`noded --set SECTION.FIELD=VALUE`: overrides are parsed as the field's type and re-validated."""

from __future__ import annotations

import subprocess
import sys

import pytest

from node.config import ConfigError, NodeConfig


def config() -> NodeConfig:
    return NodeConfig.for_profile("local", data_dir="/tmp/unused", cluster_secret=b"s" * 16)


def test_overrides_are_typed_and_leave_the_rest_alone():
    base = config()
    changed = base.with_settings({"repair.gc_grace_s": "5", "repair.repair_concurrency_max": "8",
                                  "storage.chunk_size_bytes": "1048576"})
    assert changed.repair.gc_grace_s == 5.0
    assert changed.repair.repair_concurrency_max == 8
    assert changed.storage.chunk_size_bytes == 1048576
    assert changed.gossip == base.gossip
    assert changed.repair.scrub_interval_s == base.repair.scrub_interval_s


@pytest.mark.parametrize("settings, message", [
    ({"nosuch.field": "1"}, "unknown setting 'nosuch.field': use SECTION.FIELD"),
    ({"repair": "1"}, "unknown setting 'repair'"),
    ({"repair.nosuch": "1"}, "unknown setting 'repair.nosuch'; repair has"),
    ({"repair.gc_grace_s": "soon"}, "setting repair.gc_grace_s='soon' is not a valid float"),
    ({"repair.repair_concurrency_max": "1.5"}, "is not a valid int"),
    ({"repair.repair_concurrency_max": "0"}, "repair_concurrency_max must be in 1..64"),
])
def test_bad_overrides_say_what_is_wrong(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        config().with_settings(settings)


def test_noded_refuses_a_malformed_set_with_one_line_and_exit_2(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "d"),
                           "--cluster-secret-file", str(secret), "--listen", "127.0.0.1:0",
                           "--set", "repair.gc_grace_s"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "noded: error: --set 'repair.gc_grace_s': write SECTION.FIELD=VALUE, e.g. repair.gc_grace_s=600"]
