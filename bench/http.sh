#!/usr/bin/env bash
# HTTP overhead of a release `sous`, on loopback:
#   - GET /healthz requests/second with wrk against `sous serve --roles api` (default logging,
#     one JSON line per request, and again with request logs off);
#   - cold start: time from exec until /healthz answers, `sous serve` with all roles, median
#     of 5 runs, on a fresh data dir (creates the databases and migrates) and on an existing one;
#   - idle RSS of `sous serve` with all roles, after startup.
#
#   bash bench/http.sh                       # builds target/release/sous
#   SOUS_BIN=/path/to/sous DURATION=10s THREADS=2 CONNECTIONS=64 bash bench/http.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
RUNS=${RUNS:-5}
PORT=${PORT:-18089}
BIN=${SOUS_BIN:-}

if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")
command -v curl >/dev/null || { echo "http.sh needs curl" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        # Try the package lists already present first; refresh them only if that fails.
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >/dev/null; }
    else
        echo "http.sh needs wrk (apt-get install wrk)" >&2
        exit 1
    fi
fi

# Settings reach sous only from this script (see bench/pickup.sh).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

pid=""
dirs=()
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    for dir in "${dirs[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$PORT"
if curl -s -o /dev/null "$url/" 2>/dev/null; then
    echo "port $PORT is taken; set PORT" >&2
    exit 1
fi

new_dir() {
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sous-http.XXXXXX")
    dirs+=("$dir")
    echo "$dir"
}

# start <dir> <roles> [VAR=value...]: starts sous in the background, sets $pid.
start() {
    local dir=$1 roles=$2
    shift 2
    env SOUS_DATA_DIR="$dir" \
        SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" \
        SOUS_STORE_URL="file://$dir/objects" \
        SOUS_BIND="127.0.0.1:$PORT" \
        SOUS_LOG_FORMAT=json \
        "$@" "$BIN" serve --roles "$roles" >>"$dir/sous.log" 2>&1 &
    pid=$!
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

# Waits (up to 30 s) until /healthz answers; prints the milliseconds since <start_ns>.
healthz_after() {
    local started=$1 deadline=$((SECONDS + 30))
    until curl -fs -o /dev/null "$url/healthz" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "sous did not answer /healthz" >&2
            return 1
        fi
        sleep 0.005
    done
    echo $((($(date +%s%N) - started) / 1000000))
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

wrk_healthz() {
    # Warm up connections and allocator before measuring.
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$url/healthz" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url/healthz" |
        awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
             END { printf "%s req/s (latency p50 %s, p99 %s%s)\n", rps, p50, p99, bad ? ", NON-2xx: " bad : "" }'
}

echo "sous HTTP: $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, binary $BIN"

dir=$(new_dir)
start "$dir" api
healthz_after "$(date +%s%N)" >/dev/null
printf 'healthz, request logs on (JSON):   %s\n' "$(wrk_healthz)"
stop
start "$dir" api RUST_LOG=warn
healthz_after "$(date +%s%N)" >/dev/null
printf 'healthz, request logs off:         %s\n' "$(wrk_healthz)"
stop

fresh=()
for _ in $(seq 1 "$RUNS"); do
    dir=$(new_dir)
    started=$(date +%s%N)
    start "$dir" api,worker,scheduler
    fresh+=("$(healthz_after "$started")")
    stop
done
existing=()
for _ in $(seq 1 "$RUNS"); do
    started=$(date +%s%N)
    start "$dir" api,worker,scheduler
    existing+=("$(healthz_after "$started")")
    if [ "${#existing[@]}" -lt "$RUNS" ]; then stop; fi
done
printf 'cold start, fresh data dir:        median %s ms (runs: %s)\n' \
    "$(printf '%s\n' "${fresh[@]}" | median)" "${fresh[*]}"
printf 'cold start, existing data dir:     median %s ms (runs: %s)\n' \
    "$(printf '%s\n' "${existing[@]}" | median)" "${existing[*]}"

# The last start is still running: let it settle, then read its resident memory.
sleep 3
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
printf 'idle RSS, all roles:               %d KiB (%.1f MiB, %s threads)\n' "$rss_kb" "$(echo "$rss_kb" | awk '{ print $1 / 1024 }')" "$threads"
stop
