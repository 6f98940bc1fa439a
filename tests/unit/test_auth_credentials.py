"""Client credentials (ringstore/auth/credentials.py): precedence of arguments, environment and
profile file, half-given pairs refused, the profile file's permissions, what a profile says about
the CA and address, and `write_profile`'s modes and atomic one-section update."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ringstore.auth import credentials
from ringstore.auth.credentials import Credentials, Profile

ARG = Credentials("RKARGARGARGARGARGARG", "arg-secret-arg-secret-arg-secret-arg-sec")
ENV = Credentials("RKENVENVENVENVENVENV", "env-secret-env-secret-env-secret-env-sec")
DEFAULT = Credentials("RKDEFAVLTDEFAVLTDEFA", "default-secret-default-secret-default-se")
BOB = Credentials("RKBQBBQBBQBBQBBQBBQB", "bob-secret-bob-secret-bob-secret-bob-sec")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), **extra}


def _env_keys(creds: Credentials = ENV) -> dict[str, str]:
    return {"RINGSTORE_ACCESS_KEY_ID": creds.key_id, "RINGSTORE_SECRET_ACCESS_KEY": creds.secret}


@pytest.fixture
def home(tmp_path) -> Path:
    """A home whose ~/.config/ringstore/credentials holds [default] and [bob]."""
    path = tmp_path / "home" / ".config" / "ringstore" / "credentials"
    credentials.write_profile(str(path), "default", DEFAULT)
    credentials.write_profile(str(path), "bob", BOB, ca="ca.crt", address="127.0.0.2:7400")
    return tmp_path / "home"


def _file(home: Path) -> Path:
    return home / ".config" / "ringstore" / "credentials"


# --- Credentials -------------------------------------------------------------------------------

def test_the_repr_of_credentials_and_profiles_hides_the_secret():
    profile = Profile(name="x", path="/p", credentials=ARG)
    for text in (repr(ARG), str(ARG), repr(profile), str(profile)):
        assert ARG.secret not in text
    assert "RKARGARGARGARGARGARG" in repr(ARG) and "<hidden>" in repr(ARG)


@pytest.mark.parametrize("key_id, secret, expected", [
    ("AKIA", "secret", "access key id 'AKIA' is not valid"),
    ("RKARGARGARGARGARGARG", "", "secret of access key RKARGARGARGARGARGARG is not valid"),
    ("RKARGARGARGARGARGARG", "two words", "no spaces or control characters"),
    ("RKARGARGARGARGARGARG", "x" * 257, "1 to 256 characters"),
])
def test_credentials_refuse_a_bad_key_id_or_secret_without_quoting_the_secret(key_id, secret, expected):
    with pytest.raises(ValueError, match=expected) as caught:
        Credentials(key_id, secret)
    assert not secret or secret not in str(caught.value)


# --- precedence --------------------------------------------------------------------------------

def test_arguments_beat_the_environment_which_beats_the_profile_file(home):
    env = _env(home, **_env_keys())
    assert credentials.resolve(ARG.key_id, ARG.secret, env=env) == ARG
    assert credentials.resolve(env=env) == ENV
    assert credentials.resolve(env=_env(home)) == DEFAULT


def test_a_profile_named_as_an_argument_beats_keys_in_the_environment(home):
    """`--profile bob` means bob, whatever an old export left behind."""
    assert credentials.resolve(profile="bob", env=_env(home, **_env_keys())) == BOB


def test_ringstore_profile_picks_the_profile_but_does_not_beat_keys_in_the_environment(home):
    assert credentials.resolve(env=_env(home, RINGSTORE_PROFILE="bob")) == BOB
    assert credentials.resolve(env=_env(home, RINGSTORE_PROFILE="bob", **_env_keys())) == ENV
    assert credentials.resolve(profile="default", env=_env(home, RINGSTORE_PROFILE="bob")) == DEFAULT


def test_the_real_environment_is_read_by_default(home, monkeypatch):
    for name in ("RINGSTORE_PROFILE", "RINGSTORE_CREDENTIALS_FILE", "RINGSTORE_ACCESS_KEY_ID",
                 "RINGSTORE_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    assert credentials.resolve() == DEFAULT
    monkeypatch.setenv("RINGSTORE_ACCESS_KEY_ID", ENV.key_id)
    monkeypatch.setenv("RINGSTORE_SECRET_ACCESS_KEY", ENV.secret)
    assert credentials.resolve() == ENV


def test_no_source_at_all_gives_none(tmp_path):
    assert credentials.resolve(env=_env(tmp_path)) is None
    assert credentials.load_profile(env=_env(tmp_path)) is None


@pytest.mark.parametrize("key_id, secret", [(ARG.key_id, None), (None, ARG.secret), (ARG.key_id, "")])
def test_half_a_pair_of_arguments_is_refused(home, key_id, secret):
    with pytest.raises(ValueError, match="give both, or neither"):
        credentials.resolve(key_id, secret, env=_env(home, **_env_keys()))


def test_keys_and_a_profile_as_arguments_are_refused(home):
    with pytest.raises(ValueError, match="give an access key or a profile, not both"):
        credentials.resolve(ARG.key_id, ARG.secret, profile="bob", env=_env(home))


@pytest.mark.parametrize("given, missing", [("RINGSTORE_ACCESS_KEY_ID", "RINGSTORE_SECRET_ACCESS_KEY"),
                                            ("RINGSTORE_SECRET_ACCESS_KEY", "RINGSTORE_ACCESS_KEY_ID")])
def test_half_a_pair_in_the_environment_is_refused_not_completed_from_the_file(home, given, missing):
    env = _env(home, **{given: _env_keys()[given]})
    with pytest.raises(ValueError, match=f"{given} is set but {missing} is not: set both, or neither"):
        credentials.resolve(env=env)


def test_a_bad_key_id_in_the_environment_names_the_variables(home):
    with pytest.raises(ValueError, match=r"RINGSTORE_ACCESS_KEY_ID/RINGSTORE_SECRET_ACCESS_KEY: access key id"):
        credentials.resolve(env=_env(home, RINGSTORE_ACCESS_KEY_ID="nope", RINGSTORE_SECRET_ACCESS_KEY="x"))


def test_half_a_pair_in_a_profile_is_refused_naming_the_profile_and_file(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"[half]\naccess_key_id = {ARG.key_id}\n")
    path.chmod(0o600)
    with pytest.raises(ValueError, match=f"profile 'half' in {path} gives an access key id without its secret"):
        credentials.resolve(profile="half", env={}, path=str(path))


# --- the profile file --------------------------------------------------------------------------

def test_an_unknown_named_profile_lists_the_profiles_the_file_has(home):
    with pytest.raises(ValueError) as caught:
        credentials.resolve(profile="carol", env=_env(home))
    assert str(caught.value) == f"profile 'carol' is not in {_file(home)} (its profiles: bob, default)"
    with pytest.raises(ValueError, match="profile 'carol' is not in"):
        credentials.resolve(env=_env(home, RINGSTORE_PROFILE="carol"))


def test_a_named_profile_without_a_file_names_the_file(tmp_path):
    with pytest.raises(ValueError, match=f"profile 'bob' not found: the credentials file {tmp_path}/.+ does not exist"):
        credentials.resolve(profile="bob", env=_env(tmp_path))


def test_a_missing_default_profile_is_just_none(tmp_path):
    path = tmp_path / "credentials"
    credentials.write_profile(str(path), "bob", BOB)
    assert credentials.resolve(env={}, path=str(path)) is None


def test_ringstore_credentials_file_overrides_the_default_path(home, tmp_path):
    other = tmp_path / "elsewhere" / "creds"
    credentials.write_profile(str(other), "default", ARG)
    assert credentials.resolve(env=_env(home, RINGSTORE_CREDENTIALS_FILE=str(other))) == ARG
    with pytest.raises(ValueError, match="credentials file .*nowhere does not exist"):
        credentials.resolve(env=_env(home, RINGSTORE_CREDENTIALS_FILE=str(tmp_path / "nowhere")))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_a_credentials_file_open_to_group_or_others_is_refused_with_the_chmod(home, mode):
    """As ssh refuses a private key others may read."""
    _file(home).chmod(mode)
    with pytest.raises(ValueError) as caught:
        credentials.resolve(env=_env(home))
    assert str(caught.value) == (f"the credentials file {_file(home)} is open to group or others (mode {mode:04o}); "
                                 f"it holds secrets: run chmod 600 {_file(home)}")


def test_a_profile_gives_its_ca_resolved_and_its_address(home):
    profile = credentials.load_profile("bob", env=_env(home))
    assert profile == Profile(name="bob", path=str(_file(home)), credentials=BOB,
                              ca=str(_file(home).parent / "ca.crt"), address="127.0.0.2:7400")
    assert credentials.load_profile(env=_env(home)).ca is None


def test_a_ca_under_home_is_expanded_and_a_profile_may_hold_no_keys(tmp_path):
    path = tmp_path / "credentials"
    path.write_text("[public]\nca = ~/ring/ca.crt\naddress = 10.0.0.1:7400\n")
    path.chmod(0o600)
    profile = credentials.load_profile("public", env={"HOME": "/home/ann"}, path=str(path))
    assert profile.ca == "/home/ann/ring/ca.crt" and profile.credentials is None
    assert credentials.resolve(profile="public", env={}, path=str(path)) is None


@pytest.mark.parametrize("text, expected", [
    ("[bob]\nadress = 127.0.0.1:7400\n", "has unknown settings adress; a profile holds access_key_id, "
                                         "secret_access_key, ca, address"),
    ("[bob]\naccess_key_id = 1\n[bob]\n", "is not valid INI"),
    ("access_key_id = RKARGARGARGARGARGARG\n", "is not valid INI"),
    ("[bob]\naccess_key_id = AKIA\nsecret_access_key = s\n", "access key id 'AKIA' is not valid"),
])
def test_a_profile_file_that_does_not_parse_is_refused_in_one_line(tmp_path, text, expected):
    path = tmp_path / "credentials"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(ValueError, match=expected) as caught:
        credentials.load_profile("bob", env={}, path=str(path))
    assert "\n" not in str(caught.value)


def test_a_default_section_lends_nothing_to_other_profiles(tmp_path):
    """configparser's [DEFAULT] would fill every section; here it is just a profile of that name."""
    path = tmp_path / "credentials"
    path.write_text(f"[DEFAULT]\naccess_key_id = {ARG.key_id}\nsecret_access_key = {ARG.secret}\n[bob]\n"
                    "address = 127.0.0.1:7400\n")
    path.chmod(0o600)
    assert credentials.load_profile("bob", env={}, path=str(path)).credentials is None
    assert credentials.resolve(profile="DEFAULT", env={}, path=str(path)) == ARG


# --- write_profile -----------------------------------------------------------------------------

def test_write_profile_creates_the_file_0600_in_a_new_0700_directory(tmp_path):
    path = tmp_path / "cfg" / "ringstore" / "credentials"
    old_umask = os.umask(0)
    try:
        credentials.write_profile(str(path), "default", ARG, ca="/etc/ringstore/ca.crt")
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert path.read_text() == (f"[default]\naccess_key_id = {ARG.key_id}\nsecret_access_key = {ARG.secret}\n"
                                "ca = /etc/ringstore/ca.crt\n")
    assert credentials.resolve(env={}, path=str(path)) == ARG


def test_write_profile_replaces_one_section_and_keeps_the_others_and_their_comments(tmp_path):
    path = tmp_path / "credentials"
    original = (f"# my keys\n[default]\naccess_key_id = {DEFAULT.key_id}\nsecret_access_key = {DEFAULT.secret}\n\n"
                f"# bob's, from the ops team\n[bob]\naccess_key_id = {BOB.key_id}\nsecret_access_key = {BOB.secret}\n"
                "address = 127.0.0.9:7400\n")
    path.write_text(original)
    path.chmod(0o600)
    credentials.write_profile(str(path), "default", ARG)
    assert path.read_text() == original.replace(DEFAULT.key_id, ARG.key_id).replace(DEFAULT.secret, ARG.secret)
    credentials.write_profile(str(path), "new", ENV, address="127.0.0.3:7400")
    text = path.read_text()
    assert text.startswith(original.replace(DEFAULT.key_id, ARG.key_id).replace(DEFAULT.secret, ARG.secret))
    assert text.endswith(f"\n\n[new]\naccess_key_id = {ENV.key_id}\nsecret_access_key = {ENV.secret}\n"
                         "address = 127.0.0.3:7400\n")
    assert credentials.load_profile("bob", env={}, path=str(path)).address == "127.0.0.9:7400"
    assert credentials.resolve(profile="new", env={}, path=str(path)) == ENV
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials"], "no temporary file left"


def test_write_profile_replaces_the_whole_section(home):
    """What is given is what the section says: a ca not given again is gone."""
    credentials.write_profile(str(_file(home)), "bob", ARG)
    profile = credentials.load_profile("bob", env=_env(home))
    assert (profile.credentials, profile.ca, profile.address) == (ARG, None, None)
    assert credentials.resolve(env=_env(home)) == DEFAULT


def test_write_profile_never_loosens_permissions(tmp_path):
    """A 0400 file stays 0400 and an existing 0750 directory stays 0750."""
    directory = tmp_path / "dir"
    directory.mkdir()
    directory.chmod(0o750)
    path = directory / "credentials"
    credentials.write_profile(str(path), "default", DEFAULT)
    path.chmod(0o400)
    credentials.write_profile(str(path), "bob", BOB)
    assert _mode(path) == 0o400 and _mode(directory) == 0o750
    assert credentials.resolve(profile="bob", env={}, path=str(path)) == BOB


def test_write_profile_refuses_to_put_a_secret_in_a_file_others_can_read(home):
    _file(home).chmod(0o644)
    before = _file(home).read_bytes()
    with pytest.raises(ValueError, match=f"run chmod 600 {_file(home)}"):
        credentials.write_profile(str(_file(home)), "bob", ARG)
    assert _file(home).read_bytes() == before and _mode(_file(home)) == 0o644


def test_write_profile_through_a_symlink_replaces_the_target(home, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(_file(home))
    credentials.write_profile(str(link), "carol", ARG)
    assert link.is_symlink() and credentials.resolve(profile="carol", env={}, path=str(_file(home))) == ARG


@pytest.mark.parametrize("name, kwargs, expected", [
    ("bad name", {}, "profile name 'bad name' is not valid"),
    ("x]", {}, "profile name 'x]' is not valid"),
    ("", {}, "profile name '' is not valid"),
    ("ok", {"ca": "a\nb"}, "ca 'a\\\\nb' cannot be written to a profile"),
    ("ok", {"address": " 127.0.0.1:7400"}, "cannot be written to a profile"),
])
def test_write_profile_refuses_names_and_values_the_file_cannot_hold(tmp_path, name, kwargs, expected):
    with pytest.raises(ValueError, match=expected):
        credentials.write_profile(str(tmp_path / "credentials"), name, ARG, **kwargs)
    assert not (tmp_path / "credentials").exists()


def test_write_profile_rewrites_the_whole_file_when_editing_the_text_would_change_another_profile(tmp_path):
    """An indented "[bob]" after a setting continues that setting's value for configparser: editing
    it as a header would corrupt profile a, so the file is written again from what it parses to."""
    path = tmp_path / "credentials"
    path.write_text("[a]\naddress = first\n  [bob]\n")
    path.chmod(0o600)
    credentials.write_profile(str(path), "bob", BOB)
    assert credentials._parse(path.read_text(), str(path)) == {
        "a": {"address": "first\n[bob]"},
        "bob": {"access_key_id": BOB.key_id, "secret_access_key": BOB.secret}}
    assert credentials.resolve(profile="bob", env={}, path=str(path)) == BOB


def test_a_credentials_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "credentials"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(ValueError, match="is not a regular file"):
        credentials.resolve(env={}, path=str(fifo))
