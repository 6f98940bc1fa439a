#!/bin/sh
# Starts noded from RINGSTORE_* environment variables (deploy/README.md lists them). Arguments
# given to the container go to noded after these flags, so they win over them.
# `ringstore-entrypoint reload` copies the TLS files again and sends noded SIGHUP (rotation).
set -eu
# Word splitting of RINGSTORE_JOIN must not expand globs.
set -f
# The copies below hold a private key and the cluster secret.
umask 077

die() {
    echo "ringstore-entrypoint: $*" >&2
    exit 2    # noded's own code for bad configuration: restarting does not fix it
}

node_id=${RINGSTORE_NODE_ID:-}
data_dir=${RINGSTORE_DATA_DIR:-/var/lib/ringstore/data}
tls_dir=${RINGSTORE_TLS_DIR:-/etc/ringstore/tls}
secret_file=${RINGSTORE_CLUSTER_SECRET_FILE:-/etc/ringstore/secret/cluster.secret}
# The master keyring for encryption at rest, when one is mounted (optional).
master_key_file=${RINGSTORE_MASTER_KEY_FILE:-/etc/ringstore/secret/master.keys}
run_dir=${RINGSTORE_RUN_DIR:-/run/ringstore}
insecure=${RINGSTORE_INSECURE:-0}

# noded refuses a key or secret file that group or others may read. Kubernetes makes mounted
# Secret files group-readable whenever the pod has an fsGroup (kubernetes/kubernetes#57923), and
# a bind mount keeps the host's owner, so noded reads private copies made here.
copy_private() {
    [ -r "$1" ] || die "cannot read $1 (missing, or not readable by uid $(id -u))"
    cat "$1" > "$2.tmp"
    mv -f "$2.tmp" "$2"
}

copy_tls() {
    [ -n "$node_id" ] || die "RINGSTORE_NODE_ID is not set"
    for f in "$node_id.crt" "$node_id.key" ca.crt; do
        [ -f "$tls_dir/$f" ] || die "no $tls_dir/$f: mount the node's certificate, key and the cluster's ca.crt there (nodectl tls issue-node), or set RINGSTORE_INSECURE=1 for a plaintext cluster on one trusted machine"
    done
    mkdir -p "$run_dir/tls"
    copy_private "$tls_dir/$node_id.crt" "$run_dir/tls/node.crt"
    copy_private "$tls_dir/$node_id.key" "$run_dir/tls/node.key"
    copy_private "$tls_dir/ca.crt" "$run_dir/tls/ca.crt"
}

if [ "${1:-}" = reload ]; then
    # node.json names noded's pid (1 when exec'd below, another under an init process).
    pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$data_dir/node.json" 2>/dev/null || true)
    [ -n "$pid" ] || die "no pid in $data_dir/node.json: noded is not serving yet; try again once it is"
    copy_tls
    [ ! -f "$master_key_file" ] || copy_private "$master_key_file" "$run_dir/master.keys"
    kill -HUP "$pid"
    echo "ringstore-entrypoint: copied $tls_dir/$node_id.crt and its key (and the master keyring, if mounted), sent SIGHUP; noded logs whether it took them"
    exit 0
fi

[ -n "$node_id" ] || die "RINGSTORE_NODE_ID is not set (this node's id, as named in its certificate)"
[ -n "${RINGSTORE_ADVERTISE:-}" ] || die "RINGSTORE_ADVERTISE is not set (host:7401 that other nodes dial, a name in the certificate)"

set -- --data-dir "$data_dir" --node-id "$node_id" \
    --listen "${RINGSTORE_LISTEN:-0.0.0.0:7400}" \
    --peer-listen "${RINGSTORE_PEER_LISTEN:-0.0.0.0:7401}" \
    --advertise "$RINGSTORE_ADVERTISE" \
    --metrics-listen "${RINGSTORE_METRICS_LISTEN:-0.0.0.0:9400}" \
    --log-level "${RINGSTORE_LOG_LEVEL:-info}" "$@"

if [ "$insecure" = 1 ]; then
    set -- --insecure "$@"
else
    copy_tls
    set -- --tls-cert "$run_dir/tls/node.crt" --tls-key "$run_dir/tls/node.key" \
        --tls-ca "$run_dir/tls/ca.crt" "$@"
fi

# RINGSTORE_CLUSTER_SECRET, when set, is read by noded itself.
if [ -z "${RINGSTORE_CLUSTER_SECRET:-}" ]; then
    [ -f "$secret_file" ] || die "no cluster secret: mount it at $secret_file or set RINGSTORE_CLUSTER_SECRET"
    mkdir -p "$run_dir"
    copy_private "$secret_file" "$run_dir/cluster.secret"
    set -- --cluster-secret-file "$run_dir/cluster.secret" "$@"
fi

if [ -f "$master_key_file" ]; then
    mkdir -p "$run_dir"
    copy_private "$master_key_file" "$run_dir/master.keys"
    set -- --master-key-file "$run_dir/master.keys" "$@"
fi

# Several addresses, each a peer port: a node restarted after a graceful stop (LEFT) must reach
# some other member (it also tries the members it remembers in members.json, and exits 4 if none
# answers). noded tries them in the order given; prepending one by one would reverse it, so
# reverse them first.
reversed=
for address in $(printf '%s' "${RINGSTORE_JOIN:-}" | tr ',' ' '); do
    reversed="$address $reversed"
done
for address in $reversed; do
    set -- --join "$address" "$@"
done
[ -z "${RINGSTORE_ZONE:-}" ] || set -- --zone "$RINGSTORE_ZONE" "$@"
[ -z "${RINGSTORE_CAPACITY_BYTES:-}" ] || set -- --capacity-bytes "$RINGSTORE_CAPACITY_BYTES" "$@"

# A node.json left by the previous run on this volume would pass a readiness check before the
# node has joined.
rm -f "$data_dir/node.json"

exec noded "$@"
