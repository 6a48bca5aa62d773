#!/usr/bin/env bash
# Signalling load, side by side: globallink's /ws against a PeerJS server (npm `peer` 1.0.2),
# the same clients, the same way, in one run. See docs/benchmarks.md ("Signalling load").
#
#   bench/run-load.sh [CLIENTS...]        default: 10000 50000
#
# For each client count: a fresh hub process (release build) on a scratch data directory with
# that many applicant cases, then a fresh PeerJS server; bench/load (globallink-load) connects
# the clients from 127.0.0.2… (round-robin), holds them idle with keepalives, reads the
# server's RSS, times round trips, and on the hub fans queue changes out to everyone waiting.
# Results are appended as JSON lines to $LOAD_WORK/results.jsonl and summarised at the end.
#
# Environment: LOAD_WORK (scratch dir, default /tmp/globallink-load; cases are created once
# and reused), CARGO_TARGET_DIR, LOAD_HUB_BIN and LOAD_BIN (prebuilt hub and load tool: no
# build), LOAD_LABEL (the hub's label in the results, default its commit), LOAD_ARGS (extra
# `globallink-load run` flags, e.g. "--hold-secs 20"), LOAD_SKIP_PEERJS=1, LOAD_SKIP_HUB=1,
# LOAD_CASES_ONLY=1 (make the officer and the cases, then stop).
# Where the hard open-files limit is too low for the count, bench/vm-load.sh runs this script
# in a KVM guest whose limits root may raise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${LOAD_WORK:-/tmp/globallink-load}
HUB_ADDR=127.0.0.1:18080
PEER_PORT=19000
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(10000 50000)
MAX=0
for n in "${COUNTS[@]}"; do [ "$n" -gt "$MAX" ] && MAX=$n; done
read -r -a EXTRA <<<"${LOAD_ARGS:-}"

mkdir -p "$WORK"
cd "$ROOT"

if [ -n "${LOAD_HUB_BIN:-}" ] && [ -n "${LOAD_BIN:-}" ]; then
    # Prebuilt binaries (bench/vm-load.sh runs this script inside a guest without cargo).
    HUB=$LOAD_HUB_BIN
    LOAD=$LOAD_BIN
else
    echo "== building (release)"
    cargo build --release --bin globallink
    CARGO_TARGET_DIR="$TARGET/bench-load" cargo build --release \
        --manifest-path bench/load/Cargo.toml
    HUB="$TARGET/release/globallink"
    LOAD="$TARGET/bench-load/release/globallink-load"
fi
if [ ! -d bench/peerjs/node_modules/peer ]; then
    (cd bench/peerjs && npm ci --no-audit --no-fund)
fi
PEERJS=bench/peerjs/node_modules/peer/dist/bin/peerjs.js

# Servers and the tool inherit this; the hub also raises its own soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
echo "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
if [ "$(ulimit -Hn)" -lt $((MAX + 100)) ]; then
    echo "warning: the hard open-files limit ($(ulimit -Hn)) is below $MAX clients;" \
         "connections beyond it will be refused (raise it as root: ulimit -Hn / limits.conf)"
fi

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}
trap stop_server EXIT

wait_http() {
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "no answer from $1" >&2
    return 1
}

start_hub() {
    RUST_LOG=warn "$HUB" serve --listen "$HUB_ADDR" --data-dir "$WORK/hub-data" \
        >>"$WORK/hub.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://$HUB_ADDR/api/health"
}

start_peerjs() {
    node "$PEERJS" --host 127.0.0.1 --port "$PEER_PORT" --concurrent_limit 50000 \
        >"$WORK/peerjs.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$PEER_PORT/"
}

LABEL=${LOAD_LABEL:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
RESULTS="$WORK/results.jsonl"

if [ -z "${LOAD_SKIP_HUB:-}" ]; then
    # One officer account and $MAX cases, made once through the HTTP API and kept.
    if [ ! -s "$WORK/officer" ]; then
        GLOBALLINK_DATA_DIR="$WORK/hub-data" "$HUB" user add --username load \
            --role officer --name "Load Officer" | sed -n 's/.* with password \([^ ]*\) .*/\1/p' \
            >"$WORK/officer"
    fi
    echo "== cases for $MAX applicants"
    start_hub
    LOAD_OFFICER_USER=load LOAD_OFFICER_PASSWORD="$(cat "$WORK/officer")" \
        "$LOAD" cases --server "$HUB_ADDR" --count "$MAX" --out "$WORK/invites.txt"
    stop_server
fi
if [ -n "${LOAD_CASES_ONLY:-}" ]; then
    exit 0
fi

for n in "${COUNTS[@]}"; do
    if [ -z "${LOAD_SKIP_HUB:-}" ]; then
        echo "== globallink, $n clients"
        start_hub
        "$LOAD" run --target hub --server "$HUB_ADDR" --pid "$SERVER_PID" --clients "$n" \
            --invites "$WORK/invites.txt" --label "globallink $LABEL" --json "$RESULTS" \
            "${EXTRA[@]}" || echo "globallink run failed"
        stop_server
    fi
    if [ -z "${LOAD_SKIP_PEERJS:-}" ]; then
        echo "== PeerJS 1.0.2, $n clients"
        start_peerjs
        "$LOAD" run --target peerjs --server "127.0.0.1:$PEER_PORT" --pid "$SERVER_PID" \
            --clients "$n" --label "peer 1.0.2" --json "$RESULTS" "${EXTRA[@]}" \
            || echo "PeerJS run failed"
        stop_server
    fi
done

echo "== results ($RESULTS)"
jq -r '[.label, .clients, .connected, .held_at_end,
        (.memory_before.vm_rss_kib/1024|floor), (.memory_idle.vm_rss_kib/1024|floor),
        (.per_connection_rss_bytes/1024*100|round/100),
        (.marginal_rss_bytes/1024*100|round/100),
        .ping_idle.p50_ms, .ping_idle.p99_ms,
        (.fanout.completion.p50_ms // "-"), (.ping_active.p99_ms // "-")] | @tsv' \
    "$RESULTS" | column -t -s $'\t' -N \
    "server,clients,connected,held,RSS0_MiB,RSS_MiB,KiB/conn,2nd_half_KiB/conn,ping_p50_ms,ping_p99_ms,fanout_p50_ms,busy_ping_p99_ms"
