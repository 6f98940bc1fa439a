"""deploy/ against the real command lines: every flag the systemd unit, the container entrypoint
and the deploy docs give noded or nodectl must exist there, and the command lines they build
must parse, so renaming a flag fails here instead of in someone's deployment. Also the few facts
the files share (exit codes, environment variable names, the readiness file). No network, no
containers: the entrypoint runs against a stand-in `noded` that prints its arguments."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import tomllib
from pathlib import Path

import click
import pytest

from node import daemon
from node.daemon import main as noded_main
from nodectl.cli import main as nodectl_main

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "ringstore-noded.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "noded.env.example"
ENTRYPOINT = DEPLOY / "container" / "entrypoint.sh"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
KUBERNETES = DEPLOY / "kubernetes"
STATEFULSET = KUBERNETES / "statefulset.yaml"

FLAG_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
# Variables noded itself reads (the entrypoint passes them through untouched).
NODED_ENV = {"RINGSTORE_CLUSTER_SECRET"}


def _long_opts(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}


NODED_FLAGS = _long_opts(noded_main)


def _code(path: Path) -> str:
    """The text with shell-style comment lines dropped: comments may name flags in prose."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))


# -- systemd -------------------------------------------------------------------------------------

def _unit_settings() -> list[tuple[str, str]]:
    """(key, value) of every setting, continuation lines joined, in file order."""
    settings = []
    logical = ""
    for line in UNIT.read_text().splitlines():
        if not logical and (not line.strip() or line.lstrip().startswith(("#", ";", "["))):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        key, _, value = (logical + line).partition("=")
        settings.append((key.strip(), value.strip()))
        logical = ""
    return settings


def _unit_value(key: str) -> str:
    values = [v for k, v in _unit_settings() if k == key]
    assert len(values) == 1, f"{UNIT.name}: {key}= appears {len(values)} times"
    return values[0]


def _env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (quotes removed)."""
    env = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value)) if value.strip() else ""
    return env


def _systemd_expand(command: str, env: dict[str, str]) -> list[str]:
    """ExecStart's words as systemd makes them: `$VAR` alone is split into words (none when
    empty), `${VAR}` stays exactly one word."""
    words = []
    for word in shlex.split(command):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:
            words.extend(env[whole.group(1)].split())
        else:
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env[m.group(1)], word))
    return words


def _unit_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for key, value in _unit_settings():
        if key == "Environment":
            for item in shlex.split(value):
                name, _, val = item.partition("=")
                env[name] = val
    env.update(_env_file(ENV_EXAMPLE.read_text()))
    return env


def test_unit_passes_only_real_noded_flags():
    exec_start = _unit_value("ExecStart")
    used = set(FLAG_RE.findall(exec_start)) | set(FLAG_RE.findall(ENV_EXAMPLE.read_text()))
    assert used, "no flags found in ExecStart: has the unit's format changed?"
    assert used <= NODED_FLAGS, f"not noded flags: {sorted(used - NODED_FLAGS)}"


def test_unit_command_line_parses_as_noded_would():
    words = _systemd_expand(_unit_value("ExecStart"), _unit_env())
    assert Path(words[0]).name == "noded"
    params = noded_main.make_context("noded", words[1:]).params
    example = _env_file(ENV_EXAMPLE.read_text())
    assert params["node_id"] == example["NODE_ID"]
    assert params["advertise_address"] == example["ADVERTISE"]
    assert params["join_addresses"] == tuple(example["JOIN_ARGS"].split()[1::2])
    assert params["tls_cert"].endswith(f"/{example['NODE_ID']}.crt")
    assert params["listen_address"].endswith(":7400") and params["peer_listen_address"].endswith(":7401")
    assert params["cluster_secret_file"] and not params["insecure"]


def test_unit_first_node_needs_no_join():
    env = {**_unit_env(), "JOIN_ARGS": "", "ZONE": ""}
    params = noded_main.make_context("noded", _systemd_expand(_unit_value("ExecStart"), env)[1:]).params
    assert params["join_addresses"] == () and params["zone"] == ""


def test_unit_restart_policy_matches_noded_exit_codes():
    prevented = {int(code) for code in _unit_value("RestartPreventExitStatus").split()}
    assert prevented == {daemon.EXIT_CONFIG, daemon.EXIT_JOIN_REFUSED}
    assert daemon.EXIT_JOIN_UNREACHABLE not in prevented   # seeds may come back: retry
    assert daemon.EXIT_ADDRESS_UNAVAILABLE not in prevented   # a port held by a process going away frees itself
    assert _unit_value("Restart") == "on-failure"
    assert _unit_value("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert _unit_value("KillSignal") == "SIGTERM"
    data_dir = noded_main.make_context("noded", _systemd_expand(_unit_value("ExecStart"), _unit_env())[1:]) \
        .params["data_dir"]
    assert _unit_value("ReadWritePaths") == data_dir == f"/var/lib/{_unit_value('StateDirectory')}"
    assert _unit_value("ExecStartPre") == f"/bin/rm -f {data_dir}/node.json"


# -- container entrypoint ------------------------------------------------------------------------

def test_entrypoint_is_an_executable_posix_sh_script():
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    assert stat.S_IMODE(ENTRYPOINT.stat().st_mode) & 0o111 == 0o111
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


def test_entrypoint_passes_only_real_noded_flags():
    used = set(FLAG_RE.findall(_code(ENTRYPOINT)))
    assert "--node-id" in used
    assert used <= NODED_FLAGS, f"not noded flags: {sorted(used - NODED_FLAGS)}"


@pytest.fixture
def container(tmp_path: Path) -> dict:
    """A fake container: TLS files and a secret to mount, and a `noded` that prints its arguments."""
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    for name in ("node-7.crt", "node-7.key", "ca.crt"):
        (tls_dir / name).write_text(f"{name}\n")
    secret = tmp_path / "cluster.secret"
    secret.write_text("0123456789abcdef0123456789abcdef\n")
    secret.chmod(0o644)   # as a mounted Secret may be: the entrypoint's copy must be private
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "noded"
    stub.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
    stub.chmod(0o755)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "node.json").write_text("{}")   # left by a previous run
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "RINGSTORE_NODE_ID": "node-7",
           "RINGSTORE_ADVERTISE": "node-7.example.net:7401", "RINGSTORE_TLS_DIR": str(tls_dir),
           "RINGSTORE_CLUSTER_SECRET_FILE": str(secret), "RINGSTORE_RUN_DIR": str(tmp_path / "run"),
           "RINGSTORE_DATA_DIR": str(data_dir)}
    return {"env": env, "tmp": tmp_path, "data_dir": data_dir}


def _run_entrypoint(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30)


def test_entrypoint_builds_a_command_line_noded_accepts(container):
    env = {**container["env"], "RINGSTORE_JOIN": "a.example.net:7401, b.example.net:7401 c.example.net:7401",
           "RINGSTORE_ZONE": "rack-b", "RINGSTORE_CAPACITY_BYTES": "4000000000000"}
    done = _run_entrypoint(env, "--log-level", "debug")
    assert done.returncode == 0, done.stderr
    params = noded_main.make_context("noded", done.stdout.splitlines()).params
    run = container["tmp"] / "run"
    assert params["node_id"] == "node-7" and params["advertise_address"] == "node-7.example.net:7401"
    assert params["join_addresses"] == ("a.example.net:7401", "b.example.net:7401", "c.example.net:7401")
    assert params["zone"] == "rack-b" and params["capacity_bytes"] == 4_000_000_000_000
    assert params["listen_address"] == "0.0.0.0:7400" and params["peer_listen_address"] == "0.0.0.0:7401"
    assert params["metrics_address"] == "0.0.0.0:9400"
    assert params["log_level"] == "debug"   # the container's arguments win
    assert (params["tls_cert"], params["tls_key"], params["tls_ca"]) == (
        str(run / "tls" / "node.crt"), str(run / "tls" / "node.key"), str(run / "tls" / "ca.crt"))
    assert Path(params["tls_key"]).read_text() == "node-7.key\n"
    for private in (params["tls_key"], params["cluster_secret_file"]):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600, private
    assert params["data_dir"] == str(container["data_dir"]) and not params["insecure"]
    assert not (container["data_dir"] / "node.json").exists()


def test_entrypoint_passes_a_private_copy_of_a_mounted_master_keyring_only_when_there_is_one(container):
    params = noded_main.make_context("noded", _run_entrypoint(container["env"]).stdout.splitlines()).params
    assert params["master_key_file"] == ""
    keyring = container["tmp"] / "master.keys"
    keyring.write_text("ringstore master keys v1\n")
    keyring.chmod(0o644)   # as a mounted Secret may be
    done = _run_entrypoint({**container["env"], "RINGSTORE_MASTER_KEY_FILE": str(keyring)})
    assert done.returncode == 0, done.stderr
    params = noded_main.make_context("noded", done.stdout.splitlines()).params
    copy = container["tmp"] / "run" / "master.keys"
    assert params["master_key_file"] == str(copy) and copy.read_text() == keyring.read_text()
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600


def test_entrypoint_without_tls_files_fails_in_one_line(container):
    os.remove(container["env"]["RINGSTORE_TLS_DIR"] + "/node-7.key")
    done = _run_entrypoint(container["env"])
    assert done.returncode == daemon.EXIT_CONFIG and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    assert "node-7.key" in done.stderr and "RINGSTORE_INSECURE=1" in done.stderr


def test_entrypoint_insecure_needs_no_tls_files(container):
    env = {**container["env"], "RINGSTORE_INSECURE": "1", "RINGSTORE_TLS_DIR": "/nonexistent"}
    done = _run_entrypoint(env)
    assert done.returncode == 0, done.stderr
    params = noded_main.make_context("noded", done.stdout.splitlines()).params
    assert params["insecure"] and not params["tls_cert"] and params["join_addresses"] == ()


def test_entrypoint_secret_from_the_environment_is_left_to_noded(container):
    env = {**container["env"], "RINGSTORE_CLUSTER_SECRET": "0123456789abcdef0123456789abcdef",
           "RINGSTORE_CLUSTER_SECRET_FILE": "/nonexistent"}
    done = _run_entrypoint(env)
    assert done.returncode == 0, done.stderr
    assert "--cluster-secret-file" not in done.stdout.splitlines()


@pytest.mark.parametrize("missing", ["RINGSTORE_NODE_ID", "RINGSTORE_ADVERTISE"])
def test_entrypoint_requires_node_id_and_advertise(container, missing):
    env = {k: v for k, v in container["env"].items() if k != missing}
    done = _run_entrypoint(env)
    assert done.returncode == daemon.EXIT_CONFIG and missing in done.stderr


def test_entrypoint_reload_refuses_before_noded_serves(container):
    os.remove(container["data_dir"] / "node.json")
    done = _run_entrypoint(container["env"], "reload")
    assert done.returncode == daemon.EXIT_CONFIG and "not serving yet" in done.stderr


# -- container image and Kubernetes ---------------------------------------------------------------

def _entrypoint_variables() -> set[str]:
    return set(re.findall(r"\$\{?(RINGSTORE_[A-Z_]+)", ENTRYPOINT.read_text()))


def _statefulset_env() -> dict[str, str]:
    """name -> value of the container's `- name: X` / `value: Y` pairs (a folded `>-` value
    joined with spaces, as YAML does)."""
    lines = STATEFULSET.read_text().splitlines()
    env = {}
    for i, line in enumerate(lines[:-1]):
        name = re.fullmatch(r"\s*- name: (\S+)", line)
        value = re.fullmatch(r"(\s*)value: (.*)", lines[i + 1])
        if not (name and value):
            continue
        if value.group(2) == ">-":
            indent = len(value.group(1))
            folded = []
            for more in lines[i + 2:]:
                if len(more) - len(more.lstrip()) <= indent or more.lstrip().startswith("#"):
                    break
                folded.append(more.strip())
            env[name.group(1)] = " ".join(folded)
        else:
            env[name.group(1)] = value.group(2).strip('"')
    return env


def test_statefulset_and_image_set_only_variables_something_reads():
    readers = _entrypoint_variables() | NODED_ENV
    set_in_statefulset = set(re.findall(r"- name: (RINGSTORE_[A-Z_]+)", STATEFULSET.read_text()))
    set_in_image = set(re.findall(r"\b(RINGSTORE_[A-Z_]+)=", CONTAINERFILE.read_text()))
    assert set_in_statefulset, "no RINGSTORE_ variables found in the StatefulSet"
    assert set_in_statefulset | set_in_image <= readers, sorted((set_in_statefulset | set_in_image) - readers)
    assert "--" not in _code(STATEFULSET).replace("---", ""), "the StatefulSet passes noded flags directly"


def test_image_copies_what_the_package_is_built_from_and_runs_the_entrypoint():
    text = CONTAINERFILE.read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = {src for line in re.findall(r"^COPY (.+)$", text, re.M) for src in line.split()[:-1]}
    sources = {path.split("/")[0] for path in project["tool"]["setuptools"]["package-dir"].values()}
    needed = sources | {"pyproject.toml", project["project"]["readme"]}
    assert needed <= copied, f"the image build lacks {sorted(needed - copied)}"
    installed = re.search(r"^COPY deploy/container/entrypoint.sh (\S+)$", text, re.M).group(1)
    assert f'ENTRYPOINT ["{installed}"]' in text
    for doc in ("README.md", "kubernetes/README.md"):
        assert f"{Path(installed).name} reload" in (DEPLOY / doc).read_text(), doc
    metrics_port = re.search(r"RINGSTORE_METRICS_LISTEN:-[^}]*:(\d+)\}", ENTRYPOINT.read_text()).group(1)
    assert set(re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()) == {"7400", "7401", metrics_port}
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)


def test_every_entrypoint_variable_is_documented():
    readme = (DEPLOY / "README.md").read_text()
    missing = sorted(v for v in _entrypoint_variables() if f"`{v}`" not in readme)
    assert not missing, f"deploy/README.md's table lacks {missing}"


def test_statefulset_names_agree():
    text = STATEFULSET.read_text()
    env = _statefulset_env()
    headless = re.search(r"^  name: (\S+)", (KUBERNETES / "service-headless.yaml").read_text(), re.M).group(1)
    assert re.search(rf"^  serviceName: {headless}$", text, re.M)
    advertise = env["RINGSTORE_ADVERTISE"]
    assert advertise.startswith(f"$(POD_NAME).{headless}.") and advertise.endswith(":7401")
    joins = env["RINGSTORE_JOIN"].split()
    assert joins == [f"ringstore-{i}.{headless}.$(POD_NAMESPACE).svc.cluster.local:7401" for i in range(len(joins))]
    assert len(joins) >= 2, "pod 0 must be able to rejoin through another pod"
    probe = re.search(r'command: \["test", "-f", "([^"]+)"\]', text).group(1)
    assert probe == f"{env['RINGSTORE_DATA_DIR']}/node.json"
    mount = re.search(r"- name: data\n\s+mountPath: (\S+)", text).group(1)
    assert env["RINGSTORE_DATA_DIR"].startswith(mount + "/")
    assert re.search(r"podManagementPolicy: Parallel", text)
    grace = int(re.search(r"terminationGracePeriodSeconds: (\d+)", text).group(1))
    assert grace >= int(_unit_value("TimeoutStopSec"))


def test_manifests_are_plain_yaml_in_one_namespace():
    for path in sorted(KUBERNETES.glob("*.yaml")):
        text = path.read_text()
        assert "\t" not in text, f"{path.name}: tab characters"
        assert re.search(r"^apiVersion: \S+$", text, re.M) and re.search(r"^kind: \S+$", text, re.M), path.name
        if "kind: Namespace" not in text:
            assert re.search(r"^  namespace: ringstore$", text, re.M), f"{path.name}: not in namespace ringstore"


# -- command lines in the deploy docs ------------------------------------------------------------

def _doc_commands(program: str) -> list[list[str]]:
    """Every `program ...` command in deploy's Markdown: fenced blocks (continuations joined,
    comments dropped) and inline code, as words up to the first ; | && or )."""
    commands = []
    for doc in sorted(DEPLOY.rglob("*.md")):
        text = doc.read_text()
        lines = []
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            lines += block.replace("\\\n", " ").splitlines()
        lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for line in lines:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";|&()")
            lexer.whitespace_split = True
            lexer.commenters = "#"
            words = list(lexer)
            for start, word in enumerate(words):
                if word == program:
                    rest = words[start + 1:]
                    end = next((i for i, w in enumerate(rest) if set(w) <= set(";|&()")), len(rest))
                    commands.append(rest[:end])
    return commands


def _check_click_words(command: click.Command, words: list[str]) -> None:
    """Walk `words` down a click command tree; every --option must exist where it is given."""
    path = [command.name]
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            params = {opt: p for p in command.params for opt in (*p.opts, *p.secondary_opts)}
            assert name in params, f"`{' '.join(path)}` has no option {name} (in: {' '.join(words)})"
            option = params[name]
            if "=" not in word and not (isinstance(option, click.Option) and (option.is_flag or option.count)):
                i += 1
        elif isinstance(command, click.Group):
            sub = command.commands.get(word)
            assert sub is not None, f"`{' '.join(path)}` has no command {word!r} (in: {' '.join(words)})"
            command = sub
            path.append(word)
        i += 1


def test_nodectl_commands_in_the_deploy_docs_exist():
    commands = _doc_commands("nodectl")
    assert any(words[:2] == ["node", "drain"] for words in commands)
    assert any(words[:2] == ["tls", "issue-node"] for words in commands)
    for words in commands:
        _check_click_words(nodectl_main, words)


def test_noded_flags_in_the_deploy_docs_exist():
    for doc in sorted(DEPLOY.rglob("*.md")):
        for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if re.match(r"\s*(\S*/)?noded\s", line):
                    used = set(FLAG_RE.findall(line))
                    assert used <= NODED_FLAGS, f"{doc.name}: not noded flags: {sorted(used - NODED_FLAGS)}"
