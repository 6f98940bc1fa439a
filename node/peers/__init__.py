"""Calls to other nodes: signed with the cluster secret (auth), pooled channels (client), and the
membership transport over them (gossip_transport).

Dependency order: gossip -> peers -> objects -> api. Never serves; only calls.
"""
