"""Fixtures for the integration tier: real noded processes started through cluster-sim.

`cluster_factory` hands a test a `make(nodes=5, **kw)` that starts a LocalCluster under the test's
tmp_path. Every cluster made is `down()`ed at teardown whatever happened, and when the test failed
the tail of every node's log is printed (pytest shows it under "Captured stdout teardown"). Every
test collected from this folder is marked `integration`, so `-m "not integration"` skips the tier.

Every cluster serves TLS under one CA per test session (per xdist worker), made by `session_ca`,
which also points RINGSTORE_CA at it for the session: clients made without TLS arguments (the
library's default, and nodectl run as a subprocess) trust the clusters the way a user's exported
RINGSTORE_CA makes them.

Rejected alternative: a session-scoped cluster shared by all tests. Faster, but a test that kills or
partitions nodes would leave the next one a damaged cluster, and failures would stop being local.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cluster_sim import LocalCluster
from cluster_sim.certs import ensure_ca
from ringstore.auth.credentials import Credentials
from ringstore.auth.keys import new_access_key
from cluster_sim.processes import tail_log

_HERE = Path(__file__).resolve().parent
LOG_TAIL_LINES_MAX = 40


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The hook sees the whole session's items, not only this folder's: mark ours only.
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    # Keep each phase's report on the item so the fixture's teardown knows whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_ringstore_report_{report.when}", report)


def _failed(item: pytest.Item) -> bool:
    for when in ("setup", "call"):
        report = getattr(item, f"_ringstore_report_{when}", None)
        if report is not None and report.failed:
            return True
    return False


@pytest.fixture(scope="session")
def session_operator() -> Credentials:
    """The operator access key every cluster of this session is initialised with."""
    return Credentials(*new_access_key())


@pytest.fixture(scope="session", autouse=True)
def session_ca(tmp_path_factory: pytest.TempPathFactory, session_operator: Credentials) -> Iterator[Path]:
    """The CA every cluster of this session runs under; RINGSTORE_CA names it meanwhile, and
    RINGSTORE_ACCESS_KEY_ID/RINGSTORE_SECRET_ACCESS_KEY the session's operator key."""
    ca_dir = tmp_path_factory.mktemp("ca") / "ca"
    ensure_ca(ca_dir)
    names = ("RINGSTORE_CA", "RINGSTORE_INSECURE", "RINGSTORE_ACCESS_KEY_ID", "RINGSTORE_SECRET_ACCESS_KEY",
             "RINGSTORE_PROFILE", "RINGSTORE_CREDENTIALS_FILE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["RINGSTORE_CA"] = str(ca_dir / "ca.crt")
    os.environ["RINGSTORE_ACCESS_KEY_ID"] = session_operator.key_id
    os.environ["RINGSTORE_SECRET_ACCESS_KEY"] = session_operator.secret
    empty = tmp_path_factory.mktemp("credentials") / "empty"
    empty.touch(mode=0o600)
    os.environ["RINGSTORE_CREDENTIALS_FILE"] = str(empty)
    for name in ("RINGSTORE_INSECURE", "RINGSTORE_PROFILE"):
        os.environ.pop(name, None)
    try:
        yield ca_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def cluster_factory(tmp_path: Path, request: pytest.FixtureRequest, session_ca: Path,
                    session_operator: Credentials) -> Iterator[Callable[..., LocalCluster]]:
    """`make(nodes=5, **kw)` -> a LocalCluster that is all ALIVE; all are stopped at teardown."""
    if importlib.util.find_spec("node.__main__") is None:
        pytest.skip("noded is not written yet (no node/__main__.py)")
    made: list[LocalCluster] = []

    def make(nodes: int = 5, **kwargs) -> LocalCluster:
        directory = tmp_path / f"cluster-{len(made) + 1}"
        if not kwargs.get("insecure"):
            kwargs.setdefault("ca_dir", session_ca)
            kwargs.setdefault("operator", session_operator)
        cluster = LocalCluster.up(directory, nodes=nodes, **kwargs)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        failed = _failed(request.node)
        for cluster in made:
            if failed:
                for node in cluster.nodes.values():
                    print(f"----- {node.node_id} (pid {node.pid}, {node.address}): "
                          f"last lines of {node.log_path}")
                    print(tail_log(node.log_path, lines_max=LOG_TAIL_LINES_MAX))
            cluster.down()


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, session_ca: Path,
                   session_operator: Credentials) -> Iterator[LocalCluster]:
    """One cluster shared by a module's tests that do not kill nodes; size from the module's CLUSTER_NODES."""
    nodes = getattr(request.module, "CLUSTER_NODES", 5)
    cluster = LocalCluster.up(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), nodes=nodes,
                              ca_dir=session_ca, operator=session_operator)
    try:
        yield cluster
    finally:
        cluster.down()
