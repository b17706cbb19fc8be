#!/usr/bin/env bash
# Image renditions of a release `sous` against libvips, on loopback:
#   - time and peak RSS to make a 320 px and a 2560 px wide WebP and JPEG (q80) from each real
#     photo of MIN_MP megapixels or more (2.5) and from a 60 MP image made from one of them (the
#     pixel limit is raised to 70 MP for it). sous is measured end to end (HTTP request in,
#     rendition out) with nothing made ahead, so every request decodes, resizes and encodes
#     (and keeps what it made, as a first request does); each run is one request to a fresh
#     server, and its peak RSS is that whole server's high-water mark over the request (its
#     idle RSS is printed on its own line); the figures are medians of RUNS runs (5).
#     The time peer is libvips in process (pyvips: `thumbnail`, then `write_to_buffer`, see
#     bench/vips_peer.py), so no start-up is in its figures, and its encode alone gives the floor
#     (the share of libvips's time its encoder takes: sous runs the same library with the same
#     settings, so decoding and resizing faster cannot take it far below); sous and libvips
#     take turns run by run; the memory peer is `vipsthumbnail`, a fresh process each time,
#     whose peak RSS is libvips's own;
#   - requests per second for a stored rendition (`/i/…?w=320&format=webp`, a preset), with wrk.
#
#   bash bench/images.sh                        # builds target/release/sous
#   SOUS_BIN=/path/to/sous PHOTOS=/dir RUNS=3 DURATION=10s bash bench/images.sh
#   PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 bash bench/images.sh   # another allocator
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PHOTOS=${PHOTOS:-../shared/eval-photos/food}
MIN_MP=${MIN_MP:-2.5}
RUNS=${RUNS:-5}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18090}
BIN=${SOUS_BIN:-}
PRELOAD=${PRELOAD:-}

if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")
[ -d "$PHOTOS" ] || { echo "no photos at $PHOTOS (set PHOTOS)" >&2; exit 1; }
need() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 ||
            { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$2" >/dev/null; }
    else
        echo "images.sh needs $1 (apt-get install $2)" >&2
        exit 1
    fi
}
need vipsthumbnail libvips-tools
need wrk wrk
need curl curl
need jq jq
need python3 python3
[ -x /usr/bin/time ] || need /usr/bin/time time

# pyvips, in a virtualenv of its own when the system Python lacks it; it binds the same libvips.
python=python3
if ! python3 -c 'import pyvips' 2>/dev/null; then
    venv="${CARGO_TARGET_DIR:-target}/bench-venv"
    [ -x "$venv/bin/python" ] || { need pip3 python3-venv; python3 -m venv "$venv"; }
    "$venv/bin/python" -c 'import pyvips' 2>/dev/null || "$venv/bin/pip" install --quiet pyvips
    python="$venv/bin/python"
fi

# Settings reach sous only from this script (see bench/pickup.sh).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

work=$(mktemp -d "${TMPDIR:-/tmp}/sous-images.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

url="http://127.0.0.1:$PORT"
if curl -s -o /dev/null "$url/" 2>/dev/null; then
    echo "port $PORT is taken; set PORT" >&2
    exit 1
fi

# start <dir> [VAR=value...]: starts sous (api and worker) in the background, sets $pid.
start() {
    local dir=$1 deadline=$((SECONDS + 30))
    shift
    env SOUS_DATA_DIR="$dir" \
        SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" \
        SOUS_STORE_URL="file://$dir/objects" \
        SOUS_BIND="127.0.0.1:$PORT" \
        SOUS_LOG_FORMAT=json \
        SOUS_IMAGES__MAX_PIXELS=70000000 \
        RUST_LOG=warn \
        ${PRELOAD:+LD_PRELOAD="$PRELOAD"} \
        "$@" "$BIN" serve --roles api,worker >>"$dir/sous.log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "$url/healthz" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "sous did not start; see $dir/sous.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    token=$(SOUS_DATA_DIR="$dir" SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" "$BIN" token --sub bench --ttl 1h)
}

stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

# upload <file>: registers it, prints `id/version`.
upload() {
    curl -fsS -H "Authorization: Bearer $token" --data-binary "@$1" "$url/v1/images" |
        jq -r '"\(.id)/\(.version)"'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# render_both <file> <width> <format>: for each run, sous then libvips in process, one after
# the other so that both see the same moments of a busy machine. sous runs on a fresh server
# where nothing is made ahead: it registers the file and asks for the rendition (its first
# request, so it is made). Sets s_ms, s_kib (sous's medians), s_bytes, p_ms, p_encode_ms
# (libvips's medians, whole and encode alone) and p_bytes.
render_both() {
    local times=() peaks=() p_times=() p_encodes=() seconds dir image
    for _ in $(seq 1 "$RUNS"); do
        dir=$(mktemp -d "$work/sous.XXXXXX")
        start "$dir" 'SOUS_IMAGES__PRESETS=[]' 'SOUS_IMAGES__LADDER=[]' SOUS_IMAGES__MAX_DERIVED_VARIANTS=1
        image=$(upload "$1")
        # The high-water mark from here on: the rendition, not the registration.
        echo 5 >"/proc/$pid/clear_refs"
        read -r seconds s_bytes < <(curl -fsS -o /dev/null -w '%{time_total} %{size_download}\n' \
            "$url/i/$image?w=$2&format=$3")
        times+=("$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')")
        peaks+=("$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")")
        stop
        rm -rf "$dir"
        read -r p_ms p_bytes p_encode_ms < <("$python" bench/vips_peer.py "$1" "$2" "$3" 1)
        p_times+=("$p_ms")
        p_encodes+=("$p_encode_ms")
    done
    s_ms=$(printf '%s\n' "${times[@]}" | median)
    s_kib=$(printf '%s\n' "${peaks[@]}" | median)
    p_ms=$(printf '%s\n' "${p_times[@]}" | median)
    p_encode_ms=$(printf '%s\n' "${p_encodes[@]}" | median)
}

# vips_render <file> <width> <format>: prints "<median ms> <median peak KiB> <bytes>".
vips_render() {
    local times=() peaks=() out="$work/vips.$3"
    for _ in $(seq 1 "$RUNS"); do
        read -r seconds kib < <({ /usr/bin/time -f '%e %M' vipsthumbnail "$1" -s "$2x>" -o "$out[Q=80]" 2>&1 >/dev/null; } | tail -1)
        times+=("$(awk -v s="$seconds" 'BEGIN { printf "%d", s * 1000 }')")
        peaks+=("$kib")
    done
    echo "$(printf '%s\n' "${times[@]}" | median) $(printf '%s\n' "${peaks[@]}" | median) $(stat -c %s "$out")"
}

photos=()
for file in "$PHOTOS"/*; do
    pixels=$(vipsheader -f width "$file" 2>/dev/null) || continue
    pixels=$((pixels * $(vipsheader -f height "$file")))
    if awk -v p="$pixels" -v m="$MIN_MP" 'BEGIN { exit !(p >= m * 1e6) }'; then photos+=("$file"); fi
done
[ "${#photos[@]}" -gt 0 ] || { echo "no photo of $MIN_MP MP or more in $PHOTOS" >&2; exit 1; }
# 60 MP: the first photo scaled up by sqrt(60 / its megapixels).
first=${photos[0]}
scale=$(awk -v w="$(vipsheader -f width "$first")" -v h="$(vipsheader -f height "$first")" 'BEGIN { printf "%.4f", sqrt(60e6 / (w * h)) }')
vips resize "$first" "$work/60mp.jpg[Q=90]" "$scale"
photos+=("$work/60mp.jpg")

echo "sous images: $(nproc) cores, $RUNS runs each (median), $(vipsthumbnail --vips-version), pyvips $("$python" -c 'import pyvips; print(pyvips.__version__)'), binary $BIN"
read -r startup startup_kib < <({ /usr/bin/time -f '%e %M' vipsthumbnail "$first" -s 8x -o "$work/tiny.jpg" 2>&1 >/dev/null; } | tail -1)
echo "vipsthumbnail to 8 px (mostly process start and decode): $(awk -v s="$startup" 'BEGIN { printf "%d", s * 1000 }') ms, $startup_kib KiB"

dir="$work/idle"
mkdir -p "$dir"
start "$dir"
sleep 2
echo "sous idle (api and worker roles): $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status") KiB${PRELOAD:+, LD_PRELOAD=$PRELOAD}"
stop

printf '%-32s %-5s %-4s %16s %9s %23s %6s %6s %6s %15s\n' photo width fmt "sous ms (KiB)" "vips ms" "vipsthumbnail ms (KiB)" time floor mem "bytes sous/vips"
for file in "${photos[@]}"; do
    megapixels=$(awk -v w="$(vipsheader -f width "$file")" -v h="$(vipsheader -f height "$file")" 'BEGIN { printf "%.1f", w * h / 1e6 }')
    chroma=$(vipsheader -f jpeg-chroma-subsample "$file" 2>/dev/null || echo "-")
    for width in 320 2560; do
        for format in webp jpeg; do
            render_both "$file" "$width" "$format"
            read -r v_ms v_kib _ < <(vips_render "$file" "$width" "$format")
            time_ratio=$(awk -v a="$s_ms" -v b="$p_ms" 'BEGIN { printf "%.2f", a / b }')
            floor=$(awk -v a="$p_encode_ms" -v b="$p_ms" 'BEGIN { printf "%.2f", a / b }')
            mem_ratio=$(awk -v a="$s_kib" -v b="$v_kib" 'BEGIN { printf "%.2f", a / b }')
            echo "$width $format $time_ratio $mem_ratio $floor" >>"$work/ratios"
            printf '%-32s %-5s %-4s %16s %9s %23s %6s %6s %6s %15s\n' \
                "$(basename "$file" | cut -c1-16) ${megapixels}MP $chroma" "$width" "$format" \
                "$s_ms ($s_kib)" "$p_ms" "$v_ms ($v_kib)" "$time_ratio" "$floor" "$mem_ratio" \
                "$s_bytes/$p_bytes"
        done
    done
done
echo "time: sous / libvips in process; floor: libvips's encode alone / its whole rendition (sous"
echo "runs the same encoder, so decoding and resizing faster cannot take it far below); mem: sous's"
echo "whole server / the vipsthumbnail process (peak RSS)"
# Per rendition kind, over the photos: the median ratio and the range.
median_range() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f (%.2f–%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
for kind in "320 webp" "320 jpeg" "2560 webp" "2560 jpeg"; do
    column() { awk -v kind="$kind" -v n="$1" '$1 " " $2 == kind { print $n }' "$work/ratios"; }
    printf '%-9s time median %s, floor median %s, memory %s\n' "$kind" \
        "$(column 3 | median_range)" "$(column 5 | median_range)" "$(column 4 | median_range)"
done

dir="$work/cached"
mkdir -p "$dir"
start "$dir"
image=$(upload "${photos[0]}")
deadline=$((SECONDS + 60))
until curl -fs -H "Authorization: Bearer $token" "$url/v1/images/${image%/*}" |
    jq -e '.variants | map(.name) | any(startswith("320x") and endswith(".webp"))' >/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "the presets were not made" >&2; exit 1; }
    sleep 0.2
done
target="$url/i/$image?w=320&format=webp"
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$target" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$target" |
    awk -v c="$CONNECTIONS" '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
         END { printf "stored rendition (w=320 webp), %d connections: %s req/s (latency p50 %s, p99 %s%s)\n", c, rps, p50, p99, bad ? ", NON-2xx: " bad : "" }'
stop
