#!/usr/bin/env bash
# Bulk ingest of a seller's archive by a release `sous`: a 1 GB ZIP of real photos (built from
# the eval photos by bench/make_archive.py, each copy made distinct), uploaded through the
# signed URL, then ingested by ranged reads, from the local store and from an S3-compatible
# server (moto). Reports the wall time from upload to done, the ranged reads and their bytes
# against the archive's size, the time spent reading against registering, and the peak RSS of
# the sous process (api and worker roles; the api only streamed the upload to disk or S3).
#
#   bash bench/bulk.sh                                   # builds target/release/sous
#   SOUS_BIN=/path/to/sous PHOTOS=/dir ARCHIVE_BYTES=1000000000 bash bench/bulk.sh
#   STORES=file bash bench/bulk.sh                       # the local store only
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PHOTOS=${PHOTOS:-../shared/eval-photos}
ARCHIVE_BYTES=${ARCHIVE_BYTES:-1000000000}
MAX_ENTRIES=${MAX_ENTRIES:-1400}
STORES=${STORES:-file s3}
PORT=${PORT:-18093}
MOTO_PORT=${MOTO_PORT:-18094}
BIN=${SOUS_BIN:-}

if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "bulk.sh needs $tool" >&2; exit 1; }
done

# Settings reach sous only from this script (see bench/pickup.sh).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

work=$(mktemp -d "${TMPDIR:-/tmp}/sous-bulk.XXXXXX")
pid=""
moto=""
cleanup() {
    for p in $pid $moto; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$PORT"
read -r entries size < <(python3 bench/make_archive.py "$work/archive.zip" "$PHOTOS" "$ARCHIVE_BYTES" "$MAX_ENTRIES")
echo "sous bulk: $(nproc) cores, an archive of $entries photos, $size bytes, binary $BIN"

# start <dir> [VAR=value...]: starts sous (api, worker, scheduler), sets $pid and $token.
start() {
    local dir=$1 deadline=$((SECONDS + 30))
    shift
    env SOUS_DATA_DIR="$dir" \
        SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" \
        SOUS_BIND="127.0.0.1:$PORT" \
        SOUS_PUBLIC_URL="$url" \
        SOUS_LOG_FORMAT=json \
        SOUS_BULK__MAX_IMAGES="$MAX_ENTRIES" \
        'SOUS_IMAGES__PRESETS=[]' 'SOUS_IMAGES__LADDER=[]' \
        RUST_LOG=warn \
        "$@" "$BIN" serve --roles api,worker,scheduler >>"$dir/sous.log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "$url/healthz" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "sous did not start; see $dir/sous.log" >&2
            exit 1
        fi
        sleep 0.1
    done
    token=$(SOUS_DATA_DIR="$dir" SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" "$BIN" token --sub seller --ttl 2h)
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

# metric <text> <name>: the sum of a metric's samples (all labels).
metric() { awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.3f", s }' <<<"$1"; }

# ingest <store>: uploads the archive through its signed URL and waits for the ingest.
ingest() {
    local started location ticket upload_url status body metrics elapsed
    ticket=$(curl -fsS -X POST -H "Authorization: Bearer $token" "$url/v1/bulk/image-archives")
    location="/v1/bulk/image-archives/$(jq -r .id <<<"$ticket")"
    upload_url=$(jq -r .upload.upload_url <<<"$ticket")
    local headers=()
    while read -r header; do headers+=(-H "$header"); done < <(jq -r '.upload.headers | to_entries[] | "\(.key): \(.value)"' <<<"$ticket")
    curl -fsS -o /dev/null -X PUT "${headers[@]}" -T "$work/archive.zip" "$upload_url"
    # The high-water mark from here on: the ingest, not the upload.
    echo 5 >"/proc/$pid/clear_refs"
    started=$(date +%s.%N)
    while true; do
        body=$(curl -fsS -H "Authorization: Bearer $token" "$url$location")
        status=$(jq -r .status <<<"$body")
        [ "$status" = done ] || [ "$status" = failed ] && break
        sleep 0.5
    done
    elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    metrics=$(curl -fsS "$url/metrics")
    local reads bytes read_s entry_s entries_n
    reads=$(metric "$metrics" sous_bulk_archive_read_seconds_count)
    bytes=$(metric "$metrics" sous_bulk_archive_read_bytes_total)
    read_s=$(metric "$metrics" sous_bulk_archive_read_seconds_sum)
    entry_s=$(metric "$metrics" sous_bulk_entry_seconds_sum)
    entries_n=$(metric "$metrics" sous_bulk_entry_seconds_count)
    printf '%-5s %-6s %8ss %6.0f reads %12.0f bytes (%.3f of the archive) %8.1fs reading %8.1fs registering (%.0f entries, %.0f ms each) %6d MiB peak RSS; %s\n' \
        "$1" "$status" "$elapsed" "$reads" "$bytes" "$(awk -v a="$bytes" -v b="$size" 'BEGIN { print a / b }')" \
        "$read_s" "$entry_s" "$entries_n" "$(awk -v s="$entry_s" -v n="$entries_n" 'BEGIN { print n ? s * 1000 / n : 0 }')" \
        "$(( $(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status") / 1024 ))" \
        "$(jq -c .counts <<<"$body")"
}

for store in $STORES; do
    dir="$work/$store"
    mkdir -p "$dir"
    case $store in
    file)
        start "$dir" SOUS_STORE_URL="file://$dir/objects"
        ;;
    s3)
        command -v moto_server >/dev/null || { echo "s3: moto_server is not installed (pip install 'moto[server]'); skipped"; continue; }
        moto_server -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
        moto=$!
        until curl -fs -o /dev/null "http://127.0.0.1:$MOTO_PORT/"; do sleep 0.2; done
        curl -fsS -X PUT "http://127.0.0.1:$MOTO_PORT/bench" >/dev/null
        # moto sends no storage events: the scheduler finds the upload within a second.
        start "$dir" SOUS_STORE_URL="s3://bench" \
            SOUS_S3__ENDPOINT="http://127.0.0.1:$MOTO_PORT" SOUS_S3__REGION=us-east-1 \
            SOUS_S3__PATH_STYLE=true SOUS_S3__ALLOW_HTTP=true \
            AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
            SOUS_UPLOADS__RECONCILE_AFTER=1s SOUS_UPLOADS__RECONCILE_EVERY=1s \
            SOUS_SCHEDULER__TICK=1s
        ;;
    esac
    ingest "$store"
    stop
    if [ -n "$moto" ]; then
        kill "$moto" 2>/dev/null || true
        wait "$moto" 2>/dev/null || true
        moto=""
    fi
done
