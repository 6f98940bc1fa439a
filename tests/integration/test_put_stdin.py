"""`nodectl put -` from a slow pipe whose coordinator is killed mid-upload, as a real process.

It used to abort with `Fatal Python error: _enter_buffered_busy` (exit 134): gRPC's sending thread
sat in a buffered read of stdin when the main thread, told the call had failed, exited, and the
interpreter could not take the stdin buffer's lock at shutdown. It must print one line and exit 4
like every other UNAVAILABLE. The writer, nodectl and the cluster are all stopped by pid.
"""

from __future__ import annotations

import os
import subprocess
import sys

# The writer: 16 KiB at a time, 20 pieces a second (a slow producer, like a dump piped in), and a
# marker file once 1 MiB has gone into the pipe, so the test knows the upload is under way.
WRITER = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
written = 0
try:
    for _ in range(20_000):
        sys.stdout.buffer.write(b"x" * 16384)
        sys.stdout.buffer.flush()
        written += 16384
        if written >= 1 << 20 and not marker.exists():
            marker.write_text("1")
        time.sleep(0.05)
except BrokenPipeError:
    pass
"""
NODECTL_EXIT_DEADLINE_S = 60.0
# The installed console script, as a user runs it (its own interpreter, its own shutdown).
NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")


def test_put_from_a_slow_stdin_whose_coordinator_dies_exits_4_with_one_line(cluster_factory, tmp_path):
    """3 nodes. `nodectl put - b/k` at node-1 reads a slow pipe; once 1 MiB is in, node-1 is
    killed (-9). nodectl exits 4 with exactly one `nodectl: error:` line on stderr and no
    traceback or fatal error."""
    cluster = cluster_factory(nodes=3)
    address = cluster.nodes["node-1"].address
    create = subprocess.run([NODECTL, "--addr", address, "mb", "piped"],
                            capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stderr
    marker = tmp_path / "one-mib-written"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(marker)], stdout=subprocess.PIPE)
    put = subprocess.Popen([NODECTL, "--addr", address, "put", "-", "piped/dump"],
                           stdin=writer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None
    writer.stdout.close()  # nodectl holds the read end now
    try:
        cluster.wait_until(marker.exists, timeout_s=60, interval_s=0.1,
                           what="the slow writer to push 1 MiB into nodectl's stdin")
        cluster.kill("node-1")
        stdout, stderr = put.communicate(timeout=NODECTL_EXIT_DEADLINE_S)
    finally:
        for process in (put, writer):
            if process.poll() is None:
                os.kill(process.pid, 9)
                process.wait()
    text = stderr.decode(errors="replace")
    assert put.returncode == 4, (put.returncode, text)
    assert text.count("\n") == 1 and text.startswith("nodectl: error: "), text
    assert "went away after" in text and "put again" in text, text
    assert "Traceback" not in text and "Fatal" not in text
    assert stdout == b""
