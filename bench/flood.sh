#!/usr/bin/env bash
# A flood of distinct transform URLs at one photo, as a stranger would send them: every
# combination of widths, qualities 1 to 100 and formats, each URL asked once, CONCURRENCY at a
# time. Reports the server's CPU time spent on the flood (from /proc), the renditions it made,
# and what the flood got back (status codes), for the binary under test and, when BEFORE_BIN
# names one, an earlier build measured the same way in the same run.
#
#   bash bench/flood.sh                                   # builds target/release/sous
#   BEFORE_BIN=/path/to/older/sous URLS=120 CONCURRENCY=8 bash bench/flood.sh
#   PHOTO=/path/to/photo.jpg SOUS_BIN=/path/to/sous bash bench/flood.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

URLS=${URLS:-120}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-18095}
BIN=${SOUS_BIN:-}
BEFORE_BIN=${BEFORE_BIN:-}
# The largest of the shared photos by default.
PHOTO=${PHOTO:-$(ls -S ../shared/eval-photos/*/*.jpg 2>/dev/null | head -1)}

if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")
[ -f "$PHOTO" ] || { echo "no photo (set PHOTO)" >&2; exit 1; }
for tool in curl jq xargs; do
    command -v "$tool" >/dev/null || { echo "flood.sh needs $tool" >&2; exit 1; }
done

# Settings reach sous only from this script.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

work=$(mktemp -d "${TMPDIR:-/tmp}/sous-flood.XXXXXX")
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

# cpu_seconds: user + system time of the server so far.
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"
}

renditions() {
    curl -fs "$url/metrics" | awk '/^sous_image_renditions_total/ { n += $2 } END { print n + 0 }'
}

# flood <binary> <label>: a fresh server, the photo registered and its presets made, then the
# flood; prints one line of results.
flood() {
    local bin=$1 label=$2 dir deadline token image before_cpu before_made started
    dir=$(mktemp -d "$work/$label.XXXXXX")
    deadline=$((SECONDS + 30))
    env SOUS_DATA_DIR="$dir" SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" \
        SOUS_STORE_URL="file://$dir/objects" SOUS_BIND="127.0.0.1:$PORT" \
        SOUS_LOG_FORMAT=json RUST_LOG=warn \
        "$bin" serve >>"$dir/sous.log" 2>&1 &
    pid=$!
    until curl -fs -o /dev/null "$url/healthz" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null ||
            { echo "sous did not start; see $dir/sous.log" >&2; exit 1; }
        sleep 0.05
    done
    token=$(SOUS_DATA_DIR="$dir" SOUS_DATABASE_URL="sqlite://$dir/sous.db?mode=rwc" "$bin" token --sub flood --ttl 1h)
    image=$(curl -fsS -H "Authorization: Bearer $token" --data-binary "@$PHOTO" "$url/v1/images" |
        jq -r '"\(.id)/\(.version)"')
    # Presets and ladder made ahead: wait until the renditions count stops moving.
    local last=-1 now
    while now=$(renditions) && [ "$now" != "$last" ]; do
        last=$now
        sleep 3
    done
    # Distinct URLs: widths × qualities × formats, in a fixed shuffled order.
    python3 - "$URLS" "$url/i/$image" >"$dir/urls" <<'PY'
import itertools, random, sys
count, base = int(sys.argv[1]), sys.argv[2]
widths = [16, 32, 48, 64, 96, 128, 160, 240, 320, 480, 640, 750, 828, 960, 1080, 1280, 1600, 1920, 2048, 2560]
# AVIF only up to 1280 px: larger ones take seconds each, and the old server made every one.
combos = [c for c in itertools.product(widths, range(1, 101), ["webp", "jpeg", "avif"])
          if c[2] != "avif" or c[0] <= 1280]
random.Random(7).shuffle(combos)
for w, q, f in combos[:count]:
    print(f"{base}?w={w}&q={q}&format={f}")
PY
    before_cpu=$(cpu_seconds)
    before_made=$(renditions)
    started=$(date +%s.%N)
    xargs -P "$CONCURRENCY" -I{} curl -s -o /dev/null -m 120 -w '%{http_code}\n' '{}' <"$dir/urls" >"$dir/codes"
    local wall cpu made codes
    wall=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    cpu=$(awk -v a="$before_cpu" -v b="$(cpu_seconds)" 'BEGIN { printf "%.1f", b - a }')
    made=$(($(renditions) - before_made))
    codes=$(sort "$dir/codes" | uniq -c | awk '{ printf "%s×%s ", $2, $1 }')
    printf '%-8s %6s URLs  wall %7s s  server CPU %7s s  renditions made %5s  answers: %s\n' \
        "$label" "$(wc -l <"$dir/urls")" "$wall" "$cpu" "$made" "$codes"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}

echo "flood of distinct transform URLs: $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)"
echo "photo $PHOTO ($(stat -c %s "$PHOTO") bytes), $CONCURRENCY requests at a time"
if [ -n "$BEFORE_BIN" ]; then
    flood "$(realpath "$BEFORE_BIN")" before
fi
flood "$BIN" after
