#!/usr/bin/env bash
# Meal photos end to end on the embedded defaults: a release `sous serve` (all roles) in a fresh
# temp dir, classifier weights from MODEL_DIR (../shared/models), every other setting at its
# default (SQLite, files in data/, jobs in process; logs at warn). COUNT photos (400) as phones
# send them, pre-shrunk: the eval photos, long side at most 1024 px, JPEG quality 85, cycled,
# each copy made distinct by a JPEG comment. They are created through the API in batches of
# 100 (POST /v1/meal-photos), PUT to their signed upload URLs CONCURRENCY at a time, and the
# results are followed (GET /v1/meal-photos?changed_since=CURSOR) until every photo is done or
# failed, or TIMEOUT seconds pass (then the run fails). Reports the wall time from the first PUT
# to the last result read, photos per second (target: 40 or more), done/failed counts and the
# peak RSS (VmHWM) of the sous process: a readable line, then a JSON line.
#
#   bash bench/meal_photos.sh                             # builds target/release/sous
#   SOUS_BIN=/path/to/sous COUNT=400 CONCURRENCY=8 TIMEOUT=300 bash bench/meal_photos.sh
#   MODEL_DIR=/path/to/models PHOTOS=/dir PORT=18097 bash bench/meal_photos.sh
#   PREPARE_ONLY=/tmp/photos bash bench/meal_photos.sh    # only make the photos there (an
#                                                         # absolute path), no build, no sous
# Run it on a quiet machine: the photos are classified on the same 2 cores the client uses.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PHOTOS=${PHOTOS:-../shared/eval-photos}
COUNT=${COUNT:-400}
CONCURRENCY=${CONCURRENCY:-8}
TIMEOUT=${TIMEOUT:-300}
MODEL_DIR=${MODEL_DIR:-../shared/models}
PORT=${PORT:-18097}
BIN=${SOUS_BIN:-}
PREPARE_ONLY=${PREPARE_ONLY:-}
TARGET_PER_S=40

for knob in COUNT CONCURRENCY TIMEOUT PORT; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] || { echo "$knob must be a positive integer, not '${!knob}'" >&2; exit 2; }
done
[ -d "$PHOTOS" ] || { echo "no photos at $PHOTOS (set PHOTOS)" >&2; exit 1; }
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "meal_photos.sh needs $tool" >&2; exit 1; }
done

# Pillow, in the bench virtualenv when the system Python lacks it.
python=python3
if ! python3 -c 'import PIL' 2>/dev/null; then
    venv="${CARGO_TARGET_DIR:-target}/bench-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" ||
        { echo "cannot make $venv (apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/python" -c 'import PIL' 2>/dev/null || "$venv/bin/pip" install --quiet pillow
    python="$venv/bin/python"
fi

# Settings reach sous only from this script (see bench/pickup.sh).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

work=$(mktemp -d "${TMPDIR:-/tmp}/sous-meal-photos.XXXXXX")
pid=""
cleanup() {
    local status=$?
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ -s "$work/sous.log" ]; then
        echo "last lines of sous's log:" >&2
        tail -n 20 "$work/sous.log" >&2
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The client: `prepare SRC OUT COUNT` makes the photos and OUT/manifest.json; `run URL TOKEN OUT
# CONCURRENCY TIMEOUT PID TARGET` creates, uploads and follows them, then reports.
cat >"$work/client.py" <<'PY'
import concurrent.futures
import http.client
import io
import json
import os
import sys
import threading
import time
import urllib.parse

FINAL = {"done", "failed"}


def prepare(src, out, count):
    from PIL import Image, ImageOps

    os.makedirs(out, exist_ok=True)
    names = sorted(os.path.join(root, f) for root, _, files in os.walk(src) for f in files
                   if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp", ".heic")))
    bases = []
    for path in names:
        try:
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.info.pop("comment", None)  # Pillow would carry the source's comment over
                im.thumbnail((1024, 1024), Image.Resampling.LANCZOS)  # long side <= 1024, never enlarged
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=85)
                bases.append((os.path.relpath(path, src), buf.getvalue(), im.size))
        except Exception as e:  # a file Pillow cannot read is left out, and said so
            print(f"skipped {path}: {e}", file=sys.stderr)
    if not bases:
        sys.exit(f"no photo Pillow can read under {src}")
    manifest = []
    for i in range(count):
        source, data, _ = bases[i % len(bases)]
        # A comment segment right after the start marker: the same picture, distinct bytes.
        comment = f"sous bench copy {i}".encode()
        data = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
        device_id = f"IMG_{i + 1:04d}"
        with open(os.path.join(out, device_id + ".jpg"), "wb") as f:
            f.write(data)
        manifest.append({"device_photo_id": device_id, "file": device_id + ".jpg", "size": len(data), "source": source})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    sizes = [p["size"] for p in manifest]
    sides = [max(s) for _, _, s in bases]
    print(f"{count} photos from {len(bases)} of {len(names)} files: {sum(sizes) / 1e6:.1f} MB, "
          f"{min(sizes) // 1024}-{max(sizes) // 1024} KiB (mean {sum(sizes) / len(sizes) / 1024:.0f}), "
          f"long side {min(sides)}-{max(sides)} px, JPEG q85")


local = threading.local()


def request(method, url, body=None, headers=None, timeout=60):
    """One HTTP request on this thread's keep-alive connection; one retry on a stale one."""
    parts = urllib.parse.urlsplit(url)
    conns = local.__dict__.setdefault("conns", {})
    key = (parts.scheme, parts.netloc)
    path = parts.path + ("?" + parts.query if parts.query else "")
    for attempt in (1, 2):
        conn = conns.get(key)
        if conn is None:
            cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = conns[key] = cls(parts.netloc, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            if resp.will_close:
                conn.close()
                conns.pop(key, None)
            return resp.status, data
        except (http.client.HTTPException, OSError):
            conn.close()
            conns.pop(key, None)
            if attempt == 2:
                raise


def api(method, base, path, token, payload=None):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    status, data = request(method, base + path, body, headers)
    if not 200 <= status < 300:
        raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300].decode(errors='replace')}")
    return json.loads(data)


def vm(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith(field + ":")), None)
    except OSError:
        return None


def run(base, token, out, concurrency, timeout, pid, target):
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    photos = {p["device_photo_id"]: p for p in manifest}
    idle_kib = vm(pid, "VmRSS")

    # Create, 100 a call, as a phone registers a roll before uploading it.
    tickets, started = {}, time.perf_counter()  # id -> (photo, upload)
    for i in range(0, len(manifest), 100):
        chunk = manifest[i:i + 100]
        body = {"photos": [{"device_photo_id": p["device_photo_id"], "content_type": "image/jpeg", "size": p["size"]} for p in chunk]}
        answer = api("POST", base, "/v1/meal-photos", token, body)
        got = answer.get("photos") or []
        if len(got) != len(chunk):
            sys.exit(f"POST /v1/meal-photos: {len(chunk)} photos sent, {len(got)} answered")
        for item in got:
            photo, upload = photos.get(item.get("device_photo_id")), item.get("upload") or {}
            if photo is None or not item.get("id") or not upload.get("upload_url"):
                sys.exit(f"POST /v1/meal-photos: unexpected item {json.dumps(item)[:300]}")
            if item["id"] in tickets:
                sys.exit(f"POST /v1/meal-photos: id {item['id']} given twice")
            tickets[item["id"]] = (photo, upload)
    create_s = time.perf_counter() - started

    def put(photo, upload):
        with open(os.path.join(out, photo["file"]), "rb") as f:
            data = f.read()
        headers = dict(upload.get("headers") or {})
        if not any(k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = str(len(data))
        try:
            status, body = request(upload.get("method") or "PUT", upload["upload_url"], data, headers)
        except Exception as e:  # noqa: BLE001 - counted and reported
            return f"{type(e).__name__}: {e}"
        return None if 200 <= status < 300 else f"HTTP {status}: {body[:200].decode(errors='replace')}"

    latest, put_failed, unknown = {}, {}, set()
    poll_errors, polls = [], 0
    start = time.perf_counter()
    deadline = start + timeout
    pool = concurrent.futures.ThreadPoolExecutor(concurrency)
    futures = {pool.submit(put, photo, upload): pid_ for pid_, (photo, upload) in tickets.items()}
    uploads_s = None
    cursor, last_read = None, start

    def waiting():
        return [i for i in tickets if i not in put_failed and latest.get(i, {}).get("status") not in FINAL]

    while True:
        for future in [f for f in futures if f.done()]:
            error = future.result()
            if error:
                put_failed[futures[future]] = error
            del futures[future]
        if not futures and uploads_s is None:
            uploads_s = time.perf_counter() - start
        query = "limit=500" + (f"&changed_since={urllib.parse.quote(cursor, safe='')}" if cursor else "")
        try:
            page = api("GET", base, f"/v1/meal-photos?{query}", token)
            polls += 1
        except Exception as e:  # noqa: BLE001 - a busy server may refuse a poll; try again
            poll_errors.append(str(e))
            if time.perf_counter() > deadline:
                break
            time.sleep(0.5)
            continue
        now = time.perf_counter()
        for item in page.get("items") or []:
            if item.get("id") in tickets:
                if item.get("status") in FINAL and latest.get(item["id"], {}).get("status") not in FINAL:
                    last_read = now
                latest[item["id"]] = item
            else:
                unknown.add(item.get("id"))
        cursor = page.get("next_cursor") or cursor
        if not futures and not waiting():
            break
        if now > deadline:
            break
        if not page.get("has_more"):
            time.sleep(0.1)
    pool.shutdown(wait=False, cancel_futures=True)

    statuses = {}
    for i in tickets:
        s = "put_failed" if i in put_failed else latest.get(i, {}).get("status", "unseen")
        statuses[s] = statuses.get(s, 0) + 1
    done = [latest[i] for i in tickets if latest.get(i, {}).get("status") == "done"]
    failed = [latest[i] for i in tickets if latest.get(i, {}).get("status") == "failed"]
    wall = last_read - start
    finished = len(done) + len(failed)
    per_s = finished / wall if wall > 0 else 0.0
    reasons = {}
    for item in failed:
        reasons[str(item.get("reason"))] = reasons.get(str(item.get("reason")), 0) + 1
    models = sorted({f"{m.get('name')} {m.get('version')}" for m in (d.get("model") for d in done) if m})
    result = {
        "photos": len(tickets), "done": len(done), "failed": len(failed), "put_failed": len(put_failed),
        "statuses": statuses, "wall_s": round(wall, 3), "photos_per_s": round(per_s, 1), "target_per_s": target,
        "create_s": round(create_s, 3), "uploads_s": None if uploads_s is None else round(uploads_s, 3),
        "concurrency": concurrency, "polls": polls, "poll_errors": len(poll_errors),
        "food": sum(1 for d in done if d.get("is_food") is True), "not_food": sum(1 for d in done if d.get("is_food") is False),
        "models": models, "failed_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:5]),
        "peak_rss_kib": vm(pid, "VmHWM"), "idle_rss_kib": idle_kib, "unknown_ids": len(unknown),
    }
    complete = not waiting() and not futures
    result["complete"] = complete
    peak = result["peak_rss_kib"]
    print(f"{'' if complete else 'INCOMPLETE, '}{result['photos']} photos: {finished} results in {wall:.2f} s from the first PUT, {per_s:.1f} photos/s "
          f"(target >= {target}{'' if per_s >= target else ', MISSED'}); done {len(done)}, failed {len(failed)}"
          f"{f', PUT failed {len(put_failed)}' if put_failed else ''}; food {result['food']}, not food {result['not_food']}; "
          f"uploads {result['uploads_s']} s; sous peak RSS {peak // 1024 if peak else '?'} MiB"
          f"{f' (idle {idle_kib // 1024} MiB)' if idle_kib else ''}")
    for error in list(put_failed.values())[:3]:
        print(f"  PUT failed: {error}", file=sys.stderr)
    for error in poll_errors[:3]:
        print(f"  poll failed: {error}", file=sys.stderr)
    if reasons:
        print(f"  failed: {result['failed_reasons']}", file=sys.stderr)
    print(json.dumps(result))
    if not complete:
        left = {k: v for k, v in statuses.items() if k not in FINAL and k != "put_failed"}
        sys.exit(f"timed out after {timeout} s: {len(tickets) - sum(left.values())} of {len(tickets)} photos have a final "
                 f"status; the others: {left}")
    if put_failed:
        sys.exit(f"{len(put_failed)} of {len(tickets)} PUTs failed: the figures are not of {len(tickets)} photos")


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        base, token, out = sys.argv[2], sys.argv[3], sys.argv[4]
        concurrency, timeout, pid, target = (int(a) for a in sys.argv[5:9])
        try:
            run(base, token, out, concurrency, timeout, pid, target)
        except RuntimeError as e:  # an API call answered with an error
            sys.exit(str(e))
PY

photos_dir="$work/photos"
if [ -n "$PREPARE_ONLY" ]; then
    photos_dir=$PREPARE_ONLY
fi
prepared=$("$python" "$work/client.py" prepare "$PHOTOS" "$photos_dir" "$COUNT")
if [ -n "$PREPARE_ONLY" ]; then
    echo "$prepared; in $photos_dir with manifest.json"
    exit 0
fi

[ -f "$MODEL_DIR/mobilenet_v2_imagenet.safetensors" ] ||
    { echo "no classifier weights in $MODEL_DIR (set MODEL_DIR; see scripts/convert-weights.py)" >&2; exit 1; }
MODEL_DIR=$(realpath "$MODEL_DIR")
if [ -z "$BIN" ]; then
    cargo build --release --locked --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/sous"
fi
BIN=$(realpath "$BIN")

url="http://127.0.0.1:$PORT"
if curl -s -o /dev/null "$url/" 2>/dev/null; then
    echo "port $PORT is taken; set PORT" >&2
    exit 1
fi

echo "sous meal photos: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (best on a quiet machine), $CONCURRENCY PUTs at a time, binary $BIN, models $MODEL_DIR"
echo "$prepared"
# Defaults but for where it listens, the URL in its upload links, the weights and the log level;
# the signing key is given so that `sous token` signs with the server's key.
env=(
    SOUS_BIND="127.0.0.1:$PORT"
    SOUS_PUBLIC_URL="$url"
    SOUS_MODEL_DIR="$MODEL_DIR"
    SOUS_SIGNING_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
    SOUS_LOG_FORMAT=json
    RUST_LOG=warn
)
(cd "$work" && exec env "${env[@]}" "$BIN" serve >"$work/sous.log" 2>&1) &
pid=$!
deadline=$((SECONDS + 60))
until curl -fs -o /dev/null "$url/readyz" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "sous did not become ready within 60 s" >&2
        exit 1
    fi
    sleep 0.1
done
token=$(cd "$work" && env "${env[@]}" "$BIN" token --sub bench --ttl 1h)
sleep 1 # let the workers settle after their first fetch

"$python" "$work/client.py" run "$url" "$token" "$photos_dir" "$CONCURRENCY" "$TIMEOUT" "$pid" "$TARGET_PER_S"
