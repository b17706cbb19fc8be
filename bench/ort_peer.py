"""onnxruntime, the peer of the meal-photo classifier's forward pass (bench/classify.sh).

Times onnxruntime on CPU (intra_op_num_threads=2, inter_op_num_threads=1, sequential execution,
all graph optimizations) running MobileNetV2 on two graphs:
  - int8: the ONNX Model Zoo's mobilenetv2-12-int8.onnx as it is;
  - f32:  the same network as a plain f32 Conv/Clip/Add/Gemm graph with a dynamic batch, built
          here (in memory) from mobilenet_v2_imagenet.safetensors, which is that int8 graph
          dequantized with batch norm folded, the file sous itself loads. Its logits must match
          the reference vectors (input_i, logits_i of mobilenet_v2_reference.safetensors)
          within 1e-3, or nothing is timed.
For each graph at each batch (1 and 8; batch 8 is the reference inputs repeated): warm-up, then
runs until both a minimum count and a minimum time are reached; the median, p10 and p90 of the
wall time of `session.run` in ms. Prints one JSON object on stdout (progress on stderr).

    target/bench-venv/bin/python bench/ort_peer.py                    # models in ../shared/models
    python3 bench/ort_peer.py --models /path/to/models --seconds 10 --batches 1,8,16

Needs `pip install onnxruntime onnx numpy safetensors` (bench/classify.sh makes the venv).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors import safe_open

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOLERANCE = 1e-3


def f32_graph(weights: str) -> onnx.ModelProto:
    """MobileNetV2 as Conv (+ Clip 0..6) / Add / GlobalAveragePool / Gemm from folded weights: the
    convs in the order of the `convs` metadata (stride, groups, pad), ReLU6 after each but the
    last of a block (the linear bottleneck), a residual add when the block keeps stride 1 and
    its channel count."""
    with safe_open(weights, "np") as f:
        convs = json.loads((f.metadata() or {})["convs"])
        tensors = {name: f.get_tensor(name).astype(np.float32) for name in f.keys()}
    missing = [f"{name}.bias" for name in convs if f"{name}.bias" not in tensors]
    if missing:
        sys.exit(f"{weights}: no {missing[0]}: this needs the folded weights (scripts/convert-weights.py --onnx)")
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("relu6.min", 0.0), ("relu6.max", 6.0))]
    inits += [numpy_helper.from_array(t, name) for name, t in tensors.items()]
    nodes = []

    def conv(x: str, name: str, relu6: bool) -> str:
        c, w = convs[name], tensors[f"{name}.weight"]
        out = f"{name}.out"
        nodes.append(helper.make_node(
            "Conv", [x, f"{name}.weight", f"{name}.bias"], [f"{name}.conv" if relu6 else out], name=name,
            kernel_shape=list(w.shape[2:]), strides=[c["stride"]] * 2, pads=[c["pad"]] * 4, group=c["groups"]))
        if relu6:
            nodes.append(helper.make_node("Clip", [f"{name}.conv", "relu6.min", "relu6.max"], [out]))
        return out

    blocks: dict[str, list[str]] = {}
    for name in convs:  # "features.3.conv.1.0" -> block "features.3"
        blocks.setdefault(".".join(name.split(".")[:2]), []).append(name)
    x = "input"
    for block, names in blocks.items():
        if len(names) == 1:  # features.0 and features.18: conv, BN, ReLU6
            x = conv(x, names[0], True)
            continue
        first, last = tensors[f"{names[0]}.weight"], tensors[f"{names[-1]}.weight"]
        residual = all(convs[n]["stride"] == 1 for n in names) and first.shape[1] * convs[names[0]]["groups"] == last.shape[0]
        y = x
        for i, name in enumerate(names):
            y = conv(y, name, i < len(names) - 1)
        if residual:
            nodes.append(helper.make_node("Add", [x, y], [f"{block}.add"]))
            y = f"{block}.add"
        x = y
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "classifier.1.weight", "classifier.1.bias"], ["output"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "mobilenet_v2_f32",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1000])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="sous bench/ort_peer.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def session(model: bytes | str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, x: np.ndarray) -> np.ndarray:
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def measure(sess: ort.InferenceSession, x: np.ndarray, warmup: float, seconds: float, min_runs: int) -> dict:
    feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x)}
    done, until = 0, time.perf_counter() + warmup
    while done < 5 or time.perf_counter() < until:
        sess.run(None, feed)
        done += 1
    times, until = [], time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < until:
        start = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()

    def pick(q: float) -> float:
        return times[min(len(times) - 1, int(q * len(times)))]

    return {"runs": len(times), "median_ms": round(statistics.median(times), 3), "p10_ms": round(pick(0.1), 3),
            "p90_ms": round(pick(0.9), 3), "min_ms": round(times[0], 3)}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=os.environ.get("MODEL_DIR") or os.path.join(REPO, "..", "shared", "models"),
                        help="folder with mobilenetv2-12-int8.onnx, mobilenet_v2_imagenet.safetensors and "
                             "mobilenet_v2_reference.safetensors (default $MODEL_DIR, else ../shared/models)")
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    parser.add_argument("--threads", type=int, default=2, help="intra_op_num_threads (default 2)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of untimed runs first (default 1)")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per graph and batch (default 5)")
    parser.add_argument("--min-runs", type=int, default=50, help="timed runs at least (default 50)")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    def path(name: str) -> str:
        return os.path.join(args.models, name)

    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
    except OSError:
        load = []
    with safe_open(path("mobilenet_v2_reference.safetensors"), "np") as f:
        cases = sorted(k.removeprefix("input_") for k in f.keys() if k.startswith("input_"))
        inputs = np.concatenate([f.get_tensor(f"input_{c}").astype(np.float32) for c in cases])
        logits = np.stack([f.get_tensor(f"logits_{c}").reshape(-1) for c in cases])

    sessions = {
        "f32": session(f32_graph(path("mobilenet_v2_imagenet.safetensors")).SerializeToString(), args.threads),
        "int8": session(path("mobilenetv2-12-int8.onnx"), args.threads),
    }
    check = {}
    for name, sess in sessions.items():
        out = np.concatenate([run(sess, inputs[i:i + 1]) for i in range(len(cases))])
        batched = run(sess, inputs)  # the same inputs as one batch: the dynamic batch dim works
        check[name] = {
            "reference_max_abs_diff": float(np.max(np.abs(out - logits))),
            "batched_max_abs_diff": float(np.max(np.abs(batched - out))),
            "top1_agrees": f"{int(np.sum(out.argmax(1) == logits.argmax(1)))}/{len(cases)}",
        }
        print(f"{name}: logits vs reference max abs diff {check[name]['reference_max_abs_diff']:.2e}, "
              f"top-1 {check[name]['top1_agrees']}, batched vs one by one {check[name]['batched_max_abs_diff']:.2e}",
              file=sys.stderr)
    if check["f32"]["reference_max_abs_diff"] > TOLERANCE:
        sys.exit(f"the f32 graph's logits are {check['f32']['reference_max_abs_diff']:.2e} off the reference (> {TOLERANCE}): not timed")

    results, medians = [], {name: {} for name in sessions}
    for name, sess in sessions.items():
        for batch in batches:
            x = inputs[np.arange(batch) % len(cases)]
            r = measure(sess, x, args.warmup, args.seconds, args.min_runs)
            results.append({"graph": name, "batch": batch, **r})
            medians[name][str(batch)] = r["median_ms"]
            print(f"{name} batch {batch}: median {r['median_ms']:.2f} ms (p10 {r['p10_ms']:.2f}, p90 {r['p90_ms']:.2f}, "
                  f"{r['runs']} runs)", file=sys.stderr)
    print(json.dumps({
        "onnxruntime": ort.__version__,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average_before": " ".join(load),
        "session": {"intra_op_num_threads": args.threads, "inter_op_num_threads": 1, "execution_mode": "sequential",
                    "graph_optimization_level": "all", "provider": "CPUExecutionProvider"},
        "check": check,
        "median_ms": medians,
        "results": results,
    }))


if __name__ == "__main__":
    main()
