"""Limits on every string field of a client request (node/objects/validate.py), the client's copy
of them (nodectl.client), and the config's key length bound: table-driven, each side of each
limit."""

from __future__ import annotations

import base64

import pytest

from node import config, errors
from node.objects import validate
from nodectl import client as nodectl_client
from nodectl.client import Client
from nodectl.errors import InvalidArgument as ClientInvalidArgument
from nodectl_fakes import FakeServer


@pytest.mark.parametrize("check,value,fragment", [
    (validate.content_type, "x" * (validate.CONTENT_TYPE_BYTES_MAX + 1), "content type is 257 bytes"),
    (validate.content_type, "\u00e9" * 129, "content type is 258 bytes"),  # bytes, not characters
    (validate.content_type, "text/plain\r\n", "control character"),
    (validate.page_token, "A" * (validate.PAGE_TOKEN_BYTES_MAX + 1), "page_token is 1369 bytes"),
    (lambda v: validate.prefix(v, 1024), "p" * 1025, "prefix is 1025 bytes"),
    (lambda v: validate.prefix(v, 1024), "a\0", "NUL"),
    (lambda v: validate.object_key(v, 1024), "\u00e9" * 513, "object key is 1026 bytes"),
    (validate.bucket_name, "b" * 64, "bucket name"),
    (validate.metadata, {"": "v"}, "metadata name '' is 0 bytes"),
    (validate.metadata, {"n" * 129: "v"}, "is 129 bytes; give 1 to 128"),
    (validate.metadata, {"a\tb": "v"}, "control character"),
    (validate.metadata, {"n": "v" * 2049}, "metadata value of 'n' is 2049 bytes"),
    (validate.metadata, {f"k{i:03d}": "v" * 1000 for i in range(9)}, "metadata is 9036 bytes in all"),
    (validate.metadata, {f"k{i}": "" for i in range(65)}, "65 metadata entries"),
])
def test_values_past_a_limit_are_invalid_argument_with_one_line(check, value, fragment):
    """Each string field past its limit (measured in UTF-8 bytes) is INVALID_ARGUMENT whose one-line
    message names the field and the number."""
    with pytest.raises(errors.InvalidArgument) as info:
        check(value)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("check,value", [
    (validate.content_type, "x" * validate.CONTENT_TYPE_BYTES_MAX),
    (validate.content_type, "text/plain; charset=utf-8"),
    (validate.page_token, "A" * validate.PAGE_TOKEN_BYTES_MAX),
    (lambda v: validate.prefix(v, 1024), "p" * 1024),
    (validate.metadata, {"n" * 128: "v" * 2048, "m": ""}),
    (validate.metadata, {f"k{i}": "" for i in range(64)}),
])
def test_values_at_a_limit_pass(check, value):
    """The largest allowed value of each field passes."""
    check(value)


def test_the_longest_key_gives_a_page_token_within_its_limit():
    """The node issues page tokens as base64 of a key: the longest key's token fits the limit."""
    token = base64.urlsafe_b64encode(("\u00e9" * 512).encode()).decode()
    assert validate.page_token(token) == token


def test_client_and_config_agree_with_the_node_limits():
    """nodectl's copies of the limits and the config's key bound equal the node's own."""
    assert nodectl_client.KEY_LENGTH_BYTES_MAX == validate.KEY_LENGTH_BYTES_MAX
    assert nodectl_client.CONTENT_TYPE_BYTES_MAX == validate.CONTENT_TYPE_BYTES_MAX
    assert nodectl_client.METADATA_ENTRIES_MAX == validate.METADATA_ENTRIES_MAX
    assert nodectl_client.METADATA_KEY_BYTES_MAX == validate.METADATA_KEY_BYTES_MAX
    assert nodectl_client.METADATA_VALUE_BYTES_MAX == validate.METADATA_VALUE_BYTES_MAX
    assert nodectl_client.METADATA_BYTES_MAX == validate.METADATA_BYTES_MAX
    assert config.KEY_LENGTH_BYTES_LIMIT == validate.KEY_LENGTH_BYTES_MAX
    assert config.StorageConfig().key_length_bytes_max == validate.KEY_LENGTH_BYTES_MAX
    with pytest.raises(config.ConfigError, match="key_length_bytes_max must be in 1..1024"):
        config.StorageConfig(key_length_bytes_max=2048)


def test_client_refuses_a_long_content_type_before_sending_anything():
    """Client.put with a content type past the limit raises InvalidArgument and makes no call."""
    with FakeServer() as server, Client(address=server.address, timeout_s=5.0) as c:
        with pytest.raises(ClientInvalidArgument, match="content type is 257 bytes"):
            c.put("photos", "k", b"data", content_type="x" * 257)
        with pytest.raises(ClientInvalidArgument, match="metadata value"):
            c.put("photos", "k", b"data", metadata={"n": "v" * 2049})
        assert server.node.calls == []
