"""`noded --set SECTION.FIELD=VALUE`: overrides are parsed as the field's type and re-validated."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from node.config import ConfigError, NodeConfig


def config() -> NodeConfig:
    return NodeConfig.for_profile("local", data_dir="/tmp/unused", cluster_secret=b"s" * 16, insecure=True)


def test_overrides_are_typed_and_leave_the_rest_alone():
    base = config()
    changed = base.with_settings({"repair.gc_grace_s": "5", "repair.repair_concurrency_max": "8",
                                  "storage.chunk_size_bytes": "1048576"})
    assert changed.repair.gc_grace_s == 5.0
    assert changed.repair.repair_concurrency_max == 8
    assert changed.storage.chunk_size_bytes == 1048576
    assert changed.gossip == base.gossip
    assert changed.repair.scrub_interval_s == base.repair.scrub_interval_s


def test_fractional_float_and_disk_settings_parse():
    """A float field takes a fractional value (`storage.disk_full_ratio=0.9`, not only whole numbers) and
    the disk watermarks take ints, in plain or e-notation; the profiles differ only in the free floor."""
    changed = config().with_settings({"storage.disk_full_ratio": "0.9", "storage.disk_bytes_max": "2e9",
                                      "storage.disk_free_bytes_min": "1048576"})
    assert changed.storage.disk_full_ratio == 0.9
    assert changed.storage.disk_bytes_max == 2_000_000_000 and type(changed.storage.disk_bytes_max) is int
    assert changed.storage.disk_free_bytes_min == 1048576
    lan = NodeConfig.for_profile("lan", data_dir="/tmp/unused", cluster_secret=b"s" * 16, insecure=True).storage
    assert (lan.disk_full_ratio, lan.disk_free_bytes_min, lan.disk_bytes_max) == (0.95, 2**30, 0)
    assert (config().storage.disk_full_ratio, config().storage.disk_free_bytes_min) == (0.95, 16 * 2**20)


@pytest.mark.parametrize("settings, message", [
    ({"nosuch.field": "1"}, "unknown setting 'nosuch.field': use SECTION.FIELD"),
    ({"repair": "1"}, "unknown setting 'repair'"),
    ({"repair.nosuch": "1"}, "unknown setting 'repair.nosuch'; repair has"),
    ({"repair.gc_grace_s": "soon"}, "setting repair.gc_grace_s='soon' is not a valid float"),
    ({"repair.repair_concurrency_max": "1.5"}, "is not a valid int"),
    ({"repair.repair_concurrency_max": "0"}, "repair_concurrency_max must be in 1..64"),
    ({"storage.disk_full_ratio": "1.5"}, "disk_full_ratio must be in (0, 1] (try 0.95)"),
    ({"storage.disk_full_ratio": "0"}, "disk_full_ratio must be in (0, 1]"),
    ({"storage.disk_full_ratio": "nan"}, "disk_full_ratio must be in (0, 1]"),
    ({"storage.disk_full_ratio": "most"}, "setting storage.disk_full_ratio='most' is not a valid float"),
    ({"storage.disk_free_bytes_min": "-1"}, "disk_free_bytes_min must be >= 0"),
    ({"storage.disk_bytes_max": "-5"}, "disk_bytes_max must be >= 0 (0 = the whole filesystem)"),
])
def test_bad_overrides_say_what_is_wrong(settings, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config().with_settings(settings)


def test_noded_refuses_a_malformed_set_with_one_line_and_exit_2(tmp_path):
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(0o600)
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "d"),
                           "--cluster-secret-file", str(secret), "--listen", "127.0.0.1:0",
                           "--insecure", "--set", "repair.gc_grace_s"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "noded: error: --set 'repair.gc_grace_s': write SECTION.FIELD=VALUE, e.g. repair.gc_grace_s=600"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_noded_refuses_a_secret_file_others_can_read_naming_the_chmod(tmp_path, mode):
    """As ssh refuses a private key others can read: one line naming the file, its mode and the fix,
    exit 2, and nothing created."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(mode)
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "d"),
                           "--cluster-secret-file", str(secret), "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"noded: error: cluster secret file {secret} is readable by others (mode {mode:04o}); it must be "
        f"private to the service user: run chmod 600 {secret}"]


@pytest.mark.parametrize("flag,value", [("--metrics-listen", ""), ("--listen", "7400"), ("--peer-listen", "host:"),
                                        ("--advertise", "10.0.0.5")])
def test_noded_refuses_an_address_that_is_not_host_port_in_one_line(tmp_path, flag, value):
    secret = tmp_path / "secret"
    secret.write_bytes(b"s" * 32)
    secret.chmod(0o600)
    args = {"--listen": "127.0.0.1:0", "--peer-listen": "127.0.0.1:0", flag: value}
    done = subprocess.run([sys.executable, "-m", "node", "--data-dir", str(tmp_path / "d"), "--insecure",
                           "--cluster-secret-file", str(secret), *[x for kv in args.items() for x in kv]],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"noded: error: {flag} {value!r} is not HOST:PORT"), line
