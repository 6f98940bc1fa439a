"""Access keys, request signatures and client credentials: the pure parts of "who is calling",
shared by the node (which checks) and the client (which signs).

Dependency order, bottom first: `keys` (key ids, secrets sealed under the cluster key, the access
key record, tenant names, durations) <- `signing` (signing a call and verifying it against a key
record) ; `credentials` (where a client finds its key: arguments, environment, profile file) and
`links` (share link tokens: the grant, its rsl1 encoding and MAC) use `keys` only. Nothing here reads the clock, the network or the node's metadata unless handed them:
the node passes `now_ms` and a `lookup` function, tests pass fixed ones. Security primitives come
from `cryptography` and the standard library's `hmac`, `hashlib` and `secrets`; nothing here is
home-made.

Imported by `node` and `nodectl`; imports neither. Not wired into noded or nodectl yet
(docs/design.md, "Credentials: access keys, signatures, the cluster key").
"""
