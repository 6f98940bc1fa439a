"""nodectl's share link commands without a cluster: `share` routes BUCKET/KEY to `share create` and
names to `ls`/`revoke`, `get --link` takes the object from the token (and refuses a token that is
not one before any call), and the client sends a link call unsigned with the token in its metadata.
The live behaviour (tokens that work, revocation, exit codes 9 and 11) is
tests/integration/test_share_links_live.py."""

from __future__ import annotations

from click.testing import CliRunner, Result

from nodectl import cli
from nodectl.client.auth import SigningInterceptor, _Details
from nodectl.client.objects import _with_link
from nodectl.errors import InvalidArgument
from ringstore.auth import links
from ringstore.auth.credentials import Credentials
from ringstore.auth.keys import new_access_key

TOKEN = links.encode(links.LinkGrant(
    link_id="RLABCDEFGHIJKLMNOPQR", key_id="RKABCDEFGHIJKLMNOPQR", tenant="acme", bucket="photos",
    bucket_created_at_unix_ms=1, key="2026/cat.jpg", created_at_unix_ms=2, expires_at_unix_ms=3), b"k" * 32)


def _run(*args: str, env: dict | None = None) -> Result:
    return CliRunner().invoke(cli.main, ["--retries-max", "0", *args],
                              env={"RINGSTORE_ADDR": None, **(env or {})})


def test_share_routes_an_object_to_create_and_names_to_their_commands():
    assert "Make a link to BUCKET/KEY" in _run("share", "photos/cat.jpg", "--help").stdout
    assert "Make a link to BUCKET/KEY" in _run("share", "--expires-in", "1h", "photos/cat.jpg", "--help").stdout
    assert "List share links" in _run("share", "ls", "--help").stdout
    assert "Revoke LINK_ID" in _run("share", "revoke", "--help").stdout
    listed = _run("share", "--help").stdout
    assert all(name in listed for name in ("create", "ls", "revoke"))
    # Routed to create, which needs a node: the usage error says so (exit 2), nothing else.
    made = _run("share", "photos/cat.jpg")
    assert made.exit_code == 2 and "no node address" in made.stderr, made.stderr
    bad = _run("share", "photos/cat.jpg", "--range", "9-3", env={"RINGSTORE_ADDR": "127.0.0.1:1"})
    assert bad.exit_code == 2 and "ends before it starts" in bad.stderr


def test_get_with_a_link_takes_the_object_from_the_token():
    missing = _run("get", "photos/cat.jpg", env={"RINGSTORE_ADDR": "127.0.0.1:1"})
    assert missing.exit_code == 2 and "Missing argument 'LOCAL_PATH|-'" in missing.stderr
    garbage = _run("get", "--link", "not-a-link", "out", env={"RINGSTORE_ADDR": "127.0.0.1:1",
                                                              "RINGSTORE_INSECURE": "1"})
    assert garbage.exit_code == 2 and garbage.stderr.count("\n") == 1
    assert "the share link is not of the form rsl1.<payload>.<mac>" in garbage.stderr
    assert _with_link("", "", TOKEN) == ("photos", "2026/cat.jpg", (("x-ringstore-link", TOKEN),))
    assert _with_link("photos", "other", " " + TOKEN + "\n")[:2] == ("photos", "other")  # named: the node decides
    assert _with_link("b", "k", None) == ("b", "k", ())
    try:
        _with_link("", "", TOKEN.replace("rsl1.", "rsl2.", 1))
    except InvalidArgument as err:
        assert "has format 'rsl2'" in str(err)
    else:
        raise AssertionError("a token of another format was taken")


def test_a_call_with_a_link_is_sent_unsigned():
    signer = SigningInterceptor(Credentials(*new_access_key()))
    plain = _Details("/ringstore.v1.ObjectService/GetObject", 5.0, [], None, None, None)
    signed = signer._signed(plain, "photos/2026/cat.jpg")
    assert {name for name, _ in signed.metadata} == {"x-ringstore-key-id", "x-ringstore-date-ms",
                                                     "x-ringstore-signature"}
    linked = _Details("/ringstore.v1.ObjectService/GetObject", 5.0, [(links.HEADER_LINK, TOKEN)], None, None, None)
    assert signer._signed(linked, "photos/2026/cat.jpg").metadata == [(links.HEADER_LINK, TOKEN)]
