"""nodectl's error mapping, input validation, retries and streaming, against a real in-process server.

The pure parts (status -> class -> exit code, validation messages, deadlines, backoff) are
table-driven; the rest runs the real client against `nodectl_fakes.FakeServer`, a real
grpc.server on a free loopback port, with failures injected per method.
"""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from nodectl import errors
from nodectl.client import (
    KEY_LENGTH_BYTES_MAX,
    RETRY_BACKOFF_S_MAX,
    STREAM_DEADLINE_BYTES_PER_S,
    Client,
    _Watchdog,
    parse_address,
    retry_backoff_s,
    stream_deadline_s,
    validate_bucket,
    validate_key,
    validate_prefix,
    validate_range,
)
from nodectl_fakes import FakeServer
from ringstore.frames import INFO_DATA_BYTES_MAX, SMALL_PUT_BYTES_MAX

POLL_DEADLINE_S = 10.0

# (status, class, exit code): every gRPC status but OK.
ERROR_TABLE = [
    (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument, 2),
    (grpc.StatusCode.NOT_FOUND, errors.NotFound, 3),
    (grpc.StatusCode.UNAVAILABLE, errors.Unavailable, 4),
    (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded, 4),
    (grpc.StatusCode.DATA_LOSS, errors.DataLoss, 5),
    (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists, 6),
    (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition, 6),
    (grpc.StatusCode.OUT_OF_RANGE, errors.OutOfRange, 7),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted, 8),
    (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated, 9),
    (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied, 11),
    (grpc.StatusCode.INTERNAL, errors.Internal, 1),
    (grpc.StatusCode.UNKNOWN, errors.RingstoreError, 1),
    (grpc.StatusCode.CANCELLED, errors.RingstoreError, 1),
    (grpc.StatusCode.ABORTED, errors.RingstoreError, 1),
    (grpc.StatusCode.UNIMPLEMENTED, errors.RingstoreError, 1),
]


class _FakeRpcError(grpc.RpcError):
    """What a failed call looks like to the client: code() and details()."""

    def __init__(self, code: grpc.StatusCode, details: str | None) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details


def test_error_table_covers_every_status_but_ok() -> None:
    """Every gRPC status except OK has a row in the mapping table."""
    assert {row[0] for row in ERROR_TABLE} == set(grpc.StatusCode) - {grpc.StatusCode.OK}


@pytest.mark.parametrize("code,cls,exit_code", ERROR_TABLE)
def test_status_maps_to_class_and_exit_code(code: grpc.StatusCode, cls: type, exit_code: int) -> None:
    """from_rpc_error picks the class of the status, keeps the message and the status."""
    err = errors.from_rpc_error(_FakeRpcError(code, "write quorum not met: 2 of 3 acks"))
    assert type(err) is cls
    assert err.code == code
    assert err.exit_code == exit_code
    assert str(err) == "write quorum not met: 2 of 3 acks"


@pytest.mark.parametrize("details,expected", [
    ("line one\nline two", "line one line two"),
    ("", "not found"),
    (None, "not found"),
    ("x" * 5000, "x" * (errors.MESSAGE_CHARS_MAX - 3) + "..."),
])
def test_server_message_is_kept_as_one_line(details: str | None, expected: str) -> None:
    """The server's message is kept on one bounded line; an empty one becomes the status name."""
    err = errors.from_rpc_error(_FakeRpcError(grpc.StatusCode.NOT_FOUND, details))
    assert str(err) == expected


def test_rpc_error_without_a_status_is_unknown() -> None:
    """A bare grpc.RpcError (no code()) is reported as UNKNOWN, exit 1, not a crash."""
    err = errors.from_rpc_error(grpc.RpcError())
    assert type(err) is errors.RingstoreError
    assert err.code == grpc.StatusCode.UNKNOWN and err.exit_code == 1


@pytest.mark.parametrize("bucket,ok", [
    ("abc", True), ("photos-2024", True), ("a" * 63, True), ("0-0", True),
    ("ab", False), ("a" * 64, False), ("Photos", False), ("pho_tos", False), ("", False),
    ("a/b", False), ("été", False),
])
def test_bucket_name_validation(bucket: str, ok: bool) -> None:
    """Bucket names are 3..63 of [a-z0-9-]; the message quotes the name and says the rule."""
    if ok:
        validate_bucket(bucket)
        return
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_bucket(bucket)
    assert str(caught.value) == (
        f"bucket name {bucket!r} is invalid: use 3..63 characters of a-z, 0-9 and '-'")


@pytest.mark.parametrize("key,message", [
    ("a", None),
    ("dir/sub/file.txt", None),
    ("é" * (KEY_LENGTH_BYTES_MAX // 2), None),
    ("", "key must not be empty"),
    ("k" * (KEY_LENGTH_BYTES_MAX + 1), "key is 1025 UTF-8 bytes; the limit is 1024"),
    ("é" * 513, "key is 1026 UTF-8 bytes; the limit is 1024"),
    ("ab\x00c", "key contains NUL at UTF-8 byte 2"),
    ("bad\udc80", "key 'bad\\udc80' is not valid UTF-8"),
])
def test_key_validation(key: str, message: str | None) -> None:
    """Keys are 1..1024 UTF-8 bytes without NUL; each failure has its own one-line message."""
    if message is None:
        validate_key(key)
        return
    with pytest.raises(errors.InvalidArgument) as caught:
        validate_key(key)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_prefix_may_be_empty_but_not_contain_nul() -> None:
    """An empty prefix lists everything; a prefix obeys the key rules otherwise."""
    validate_prefix("")
    with pytest.raises(errors.InvalidArgument, match="prefix contains NUL"):
        validate_prefix("a\x00")


@pytest.mark.parametrize("start,length,ok", [
    (None, None, True), (0, 0, True), (10, None, True), (None, 5, True),
    (-1, None, False), (0, -5, False), (1.5, None, False), (True, None, False),
])
def test_range_validation(start: object, length: object, ok: bool) -> None:
    """Range fields are unset or integers >= 0."""
    if ok:
        validate_range(start, length)  # type: ignore[arg-type]
    else:
        with pytest.raises(errors.InvalidArgument, match="must be an integer >= 0"):
            validate_range(start, length)  # type: ignore[arg-type]


@pytest.mark.parametrize("address,parsed", [
    ("127.0.0.1:7400", ("127.0.0.1", 7400)),
    ("node-a.example:1", ("node-a.example", 1)),
    ("[::1]:7400", ("[::1]", 7400)),
    ("127.0.0.1", None), (":7400", None), ("host:", None), ("host:port", None),
    ("host:0", None), ("host:70000", None), ("::1:7400", None), ("ho st:1", None),
])
def test_address_parsing(address: str, parsed: tuple[str, int] | None) -> None:
    """Addresses are HOST:PORT (IPv6 in brackets) with a port in 1..65535."""
    if parsed is not None:
        assert parse_address(address) == parsed
        return
    with pytest.raises(errors.InvalidArgument, match="address|port"):
        parse_address(address)


def test_stream_deadline_scales_with_size() -> None:
    """A stream's deadline is timeout_s plus its size at 10 MB/s."""
    assert STREAM_DEADLINE_BYTES_PER_S == 10_000_000
    assert stream_deadline_s(30.0, 0) == 30.0
    assert stream_deadline_s(30.0, 1_000_000_000) == pytest.approx(130.0)


def test_retry_backoff_doubles_is_capped_and_jittered() -> None:
    """Backoff doubles per attempt within [50 %, 100 %] of the step and never exceeds the cap."""
    rng = random.Random(7)
    for attempt in range(40):
        step_s = min(RETRY_BACKOFF_S_MAX, 0.2 * 2**attempt)
        wait_s = retry_backoff_s(0.2, attempt, rng)
        assert step_s * 0.5 <= wait_s <= step_s


def test_watchdog_cancels_call_once_its_deadline_passes() -> None:
    """A watchdog whose deadline has passed cancels its call and says it expired."""
    cancelled = threading.Event()

    class _Call:
        def cancel(self) -> bool:
            cancelled.set()
            return True

    watchdog = _Watchdog(time.monotonic() - 1.0)
    watchdog.start(_Call())  # type: ignore[arg-type]
    assert cancelled.wait(POLL_DEADLINE_S)
    assert watchdog.expired


def test_watchdog_stopped_in_time_never_cancels() -> None:
    """Stopping a watchdog before its deadline leaves the call alone."""
    class _Call:
        def cancel(self) -> bool:
            raise AssertionError("cancelled a call that finished in time")

    watchdog = _Watchdog(time.monotonic() + 3600)
    watchdog.start(_Call())  # type: ignore[arg-type]
    watchdog.stop()
    watchdog._thread.join(POLL_DEADLINE_S)
    assert not watchdog._thread.is_alive() and not watchdog.expired


# ---------------------------------------------------------------------------------------------
# Against a real in-process server
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: FakeServer, sleeps: list[float]) -> Iterator[Client]:
    with Client(address=server.address, timeout_s=10.0, retries_max=3, retry_backoff_s=0.1,
                sleep=sleeps.append, rng=random.Random(1)) as c:
        yield c


@pytest.mark.parametrize("call", [
    lambda c: c.create_bucket("BAD"),
    lambda c: c.put("photos", "", b"x"),
    lambda c: c.put("photos", "k\x00", b"x"),
    lambda c: c.get("ph", "k"),
    lambda c: c.get("photos", "k", range_start_bytes=-1),
    lambda c: c.stat("photos", "k" * 2000),
    lambda c: c.delete("photos", ""),
    lambda c: c.list("photos", page_size=0),
    lambda c: c.list("photos", page_size=10_001),
    lambda c: c.create_bucket("photos", replicas=0),
    lambda c: c.put("photos", "k", b"x", metadata={"a": 1}),
])
def test_bad_input_is_rejected_before_any_rpc(server: FakeServer, client: Client, call) -> None:
    """Obvious bad input raises InvalidArgument and sends nothing to the node."""
    with pytest.raises(errors.InvalidArgument):
        call(client)
    assert server.node.calls == []


def test_put_rejects_str_data() -> None:
    """A str is neither bytes nor a path: TypeError rather than a guess."""
    with Client(address="127.0.0.1:1") as c, pytest.raises(TypeError, match="pathlib.Path"):
        c.put("photos", "k", "hello")  # type: ignore[arg-type]


def test_client_rejects_bad_settings() -> None:
    """Address, timeout and retry settings are checked when the client is made."""
    for kwargs in ({"address": "nowhere"}, {"address": "127.0.0.1:1", "timeout_s": 0},
                   {"address": "127.0.0.1:1", "retries_max": -1},
                   {"address": "127.0.0.1:1", "retries_max": 1000}):
        with pytest.raises(errors.InvalidArgument):
            Client(**kwargs)  # type: ignore[arg-type]


def test_server_not_found_keeps_the_server_message(client: Client) -> None:
    """NOT_FOUND from the node is NotFound with the node's message, exit code 3."""
    client.create_bucket("photos")
    with pytest.raises(errors.NotFound) as caught:
        client.get("photos", "missing.jpg")
    assert str(caught.value) == "object photos/missing.jpg not found"
    assert caught.value.exit_code == 3


def test_unavailable_is_retried_with_backoff_then_succeeds(
        server: FakeServer, client: Client, sleeps: list[float]) -> None:
    """UNAVAILABLE is retried with growing waits; the call succeeds once the node recovers."""
    server.node.fail_next("ListBuckets", grpc.StatusCode.UNAVAILABLE, "too few live nodes", 2)
    assert client.list_buckets() == []
    assert server.node.calls == ["ListBuckets"] * 3
    assert len(sleeps) == 2
    assert 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2  # 0.1 s doubling, jittered


def test_bucket_create_and_remove_retries_carry_the_first_attempts_request_id(
        server: FakeServer, client: Client, sleeps: list[float]) -> None:
    """A create or removal retried after UNAVAILABLE sends the same request id every time, so the
    node answers a retry whose first attempt took effect as that attempt; the next call has a new id."""
    server.node.fail_next("CreateBucket", grpc.StatusCode.UNAVAILABLE, "answer lost", 2)
    client.create_bucket("photos")
    server.node.fail_next("DeleteBucket", grpc.StatusCode.UNAVAILABLE, "answer lost", 1)
    client.delete_bucket("photos")
    client.create_bucket("photos")
    ids = server.node.bucket_request_ids
    assert len(ids) == 6 and all(ids)
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4]
    assert len({ids[0], ids[3], ids[5]}) == 3


def test_unavailable_retries_are_bounded(server: FakeServer, client: Client,
                                         sleeps: list[float]) -> None:
    """After retries_max retries the last UNAVAILABLE is raised, with its message."""
    server.node.fail_next("ListBuckets", grpc.StatusCode.UNAVAILABLE, "1 of 3 nodes live", 10)
    with pytest.raises(errors.Unavailable, match="1 of 3 nodes live"):
        client.list_buckets()
    assert server.node.calls == ["ListBuckets"] * 4 and len(sleeps) == 3


@pytest.mark.parametrize("code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.DATA_LOSS,
                                  grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL])
def test_other_errors_are_not_retried(server: FakeServer, client: Client,
                                      code: grpc.StatusCode) -> None:
    """Only UNAVAILABLE is retried: anything else is raised after one call."""
    server.node.fail_next("ListBuckets", code, "no", 10)
    with pytest.raises(errors.RingstoreError) as caught:
        client.list_buckets()
    assert caught.value.code == code
    assert server.node.calls == ["ListBuckets"]


@pytest.mark.parametrize("make_data", [
    lambda data, tmp: data,
    lambda data, tmp: io.BytesIO(data),
    lambda data, tmp: (tmp / "f.bin", (tmp / "f.bin").write_bytes(data))[0],
])
@pytest.mark.parametrize("size, method", [(3000, "PutSmallObject"), (SMALL_PUT_BYTES_MAX, "PutSmallObject"),
                                          (SMALL_PUT_BYTES_MAX + 1, "PutObject"), (300_000, "PutObject")])
def test_replayable_put_is_retried_after_unavailable(
        server: FakeServer, client: Client, tmp_path: Path, make_data, size: int, method: str) -> None:
    """A put of bytes, a seekable file or a path is replayed in full after UNAVAILABLE, in one
    PutSmallObject message up to the small put limit and as a PutObject stream above it."""
    client.create_bucket("photos")
    data = os.urandom(size)
    server.node.fail_next(method, grpc.StatusCode.UNAVAILABLE, "node-b down", 1)
    info = client.put("photos", "a.bin", make_data(data, tmp_path))
    assert info.size_bytes == len(data)
    assert server.node.objects[("photos", "a.bin")][1] == data
    assert all(h.size_bytes == len(data) for h in server.node.put_headers)
    assert server.node.calls[1:] == [method, method]


def test_a_node_without_small_puts_gets_streams(server: FakeServer, client: Client) -> None:
    """A node from before PutSmallObject answers UNIMPLEMENTED: the put streams instead, and so do the
    client's later puts, without asking again."""
    client.create_bucket("photos")
    server.node.small_put_unimplemented = True
    client.put("photos", "a", b"first")
    client.put("photos", "b", b"second")
    assert server.node.calls[1:] == ["PutSmallObject", "PutObject", "PutObject"]
    assert server.node.objects[("photos", "a")][1] == b"first"
    assert server.node.objects[("photos", "b")][1] == b"second"


def test_pipe_put_is_not_retried(server: FakeServer, client: Client) -> None:
    """A put from a pipe cannot be replayed, so UNAVAILABLE is raised at once, without a size."""
    client.create_bucket("photos")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"streamed")
    os.close(write_fd)
    server.node.fail_next("PutObject", grpc.StatusCode.UNAVAILABLE, "node-b down", 1)
    with os.fdopen(read_fd, "rb") as pipe, pytest.raises(errors.Unavailable):
        client.put("photos", "p", pipe)
    assert server.node.calls.count("PutObject") == 1


def test_pipe_put_streams_without_size(server: FakeServer, client: Client) -> None:
    """A put from a pipe sends no size_bytes and stores what the pipe carried."""
    client.create_bucket("photos")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"x" * 5000)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        info = client.put("photos", "p", pipe, content_type="text/plain", metadata={"a": "b"})
    assert info.size_bytes == 5000 and info.content_type == "text/plain"
    assert info.metadata == {"a": "b"}
    assert not server.node.put_headers[-1].HasField("size_bytes")


def test_put_reports_progress_per_frame(client: Client) -> None:
    """progress() gets the bytes sent so far after each 1 MiB frame, ending at the size."""
    client.create_bucket("photos")
    seen: list[int] = []
    client.put("photos", "big", b"\x01" * (2 * 1024 * 1024 + 5), progress=seen.append)
    assert seen == [1024 * 1024, 2 * 1024 * 1024, 2 * 1024 * 1024 + 5]


def test_failing_source_raises_its_own_error_and_stores_nothing(
        server: FakeServer, client: Client) -> None:
    """An OSError while reading the data is raised as itself, and no object is stored."""
    client.create_bucket("photos")

    class _Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        client.put("photos", "broken", io.BufferedReader(_Broken()))
    assert ("photos", "broken") not in server.node.objects


def test_get_round_trip_and_ranges(client: Client) -> None:
    """get returns the bytes written, whole or by range, with the info and range filled in."""
    client.create_bucket("photos")
    data = os.urandom(200_000)
    put_info = client.put("photos", "a.bin", data)
    with client.get("photos", "a.bin") as reader:
        assert reader.info == put_info
        assert (reader.range_start_bytes, reader.range_length_bytes) == (0, len(data))
        assert reader.read() == data
    assert client.get_bytes("photos", "a.bin", range_start_bytes=100,
                            range_length_bytes=70_000) == data[100:70_100]
    assert client.get_bytes("photos", "a.bin", range_start_bytes=199_990) == data[199_990:]
    buffer = io.BytesIO()
    seen: list[int] = []
    assert client.get("photos", "a.bin").readinto_file(buffer, progress=seen.append) == len(data)
    assert buffer.getvalue() == data and seen[-1] == len(data)


def test_a_small_range_comes_whole_in_the_info_message(server: FakeServer, client: Client) -> None:
    """The client lets the node put a range of at most 64 KiB in the info message (one message
    instead of two); it reads it as the range's bytes, checks them against the blake3, and reads a
    larger range from data messages as before."""
    server.node.info_carries_data = True
    client.create_bucket("photos")
    small, large = os.urandom(3000), os.urandom(200_000)
    client.put("photos", "small", small)
    client.put("photos", "large", large)
    assert client.get_bytes("photos", "small") == small
    assert client.get_bytes("photos", "large") == large
    assert client.get_bytes("photos", "large", range_start_bytes=10, range_length_bytes=INFO_DATA_BYTES_MAX) == \
        large[10:10 + INFO_DATA_BYTES_MAX]
    assert all(request.info_may_carry_data for request in server.node.get_requests)
    info, _ = server.node.objects[("photos", "small")]
    server.node.objects[("photos", "small")] = (info, b"B" * 3000)
    with pytest.raises(errors.DataLoss, match="blake3"):
        client.get_bytes("photos", "small")


def test_a_resumed_get_reads_a_small_rest_from_the_info_message(server: FakeServer, client: Client) -> None:
    """A stream broken after its first 64 KiB frame resumes for the rest; when the rest fits, it
    comes whole in the resumed opening's answer (no second stream), and every byte arrives once."""
    server.node.info_carries_data = True
    client.create_bucket("photos")
    data = os.urandom(100_000)
    client.put("photos", "a.bin", data)
    server.node.get_break_after_bytes = 50_000
    assert client.get_bytes("photos", "a.bin") == data
    resumed = server.node.open_requests[-1]
    assert (resumed.range_start_bytes, resumed.range_length_bytes) == (65_536, 100_000 - 65_536)
    assert len(server.node.open_requests) == 2 and len(server.node.get_requests) == 1


def test_a_small_get_is_one_open_object_call(server: FakeServer, client: Client) -> None:
    """A range of at most 64 KiB comes whole in the OpenObject answer, with no GetObject stream; a
    longer one is streamed after it, as the answer says; both are checked against the blake3."""
    client.create_bucket("photos")
    small, large = os.urandom(3000), os.urandom(200_000)
    client.put("photos", "small", small)
    client.put("photos", "large", large)
    assert client.get_bytes("photos", "small") == small
    assert (len(server.node.open_requests), len(server.node.get_requests)) == (1, 0)
    assert client.get_bytes("photos", "large") == large
    assert (len(server.node.open_requests), len(server.node.get_requests)) == (2, 1)
    assert client.get_bytes("photos", "large", range_start_bytes=7, range_length_bytes=10) == large[7:17]
    assert (len(server.node.open_requests), len(server.node.get_requests)) == (3, 1)
    info, _ = server.node.objects[("photos", "small")]
    server.node.objects[("photos", "small")] = (info, b"B" * 3000)
    with pytest.raises(errors.DataLoss, match="blake3"):
        client.get_bytes("photos", "small")


def test_a_node_without_open_object_is_read_through_get_object(server: FakeServer, client: Client) -> None:
    """A node from before OpenObject answers UNIMPLEMENTED: the get streams instead, and so do the
    client's later gets, without asking again."""
    server.node.open_object = False
    server.node.info_carries_data = True
    client.create_bucket("photos")
    client.put("photos", "a", b"first")
    client.put("photos", "b", b"second")
    assert client.get_bytes("photos", "a") == b"first"
    assert client.get_bytes("photos", "b") == b"second"
    gets = [call for call in server.node.calls if call in ("OpenObject", "GetObject")]
    assert gets == ["GetObject", "GetObject"]  # the refused OpenObject never reached the handler's log
    assert len(server.node.get_requests) == 2


def test_open_object_errors_are_the_get_s_errors(server: FakeServer, client: Client) -> None:
    """OpenObject's failures reach the caller as a get's would: a missing object is NotFound at once;
    UNAVAILABLE is retried (within retries_max) and the read succeeds."""
    client.create_bucket("photos")
    with pytest.raises(errors.NotFound):
        client.get_bytes("photos", "missing")
    client.put("photos", "a", b"abc")
    server.node.fail_next("OpenObject", grpc.StatusCode.UNAVAILABLE, "node-b down", 2)
    assert client.get_bytes("photos", "a") == b"abc"
    assert server.node.calls.count("OpenObject") == 4


def test_get_out_of_range_raises_at_start(client: Client) -> None:
    """A range past the end is OutOfRange, raised by get() itself, exit code 7."""
    client.create_bucket("photos")
    client.put("photos", "a", b"12345")
    with pytest.raises(errors.OutOfRange, match="past the end") as caught:
        client.get("photos", "a", range_start_bytes=5)
    assert caught.value.exit_code == 7


def test_get_resumes_after_mid_stream_unavailable(server: FakeServer, client: Client) -> None:
    """A stream broken by UNAVAILABLE resumes at the first missing byte and returns every byte."""
    client.create_bucket("photos")
    data = os.urandom(300_000)
    client.put("photos", "a.bin", data)
    server.node.get_break_after_bytes = 100_000
    assert client.get_bytes("photos", "a.bin") == data
    resumed = server.node.get_requests[-1]
    assert resumed.range_start_bytes == 131_072  # two 64 KiB frames arrived before the break
    assert resumed.range_length_bytes == len(data) - 131_072


def test_get_mid_stream_error_without_retries_is_raised(server: FakeServer) -> None:
    """With no retries left, a mid-stream UNAVAILABLE is raised as Unavailable while iterating."""
    with Client(address=server.address, retries_max=0) as c:
        c.create_bucket("photos")
        c.put("photos", "a.bin", os.urandom(300_000))
        server.node.get_break_after_bytes = 0
        reader = c.get("photos", "a.bin")
        with pytest.raises(errors.Unavailable, match="went away mid-stream"):
            reader.read()


def test_get_detects_corrupt_bytes(server: FakeServer, client: Client) -> None:
    """Bytes that do not match the manifest's blake3 raise DataLoss instead of being returned."""
    client.create_bucket("photos")
    client.put("photos", "a.bin", b"A" * 100_000)
    info, _ = server.node.objects[("photos", "a.bin")]
    server.node.objects[("photos", "a.bin")] = (info, b"B" * 100_000)
    with pytest.raises(errors.DataLoss, match="blake3"):
        client.get_bytes("photos", "a.bin")


def test_listing_walks_every_page_in_key_order(server: FakeServer, client: Client) -> None:
    """list() yields pages until the token runs out; list_objects() flattens them by prefix."""
    client.create_bucket("photos")
    for name in ("b/2", "a/1", "b/1", "b/3", "c"):
        client.put("photos", name, name.encode())
    pages = list(client.list("photos", prefix="b/", page_size=2))
    assert [[o.key for o in p.objects] for p in pages] == [["b/1", "b/2"], ["b/3"]]
    assert pages[-1].next_page_token == ""
    assert [o.key for o in client.list_objects("photos", page_size=1)] == [
        "a/1", "b/1", "b/2", "b/3", "c"]


def test_bucket_lifecycle_errors(client: Client) -> None:
    """Creating twice is AlreadyExists; removing a non-empty bucket is FailedPrecondition."""
    info = client.create_bucket("photos", replicas=2)
    assert (info.name, info.replicas, info.policy) == ("photos", 2, "replicas=2")
    with pytest.raises(errors.AlreadyExists):
        client.create_bucket("photos")
    client.put("photos", "k", b"v")
    with pytest.raises(errors.FailedPrecondition, match="not empty: 1 objects") as caught:
        client.delete_bucket("photos")
    assert caught.value.exit_code == 6
    client.delete("photos", "k")
    client.delete_bucket("photos")
    assert client.list_buckets() == []


def test_results_are_plain_json_ready_dataclasses(client: Client) -> None:
    """stat, status and ring return dataclasses whose to_dict() is JSON-serialisable."""
    client.create_bucket("photos")
    client.put("photos", "big", b"z" * 10_000, metadata={"k": "v"})
    stat = client.stat("photos", "big")
    assert stat.info.metadata == {"k": "v"} and stat.info.version.endswith(".0.node-a")
    assert [h.state for h in stat.chunks[0].holders] == ["ALIVE", "ALIVE", "DOWN"]
    status = client.cluster_status()
    assert [m.state for m in status.members] == ["ALIVE", "ALIVE", "DOWN"]
    assert status.health == "degraded" and status.default_replicas == 3
    ring = client.ring()
    assert sorted(ring.ownership) == ["node-a", "node-b", "node-c"]
    for result in (stat, status, ring):
        json.dumps(result.to_dict())
