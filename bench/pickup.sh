#!/usr/bin/env bash
# Api -> worker pickup latency across two processes: `sous serve --roles api` enqueues probe
# jobs (POST /v1/admin/jobs/probe), a separate `sous serve --roles worker` picks them up and logs
# how long each waited ("probe job picked up", pickup_ms). Runs on the embedded SQLite queue,
# then on Redis when `redis-cli ping` answers. Everything stays on 127.0.0.1.
#
#   bash bench/pickup.sh                     # builds target/release/sous
#   SOUS_BIN=/path/to/sous bash bench/pickup.sh
#   PROBES=50 SPACING=0.1 POLL_INTERVAL=500ms REDIS_URL=redis://127.0.0.1:6379 bash bench/pickup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROBES=${PROBES:-50}
SPACING=${SPACING:-0.1}
# Empty: the binary's default, which is what a deployment gets.
POLL_INTERVAL=${POLL_INTERVAL:-}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
BIN=${SOUS_BIN:-}

if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")
command -v curl >/dev/null || { echo "pickup.sh needs curl" >&2; exit 1; }

# Settings reach sous only from this script: an inherited SOUS_* (a developer's shell, CI's
# SOUS_TEST_*) would change what is measured, or be refused as an unknown setting.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)

pids=()
dirs=()
redis_prefix=""
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "$redis_prefix" ]; then
        redis-cli -u "$REDIS_URL" --scan --pattern "$redis_prefix*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null || true
    fi
    if [ "$status" -eq 0 ]; then
        for dir in "${dirs[@]}"; do rm -rf "$dir"; done
    elif [ "${#dirs[@]}" -gt 0 ]; then
        echo "logs kept in: ${dirs[*]}" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for <what> <seconds> <command...>
wait_for() {
    local what=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Prints "n p50 p95 max" of the numbers on stdin (nearest-rank percentiles).
summarize() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "0 - - -"; exit }
        p50 = int(NR * 0.50); if (p50 < NR * 0.50) p50++
        p95 = int(NR * 0.95); if (p95 < NR * 0.95) p95++
        printf "%d %.1f %.1f %.1f\n", NR, v[p50], v[p95], v[NR]
    }'
}

# run <label> [VAR=value...]: one api and one worker process sharing a data dir.
run() {
    local label=$1
    shift
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sous-pickup.XXXXXX")
    dirs+=("$dir")
    local env=(
        SOUS_DATA_DIR="$dir"
        SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc"
        SOUS_STORE_URL="file://$dir/objects"
        SOUS_BIND=127.0.0.1:0
        SOUS_LOG_FORMAT=json
        # Both processes sign and verify with it; without it each would race to generate one.
        SOUS_SIGNING_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
        "$@"
    )
    if [ -n "$POLL_INTERVAL" ]; then
        env+=(SOUS_JOBS__POLL_INTERVAL="$POLL_INTERVAL")
    fi

    env "${env[@]}" "$BIN" serve --roles api >"$dir/api.log" 2>&1 &
    pids+=($!)
    wait_for "the api to listen" 60 grep -q '"message":"listening"' "$dir/api.log" || { cat "$dir/api.log" >&2; return 1; }
    local port
    port=$(grep -m1 '"message":"listening"' "$dir/api.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
    local url="http://127.0.0.1:$port"
    wait_for "$url/healthz" 30 curl -fsS "$url/healthz"

    # The api has migrated the database; the worker must not race it.
    env "${env[@]}" SOUS_MIGRATE_ON_START=false "$BIN" serve --roles worker >"$dir/worker.log" 2>&1 &
    pids+=($!)
    wait_for "the worker to start" 60 grep -q '"message":"starting job worker"' "$dir/worker.log" || { cat "$dir/worker.log" >&2; return 1; }
    # Let it register and finish its first (empty) fetch, so the first probe is not special.
    sleep 1

    local token
    token=$(env "${env[@]}" "$BIN" token --sub bench --scope admin --ttl 1h 2>/dev/null)
    for _ in $(seq 1 "$PROBES"); do
        curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $token" "$url/v1/admin/jobs/probe"
        sleep "$SPACING"
    done
    probes_seen() { [ "$(grep -c '"message":"probe job picked up"' "$dir/worker.log")" -ge "$PROBES" ]; }
    wait_for "$PROBES probes to be picked up" 60 probes_seen || true

    local stats
    stats=$(grep '"message":"probe job picked up"' "$dir/worker.log" |
        sed -E 's/.*"pickup_ms":([-0-9.eE+]+).*/\1/' | summarize)
    read -r n p50 p95 max <<<"$stats"
    printf '%-8s probes %3s/%s   pickup_ms p50 %7s   p95 %7s   max %7s\n' "$label" "$n" "$PROBES" "$p50" "$p95" "$max"

    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
    [ "$n" -ge "$PROBES" ] || { echo "$label: only $n of $PROBES probes were picked up" >&2; return 1; }
}

echo "sous pickup latency: $PROBES probes ${SPACING}s apart, poll interval ${POLL_INTERVAL:-default}"
run sqlite
if command -v redis-cli >/dev/null && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ]; then
    redis_prefix="sous-pickup-$$-$RANDOM"
    run redis SOUS_REDIS_URL="$REDIS_URL" SOUS_REDIS_PREFIX="$redis_prefix"
else
    echo "redis    skipped: no answer from $REDIS_URL"
fi
