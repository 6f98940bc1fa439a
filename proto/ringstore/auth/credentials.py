"""Where a client finds its access key, as the AWS CLI does: arguments, the environment, a profile
file.

**Precedence.** `resolve` takes the first of:

1. `key_id` and `secret` given as arguments (both or neither);
2. a profile named as an argument (`nodectl --profile NAME`), from the profile file;
3. RINGSTORE_ACCESS_KEY_ID and RINGSTORE_SECRET_ACCESS_KEY (both or neither);
4. the profile named by RINGSTORE_PROFILE, else `default`, from the profile file.

A profile named on the command line beats keys in the environment (as `aws --profile` and boto3's
`Session(profile_name=...)` do): someone who typed `--profile bob` means bob, whatever an old
`export` left behind. A profile named only by RINGSTORE_PROFILE does not: it is the environment's
default, and the environment's keys are more specific. A half-given pair (an id without a secret)
is an error, never filled from the next source: mixing two keys gives a signature that fails with a
message about neither.

**The profile file** is `~/.config/ringstore/credentials` (RINGSTORE_CREDENTIALS_FILE overrides
it), INI with one `[NAME]` section per profile holding `access_key_id`, `secret_access_key`, and
optionally `ca` (the cluster CA file; `~` and paths relative to the file's directory are resolved)
and `address` (a node's client address), so `--profile NAME` can say where to connect and whom to
trust as well as who is calling. A setting other than these is refused with the list, so a typo
(`adress`) fails loudly instead of being ignored. A named profile the file lacks is an error naming
the file and the profiles it has; a missing `default` is just "no credentials" (the call then fails
on the node with "this call needs an access key", or succeeds if it needs none).

**Permissions.** A credentials file that group or others may read or write is refused with the
`chmod` that fixes it, as ssh refuses a private key: checked on the open file (fstat), not by name,
so it cannot change between the check and the read. `write_profile` creates the file 0600 (its
directory 0700 when it makes it), refuses to write a secret into a file others can read, and
replaces one section through a temporary file and `os.replace`, so a crash leaves the old file or
the new one, never half of either. It edits the text, keeping comments and every other section as
they were; if the edited text would not parse back to exactly the intended profiles, it rewrites
the file from the parsed profiles instead (comments lost, settings kept).
"""

from __future__ import annotations

import configparser
import dataclasses
import io
import os
import re
import secrets
import stat
from collections.abc import Mapping

from ringstore.auth.keys import check_key_id

ENV_KEY_ID = "RINGSTORE_ACCESS_KEY_ID"
ENV_SECRET = "RINGSTORE_SECRET_ACCESS_KEY"
ENV_PROFILE = "RINGSTORE_PROFILE"
ENV_CREDENTIALS_FILE = "RINGSTORE_CREDENTIALS_FILE"
DEFAULT_PROFILE = "default"
DEFAULT_PATH_IN_HOME = os.path.join(".config", "ringstore", "credentials")
SETTING_KEY_ID = "access_key_id"
SETTING_SECRET = "secret_access_key"
SETTING_CA = "ca"
SETTING_ADDRESS = "address"
SETTINGS = (SETTING_KEY_ID, SETTING_SECRET, SETTING_CA, SETTING_ADDRESS)
PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FILE_MODE = 0o600
DIR_MODE = 0o700
# Largest credentials file read, in bytes: a few hundred profiles; anything bigger is not one.
CREDENTIALS_FILE_BYTES_MAX = 1024 * 1024
# Longest secret taken, in characters (ours are 40).
SECRET_CHARS_MAX = 256
# configparser's DEFAULT section would lend its settings to every profile; no profile is special.
_NO_DEFAULT_SECTION = "\x00no default section"
_HEADER_RE = re.compile(r"^\s*\[(?P<name>.+)\]")
_UNPRINTABLE_RE = re.compile(r"[\x00-\x20\x7f]")


@dataclasses.dataclass(frozen=True)
class Credentials:
    """An access key as a client holds it. The repr never shows the secret."""

    key_id: str
    secret: str

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if (not isinstance(self.secret, str) or not 1 <= len(self.secret) <= SECRET_CHARS_MAX
                or _UNPRINTABLE_RE.search(self.secret)):
            raise ValueError(f"the secret of access key {self.key_id} is not valid: it is 1 to {SECRET_CHARS_MAX} "
                             "characters with no spaces or control characters, as printed when the key was created")

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, secret=<hidden>)"


@dataclasses.dataclass(frozen=True)
class Profile:
    """One section of the profile file: who calls (if it says), whom to trust, where to connect."""

    name: str
    path: str
    credentials: Credentials | None
    ca: str | None = None  # an absolute path
    address: str | None = None


def credentials_path(path: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """The profile file: `path`, else RINGSTORE_CREDENTIALS_FILE, else ~/.config/ringstore/credentials."""
    if path:
        return os.fspath(path)
    if env.get(ENV_CREDENTIALS_FILE):
        return env[ENV_CREDENTIALS_FILE]
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, DEFAULT_PATH_IN_HOME)


def _pair(key_id: str | None, secret: str | None, what: str) -> Credentials | None:
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        raise ValueError(f"{what} gives {'an access key id' if key_id else 'a secret'} without "
                         f"{'its secret' if key_id else 'its access key id'}: give both, or neither")
    return Credentials(key_id, secret)


def resolve(key_id: str | None = None, secret: str | None = None, profile: str | None = None,
            env: Mapping[str, str] = os.environ, path: str | None = None) -> Credentials | None:
    """The credentials a client should call with (precedence in the module docstring), or None
    when no source gives any. ValueError, one line, for half a pair, a named profile that does not
    exist, or a profile file others may read."""
    if key_id is not None or secret is not None:
        if profile is not None:
            raise ValueError("give an access key or a profile, not both")
        return _pair(key_id, secret, "the caller")
    if profile is None:
        env_key_id, env_secret = env.get(ENV_KEY_ID) or None, env.get(ENV_SECRET) or None
        if env_key_id or env_secret:
            if not (env_key_id and env_secret):
                is_set, unset = (ENV_KEY_ID, ENV_SECRET) if env_key_id else (ENV_SECRET, ENV_KEY_ID)
                raise ValueError(f"{is_set} is set but {unset} is not: set both, or neither")
            try:
                return Credentials(env_key_id, env_secret)
            except ValueError as err:
                raise ValueError(f"{ENV_KEY_ID}/{ENV_SECRET}: {err}") from None
    loaded = load_profile(profile, env=env, path=path)
    return loaded.credentials if loaded is not None else None


def load_profile(name: str | None = None, *, env: Mapping[str, str] = os.environ,
                 path: str | None = None) -> Profile | None:
    """The profile `name` (else RINGSTORE_PROFILE, else "default") from the profile file. None
    when the default profile is not there (or the file is not, unless named); ValueError for a named
    profile that is missing, a file others may read, or settings that do not parse."""
    named = name is not None or bool(env.get(ENV_PROFILE))
    name = name if name is not None else (env.get(ENV_PROFILE) or DEFAULT_PROFILE)
    file_named = bool(path) or bool(env.get(ENV_CREDENTIALS_FILE))
    file_path = credentials_path(path, env)
    try:
        text, _ = _read_private(file_path)
    except FileNotFoundError:
        if named:
            raise ValueError(f"profile {name!r} not found: the credentials file {file_path} does not exist") from None
        if file_named:
            raise ValueError(f"the credentials file {file_path} does not exist") from None
        return None
    sections = _parse(text, file_path)
    if name not in sections:
        if not named:
            return None
        have = ", ".join(sorted(sections)) or "none"
        raise ValueError(f"profile {name!r} is not in {file_path} (its profiles: {have})")
    return _profile(name, file_path, sections[name], env)


def _read_private(path: str) -> tuple[str, int]:
    """The text of `path` and its permission bits, refusing a file group or others may open."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block before the S_ISREG check
    except FileNotFoundError:
        raise
    except OSError as err:
        raise ValueError(f"cannot read the credentials file {path}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"the credentials file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ValueError(f"the credentials file {path} is open to group or others (mode {mode:04o}); it holds "
                             f"secrets: run chmod 600 {path}")
        data = f.read(CREDENTIALS_FILE_BYTES_MAX + 1)
    if len(data) > CREDENTIALS_FILE_BYTES_MAX:
        raise ValueError(f"the credentials file {path} is larger than {CREDENTIALS_FILE_BYTES_MAX} bytes; is it "
                         "the right file?")
    try:
        return data.decode("utf-8"), mode
    except UnicodeDecodeError:
        raise ValueError(f"the credentials file {path} is not UTF-8 text") from None


def _parser() -> configparser.ConfigParser:
    return configparser.ConfigParser(interpolation=None, default_section=_NO_DEFAULT_SECTION, strict=True)


def _parse(text: str, path: str) -> dict[str, dict[str, str]]:
    parser = _parser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as err:
        raise ValueError(f"the credentials file {path} is not valid INI: {' '.join(str(err).split())}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _profile(name: str, path: str, settings: dict[str, str], env: Mapping[str, str]) -> Profile:
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValueError(f"profile {name!r} in {path} has unknown settings {', '.join(unknown)}; a profile holds "
                         f"{', '.join(SETTINGS)}")
    try:
        creds = _pair(settings.get(SETTING_KEY_ID) or None, settings.get(SETTING_SECRET) or None,
                      f"profile {name!r} in {path}")
    except ValueError as err:
        message = str(err)
        if not message.startswith("profile"):
            message = f"profile {name!r} in {path}: {message}"
        raise ValueError(message) from None
    ca = settings.get(SETTING_CA) or None
    if ca is not None:
        home = env.get("HOME") or os.path.expanduser("~")
        if ca == "~" or ca.startswith("~/"):
            ca = home + ca[1:]
        ca = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), ca))
    return Profile(name=name, path=path, credentials=creds, ca=ca, address=settings.get(SETTING_ADDRESS) or None)


def write_profile(path: str, name: str, credentials: Credentials, *, ca: str | None = None,
                  address: str | None = None) -> str:
    """Write profile `name` (its whole section: these settings and no others) into the file at
    `path`, creating it 0600 (and its directory 0700) or replacing that one section atomically.
    Never loosens the permissions of a file or directory that exists. Returns the path written."""
    if not isinstance(name, str) or PROFILE_NAME_RE.fullmatch(name) is None:
        raise ValueError(f"profile name {str(name)[:70]!r} is not valid: use 1 to 64 characters from A-Z, a-z, 0-9, "
                         "'_', '.' and '-', starting with a letter or digit")
    if not isinstance(credentials, Credentials):
        raise TypeError("credentials must be a ringstore.auth.credentials.Credentials")
    settings = {SETTING_KEY_ID: credentials.key_id, SETTING_SECRET: credentials.secret}
    for setting, value in ((SETTING_CA, ca), (SETTING_ADDRESS, address)):
        if value is None:
            continue
        value = os.fspath(value)
        if not value or value != value.strip() or any(c in value for c in "\r\n"):
            raise ValueError(f"{setting} {value[:70]!r} cannot be written to a profile: give a non-empty value on "
                             "one line, without surrounding spaces")
        settings[setting] = value
    # Replace the file a symlink points at, not the link.
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        try:
            os.makedirs(directory, mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)  # makedirs' mode is filtered by the umask
        except FileExistsError:  # made meanwhile by someone else: theirs, left as it is
            pass
    try:
        old_text, old_mode = _read_private(target)
    except FileNotFoundError:
        old_text, old_mode = "", FILE_MODE
    old_sections = _parse(old_text, target)
    wanted = {**old_sections, name: settings}
    new_text = _with_section(old_text, name, settings)
    if _parse(new_text, target) != wanted:
        new_text = _render(wanted)
    replace_file(target, new_text.encode("utf-8"), old_mode & FILE_MODE)
    return target


def _section_lines(name: str, settings: dict[str, str]) -> list[str]:
    return [f"[{name}]\n"] + [f"{setting} = {value}\n" for setting, value in settings.items()]


def _render(sections: dict[str, dict[str, str]]) -> str:
    parser = _parser()
    parser.read_dict(sections)
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def _header(line: str) -> str | None:
    match = _HEADER_RE.match(line)
    return match.group("name") if match else None


def _with_section(text: str, name: str, settings: dict[str, str]) -> str:
    """`text` with section `name` replaced by `settings` (appended when absent). Comment and blank
    lines just before the next section stay with that section."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    block = _section_lines(name, settings)
    for start, line in enumerate(lines):
        if _header(line) != name:
            continue
        end = start + 1
        while end < len(lines) and _header(lines[end]) is None:
            end += 1
        kept_from = end
        while kept_from > start + 1 and (not lines[kept_from - 1].strip()
                                         or lines[kept_from - 1].lstrip().startswith(("#", ";"))):
            kept_from -= 1
        tail = lines[kept_from:end]
        if end < len(lines) and (not tail or tail[0].strip()):
            tail = ["\n"] + tail
        return "".join(lines[:start] + block + tail + lines[end:])
    separator = ["\n"] if lines and lines[-1].strip() else []
    return "".join(lines + separator + block)


def replace_file(path: str, data: bytes, mode: int) -> None:
    """Write `data` to `path` through a temporary file in its directory (private from its first
    byte, then `mode`), fsynced, then rename it into place and fsync the directory."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
