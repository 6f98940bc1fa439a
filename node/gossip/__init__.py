"""Membership and failure detection: who is in the cluster, and who is DOWN.

Every node keeps a table of member records (generation, incarnation, state), heartbeats a few
deterministic watchers, lets a watcher that hears nothing probe indirectly before declaring a
node DOWN, and spreads every change by piggybacking, gossip rounds and a periodic digest sync.
No disk, no chunk data, no gRPC: messages leave through an injected `Transport`, and time and
randomness are injected, so the same code runs in the daemon and under a manual clock.

Dependency order inside the package (each module imports only those before it):
    clock      time, injected (SystemClock, ManualClock)
    member     MemberState, MemberInfo, supersedes (which record wins)
    ring_members  in_ring, ring_member, ring_members (which records make the ring)
    digest     TableDigest, bucket_hashes (the bucket hashes a state sync compares)
    watchers   watchers_of / watched_by (who heartbeats whom)
    broadcast  BroadcastQueue (fresh updates, retransmitted a bounded number of rounds)
    detector   Detector (silence timers of watched nodes, probes in flight)
    suspicion  Suspicion (a suspected life, its accusers and Lifeguard's timeout)
    table      MemberTable (the records, with sorted id views kept as they change)
    membership Membership (the step-function state machine), Outgoing
    transport  Transport protocol, PeerUnreachable, PeerUnimplemented, JoinUnanswered, PeerRejected
    driver     MembershipDriver (timer thread + RPC pool around Membership)
Outside the package it imports only node.config, node.errors, node.ring (RingMember, for the ring
rule) and ringstore.v1 (the wire enum).
"""

from node.gossip.broadcast import BroadcastQueue
from node.gossip.clock import Clock, ManualClock, SystemClock
from node.gossip.detector import Detector
from node.gossip.driver import MembershipDriver
from node.gossip.member import InvalidMember, MemberInfo, MemberState, supersedes
from node.gossip.membership import MEMBERS_MAX, Membership, Outgoing
from node.gossip.ring_members import in_ring, ring_member, ring_members
from node.gossip.transport import JoinUnanswered, PeerRejected, PeerUnimplemented, PeerUnreachable, Transport
from node.gossip.watchers import watched_by, watchers_of

__all__ = [
    "BroadcastQueue",
    "Clock",
    "Detector",
    "InvalidMember",
    "JoinUnanswered",
    "MEMBERS_MAX",
    "ManualClock",
    "MemberInfo",
    "MemberState",
    "Membership",
    "MembershipDriver",
    "Outgoing",
    "PeerRejected",
    "PeerUnimplemented",
    "PeerUnreachable",
    "SystemClock",
    "Transport",
    "in_ring",
    "ring_member",
    "ring_members",
    "supersedes",
    "watched_by",
    "watchers_of",
]
