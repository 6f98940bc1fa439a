import os, pytest
from cluster_sim import ClusterError, LocalCluster
from cluster_sim.processes import pid_alive
from cluster_sim.clusterfile import read_cluster_file

def test_fails_shows_logs(cluster_factory):
    c = cluster_factory(nodes=2)
    assert False, "deliberate"

def test_up_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_HIDE_NODE", "node-2")
    with pytest.raises(ClusterError) as e:
        LocalCluster.up(tmp_path / "c", nodes=3, timeout_s=2)
    print(str(e.value))
    for n in read_cluster_file(tmp_path / "c").nodes:
        assert not pid_alive(n.pid)
    assert 0
