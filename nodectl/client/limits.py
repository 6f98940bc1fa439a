"""Every limit the client enforces or relies on, in one place, each with the reason for its value.

Two kinds. Bounds the wire contract states (bucket names, key length, metadata sizes, K+M, the
node's message size, node ids), checked here too so obvious bad input fails before any round trip
with the node's own numbers (a unit test checks the put-field limits against
node/objects/validate.py). And the client's own guards on its loops, streams and memory (pages,
stream messages, retries, findings kept), so a node that misbehaves cannot make a call run forever.

Kept in one module rather than beside each use so that how the limits relate can be read (and
tested) in one place; each module that applies one imports it from here.
"""

from __future__ import annotations

import re


KIB = 1024
MIB = 1024 * KIB

# Payload bytes per data frame of a put. 256 KiB..1 MiB streams fastest in gRPC Python.
FRAME_SIZE_BYTES = 1 * MIB
# Headroom over the node's 8 MiB message limit for headers and framing.
GRPC_MESSAGE_HEADROOM_BYTES = 64 * KIB
# Largest gRPC message we send or accept: the node's 8 MiB limit plus headroom.
GRPC_MESSAGE_BYTES_MAX = 8 * MIB + GRPC_MESSAGE_HEADROOM_BYTES
# Slowest transfer rate a stream's deadline allows for: 10 MB/s. A stream of N bytes gets
# timeout_s + N / this. Lower tolerates slower links; higher notices a crawling node sooner.
STREAM_DEADLINE_BYTES_PER_S = 10_000_000
# Longest wait between two retries, whatever retry_backoff_s and the attempt number say.
RETRY_BACKOFF_S_MAX = 5.0
# Largest retries_max accepted: retries multiply load on a cluster that is already struggling.
RETRIES_MAX_LIMIT = 10
# ListObjects page size limits, as the wire contract states them.
LIST_PAGE_SIZE_MAX = 10_000
# Most pages one list() walks; a guard against a server that never ends the listing.
LIST_PAGES_MAX = 1_000_000
# Bucket names, as the wire contract states them.
BUCKET_NAME_RE = re.compile(r"[a-z0-9-]{3,63}")
# Longest key, in UTF-8 bytes, as the wire contract states it.
KEY_LENGTH_BYTES_MAX = 1024
# The node's limits on a put's content type and user metadata (node/objects/validate.py; a unit
# test checks they agree), checked here too so a bad put fails before any byte is sent.
CONTENT_TYPE_BYTES_MAX = 256
METADATA_ENTRIES_MAX = 64
METADATA_KEY_BYTES_MAX = 128
METADATA_VALUE_BYTES_MAX = 2 * 1024
METADATA_BYTES_MAX = 8 * 1024
# Characters of a bad user value quoted back in an error message.
QUOTED_CHARS_MAX = 80
# Most shares (K+M) of one erasure-coded stripe, as the wire contract states it (zfec's limit is
# 256; 32 keeps a stripe's fan-out and its placement record small).
EC_SHARES_MAX = 32
# "K+M": two unsigned decimal integers.
EC_TEXT_RE = re.compile(r"(\d+)\+(\d+)")
# Most digits of K or M converted to int; longer numbers are far past EC_SHARES_MAX anyway (and
# int() of a huge digit string is slow).
EC_DIGITS_MAX = 9
# Most messages one ConvertObject stream may send: one progress per chunk plus the result would be
# far fewer for any real object; a guard against a node that never ends the stream.
CONVERT_MESSAGES_MAX = 10_000_000
# Most findings one fsck keeps in memory (a few hundred bytes each); past it they are only
# counted. A node gone OUT can leave millions of chunks degraded: the summary counts them all,
# and no one reads past the first hundred thousand lines.
FSCK_FINDINGS_MAX = 100_000
# Most messages one Fsck stream may send: findings are at most one per chunk and progress comes
# "now and then", so this only stops a node that never ends the stream.
FSCK_MESSAGES_MAX = 1_000_000_000
# Largest values of the wire's unsigned integer fields.
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
# Node ids, as nodes accept them (node/gossip/member.py).
NODE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Longest zone name, in characters, as nodes accept it.
ZONE_LENGTH_MAX = 64
# Longest maintenance window one call may set, as nodes enforce it: a longer absence should let
# repair restore the node's data elsewhere instead of leaving it one failure from loss.
MAINTENANCE_S_MAX = 7 * 24 * 3600
