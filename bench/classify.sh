#!/usr/bin/env bash
# The meal-photo classifier's forward pass (MobileNetV2, f32, candle) against onnxruntime, in one
# run on the same machine state: once the bench is built, bench/ort_peer.py (onnxruntime on CPU,
# 2 intra-op threads, 1 inter-op, sequential, all graph optimizations; the zoo's int8 graph and
# the same network as an f32 graph, checked against the reference logits) and then
# `cargo bench --bench classify` (criterion group `classify`, `forward/1` and `forward/8`: a
# batch of 1 and of 8 preprocessed 224x224 inputs; median of criterion's estimates), back to
# back. Prints a table of medians in ms with sous over each peer (target: sous / ort f32 at most
# 1.5), then a JSON line. The Rust bench is given SOUS_MODEL_DIR=MODEL_DIR.
#
#   bash bench/classify.sh
#   MODEL_DIR=/path/to/models ORT_SECONDS=10 bash bench/classify.sh
# Run it on a quiet machine (the load average is printed): both sides use both cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MODEL_DIR=${MODEL_DIR:-../shared/models}
# Timed seconds per graph and batch on the onnxruntime side (criterion picks its own).
ORT_SECONDS=${ORT_SECONDS:-5}
TARGET_RATIO=1.5
BATCHES=(1 8)
target_dir=${CARGO_TARGET_DIR:-target}

for tool in cargo jq python3; do
    command -v "$tool" >/dev/null || { echo "classify.sh needs $tool" >&2; exit 1; }
done
for file in mobilenetv2-12-int8.onnx mobilenet_v2_imagenet.safetensors mobilenet_v2_reference.safetensors; do
    [ -f "$MODEL_DIR/$file" ] || { echo "no $file in $MODEL_DIR (set MODEL_DIR)" >&2; exit 1; }
done
MODEL_DIR=$(realpath "$MODEL_DIR")

# onnxruntime and the graph tools, in the bench virtualenv when the system Python lacks them.
python=python3
modules='import onnxruntime, onnx, numpy, safetensors'
if ! python3 -c "$modules" 2>/dev/null; then
    venv="$target_dir/bench-venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" ||
        { echo "cannot make $venv (apt-get install python3-venv)" >&2; exit 1; }
    "$venv/bin/python" -c "$modules" 2>/dev/null ||
        "$venv/bin/pip" install --quiet onnxruntime onnx numpy safetensors
    python="$venv/bin/python"
fi

# An inherited SOUS_* would change what is measured (see bench/pickup.sh).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^SOUS_' || true)
unset RUST_LOG

work=$(mktemp -d "${TMPDIR:-/tmp}/sous-classify.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# Build first, so that the compiler is not running while either side is timed.
cargo bench --locked --quiet --bench classify --no-run 2>"$work/build.log" ||
    { cat "$work/build.log" >&2; exit 1; }

echo "sous classify: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src benches Cargo.toml Cargo.lock 2>/dev/null || echo ' with local changes')"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) before the runs (best on a quiet machine); models $MODEL_DIR"

"$python" bench/ort_peer.py --models "$MODEL_DIR" --batches "$(IFS=,; echo "${BATCHES[*]}")" \
    --seconds "$ORT_SECONDS" >"$work/ort.json" 2>"$work/ort.log" ||
    { cat "$work/ort.log" >&2; exit 1; }
ort_version=$(jq -r .onnxruntime "$work/ort.json")
echo "onnxruntime $ort_version: its f32 graph's logits within $(jq -r '.check.f32.reference_max_abs_diff' "$work/ort.json" | awk '{ printf "%.1e", $1 }') of the reference"

# Only estimates written by this run count: an old one left from an earlier run must not.
touch "$work/started"
SOUS_MODEL_DIR="$MODEL_DIR" cargo bench --locked --quiet --bench classify -- 'classify/forward' >"$work/criterion.log" 2>&1 ||
    { cat "$work/criterion.log" >&2; exit 1; }
grep -E '^classify/forward|time:' "$work/criterion.log" || true
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) after the runs"

# sous_ms <batch>: criterion's median for forward/<batch>, in ms.
sous_ms() {
    local estimates="$target_dir/criterion/classify/forward/$1/new/estimates.json"
    if [ ! -f "$estimates" ] || [ ! "$estimates" -nt "$work/started" ]; then
        echo "no estimates from this run at $estimates: does benches/classify.rs have group \"classify\" with BenchmarkId::new(\"forward\", $1)?" >&2
        return 1
    fi
    jq -er '.median.point_estimate / 1e6' "$estimates"
}

echo
printf '%5s %9s %11s %12s %13s %14s\n' batch "sous ms" "ort f32 ms" "ort int8 ms" "sous/ort-f32" "sous/ort-int8"
rows=()
for batch in "${BATCHES[@]}"; do
    sous=$(sous_ms "$batch")
    f32=$(jq -er --arg b "$batch" '.median_ms.f32[$b]' "$work/ort.json")
    int8=$(jq -er --arg b "$batch" '.median_ms.int8[$b]' "$work/ort.json")
    read -r r_f32 r_int8 verdict < <(awk -v s="$sous" -v f="$f32" -v i="$int8" -v t="$TARGET_RATIO" \
        'BEGIN { printf "%.2f %.2f %s\n", s / f, s / i, (s / f <= t ? "ok" : "OVER") }')
    printf '%5s %9.2f %11.2f %12.2f %8s %-4s %14s\n' "$batch" "$sous" "$f32" "$int8" "$r_f32" "$verdict" "$r_int8"
    rows+=("$(jq -cn --argjson b "$batch" --argjson s "$sous" --argjson f "$f32" --argjson i "$int8" \
        --argjson rf "$r_f32" --argjson ri "$r_int8" \
        '{batch: $b, sous_ms: ($s * 1000 | round / 1000), ort_f32_ms: $f, ort_int8_ms: $i, sous_over_ort_f32: $rf, sous_over_ort_int8: $ri}')")
done
echo "target: sous / ort f32 <= $TARGET_RATIO; medians (sous: criterion's; ort: ${ORT_SECONDS} s of runs after warm-up)"
printf '%s\n' "${rows[@]}" | jq -cs --arg v "$ort_version" --argjson t "$TARGET_RATIO" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{onnxruntime: $v, target_sous_over_ort_f32: $t, load_average_after: $load, batches: .}'
