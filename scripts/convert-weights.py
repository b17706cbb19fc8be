#!/usr/bin/env python3
"""Classifier weights for sous: MobileNetV2 (ImageNet-1k) into SOUS_MODEL_DIR as safetensors.

sous reads `mobilenet_v2_imagenet.safetensors` from SOUS_MODEL_DIR (default `models/`), with
torchvision's `mobilenet_v2` state-dict names. This makes that file from either download:

  --onnx PATH          the ONNX Model Zoo's MobileNetV2-12: `mobilenetv2-12-int8.onnx`
                       (dequantized) or the f32 `mobilenetv2-12.onnx`. The zoo graphs have batch
                       norm folded into the conv biases; their convolutions are mapped in graph
                       order onto torchvision's names (`features.0.0`, `features.{1..17}.conv…`,
                       `features.18.0`) and the last matrix product onto `classifier.1`.
  --torchvision PATH   torchvision's `mobilenet_v2` ImageNet state dict (`mobilenet_v2-*.pth`),
                       written as it is: conv and batch-norm tensors, which sous folds as it
                       loads them. Needs PyTorch (`pip install torch`, a large download).

    pip install onnx numpy safetensors
    python3 scripts/convert-weights.py --onnx mobilenetv2-12-int8.onnx            # into models/
    python3 scripts/convert-weights.py --torchvision mobilenet_v2-7ebf99e0.pth --out /srv/models
    python3 scripts/convert-weights.py --onnx mobilenetv2-12-int8.onnx --out /tmp/m \\
        --compare ../shared/models/mobilenet_v2_imagenet.safetensors               # check it

`--out` defaults to $SOUS_MODEL_DIR, else `models`. The metadata holds the same keys as the
shared reference file: `convs` (each conv's stride, groups and padding), `relu6`, `input`
(the preprocessing) and `source`. Prints the input's sha256 and a one-line summary;
`--compare` also prints the names, shapes and largest difference against another such file.
Never commit the weights: they are data, not part of the repository.
"""

import argparse
import hashlib
import json
import os
import sys

FILE_NAME = "mobilenet_v2_imagenet.safetensors"
RELU6 = "after every conv except features.i.conv.2 / features.1.conv.1 (linear bottleneck)"
INPUT = "1x3x224x224 RGB, /255, mean [0.485,0.456,0.406], std [0.229,0.224,0.225]"
# torchvision's inverted residual setting: expansion t, channels c, repeats n, first stride s.
SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def architecture() -> list[tuple[str, tuple[int, ...], int, int, int]]:
    """Every conv of torchvision's mobilenet_v2 in forward order: (name, weight shape, stride,
    groups, padding)."""
    convs = [("features.0.0", (32, 3, 3, 3), 2, 1, 1)]
    cin, index = 32, 1
    for t, c, n, s in SETTING:
        for repeat in range(n):
            stride, hidden, prefix = (s if repeat == 0 else 1), cin * t, f"features.{index}.conv."
            if t != 1:
                convs.append((prefix + "0.0", (hidden, cin, 1, 1), 1, 1, 0))
            dw, project = ("1.0", "2") if t != 1 else ("0.0", "1")
            convs.append((prefix + dw, (hidden, 1, 3, 3), stride, hidden, 1))
            convs.append((prefix + project, (c, hidden, 1, 1), 1, 1, 0))
            cin, index = c, index + 1
    convs.append(("features.18.0", (1280, 320, 1, 1), 1, 1, 0))
    return convs


def metadata(source: str) -> dict[str, str]:
    convs = {name: {"stride": stride, "groups": groups, "pad": pad} for name, _, stride, groups, pad in architecture()}
    return {"source": source, "input": INPUT, "relu6": RELU6, "convs": json.dumps(convs)}


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def need(*modules: str, pip: str):
    try:
        return [__import__(m, fromlist=["_"]) for m in modules]
    except ImportError as e:
        sys.exit(f"convert-weights.py needs {e.name}: pip install {pip}")


def from_onnx(path: str) -> tuple[dict, str]:
    """Float32 tensors with torchvision's names from a zoo MobileNetV2-12 graph, int8 or f32."""
    onnx, np = need("onnx", "numpy", pip="onnx numpy safetensors")
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def attrs(node) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def dequantize(q, scale, zero, axis: int):
        along = [-1 if d == axis % q.ndim else 1 for d in range(q.ndim)]  # per channel, along `axis`
        scale, zero = np.asarray(scale, dtype=np.float32), np.asarray(zero).astype(np.int64)
        scale, zero = (scale.reshape(along) if scale.size > 1 else scale), (zero.reshape(along) if zero.size > 1 else zero)
        return (q.astype(np.int64) - zero).astype(np.float32) * scale

    def const(name: str):
        if name not in consts:
            sys.exit(f"{path}: {name!r} is not a constant; is this the zoo's MobileNetV2-12?")
        return consts[name]

    # Constants that are computed: Constant nodes, and DequantizeLinear of constants (QDQ graphs).
    for node in graph.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(attrs(node)["value"])
        elif node.op_type == "DequantizeLinear" and all(i in consts for i in node.input if i):
            zero = consts[node.input[2]] if len(node.input) > 2 and node.input[2] else 0
            consts[node.output[0]] = dequantize(consts[node.input[0]], consts[node.input[1]], zero, attrs(node).get("axis", 1))

    def bias_of_add(output: str, ops: tuple[str, ...]):
        """The constant operand of the Add (or QLinearAdd) that takes `output`."""
        add = [n for n in consumers.get(output, []) if n.op_type in ops]
        if len(add) != 1:
            sys.exit(f"{path}: no bias Add after the classifier's matrix product")
        node = add[0]
        if node.op_type == "Add":
            return const(next(i for i in node.input if i != output))
        a, b = (node.input[0:3], node.input[3:6]) if node.input[3] in consts else (node.input[3:6], node.input[0:3])
        assert a[0] == output, node.input
        return dequantize(const(b[0]), const(b[1]), const(b[2]), 0)

    convs, linear, folded = [], None, False
    for node in graph.node:
        a = attrs(node)
        if node.op_type == "BatchNormalization":
            sys.exit(f"{path}: batch norm is not folded in this graph; use the zoo's MobileNetV2-12")
        if node.op_type == "Conv":
            w = const(node.input[1]).astype(np.float32)
            b = const(node.input[2]).astype(np.float32) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[0], np.float32)
        elif node.op_type == "QLinearConv":
            x_scale, w_q, w_scale, w_zero = (const(node.input[i]) for i in (1, 3, 4, 5))
            w = dequantize(w_q, w_scale, w_zero, 0)
            # The int32 bias is quantized with scale x_scale * w_scale and zero point 0.
            b = const(node.input[8]).astype(np.float32) * np.float32(x_scale) * w_scale.astype(np.float32)
            folded = True
        elif node.op_type == "Gemm":
            assert a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0 and not a.get("transA", 0), a
            w = const(node.input[1]).astype(np.float32)
            linear = (w if a.get("transB", 0) else w.T, const(node.input[2]).astype(np.float32))
            continue
        elif node.op_type == "MatMul" and node.input[1] in consts:
            linear = (const(node.input[1]).astype(np.float32).T, bias_of_add(node.output[0], ("Add",)))
            continue
        elif node.op_type == "QLinearMatMul":
            w = dequantize(const(node.input[3]), const(node.input[4]), const(node.input[5]), 1)
            linear = (w.T, bias_of_add(node.output[0], ("QLinearAdd",)))
            folded = True
            continue
        else:
            continue
        pads, strides = a.get("pads", [0, 0, 0, 0]), a.get("strides", [1, 1])
        if len(set(pads)) != 1 or len(set(strides)) != 1 or set(a.get("dilations", [1, 1])) != {1}:
            sys.exit(f"{path}: conv {node.name or node.output[0]} has pads {pads}, strides {strides}: not MobileNetV2")
        convs.append((w, b, strides[0], a.get("group", 1), pads[0]))

    expected = architecture()
    if len(convs) != len(expected) or linear is None:
        sys.exit(f"{path}: {len(convs)} convolutions and {'a' if linear else 'no'} classifier; MobileNetV2 has {len(expected)} and one")
    tensors = {}
    for (w, b, stride, groups, pad), (name, shape, e_stride, e_groups, e_pad) in zip(convs, expected):
        if w.shape != shape or (stride, groups, pad) != (e_stride, e_groups, e_pad):
            sys.exit(f"{path}: conv {len(tensors) // 2} is {w.shape} stride {stride} groups {groups} pad {pad}; "
                     f"{name} is {shape} stride {e_stride} groups {e_groups} pad {e_pad}")
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = np.ascontiguousarray(w), np.ascontiguousarray(b)
    w, b = linear
    if w.shape != (1000, 1280) or b.shape != (1000,):
        sys.exit(f"{path}: the classifier is {w.shape} + {b.shape}, not 1000 x 1280 + 1000")
    tensors["classifier.1.weight"], tensors["classifier.1.bias"] = np.ascontiguousarray(w), np.ascontiguousarray(b)
    done = "dequantized, BN folded into conv bias" if folded else "BN folded into conv bias"
    return tensors, f"onnx/models {os.path.basename(path)} (Apache-2.0), {done}"


def from_torchvision(path: str, out: str) -> int:
    """torchvision's state dict as it is (conv weights and BN tensors); sous folds BN at load."""
    (torch,) = need("torch", pip="torch safetensors  (torch is a large download)")
    need("safetensors", pip="safetensors")
    from safetensors.torch import save_file

    state = torch.load(path, map_location="cpu", weights_only=True)
    for name, shape in [("features.0.0.weight", (32, 3, 3, 3)), ("features.0.1.running_var", (32,)), ("classifier.1.weight", (1000, 1280))]:
        if name not in state or tuple(state[name].shape) != shape:
            sys.exit(f"{path}: not torchvision's mobilenet_v2 state dict ({name} {shape} missing)")
    save_file({k: v.contiguous() for k, v in state.items()}, out,
              metadata=metadata(f"torchvision mobilenet_v2 {os.path.basename(path)}, batch norm not folded"))
    return len(state)


def compare(out: str, reference: str) -> bool:
    """Prints how the written file differs from `reference`; True when names, shapes and metadata
    match and values agree within float rounding."""
    (np,) = need("numpy", pip="numpy safetensors")
    from safetensors import safe_open

    with safe_open(out, "np") as a, safe_open(reference, "np") as b:
        names_a, names_b = set(a.keys()), set(b.keys())
        if names_a != names_b:
            print(f"names differ: only here {sorted(names_a - names_b)[:5]}, only there {sorted(names_b - names_a)[:5]}")
            return False
        worst, worst_name, shapes_ok, bitwise = 0.0, "", True, True
        for name in sorted(names_a):
            x, y = a.get_tensor(name), b.get_tensor(name)
            if x.shape != y.shape or x.dtype != y.dtype:
                print(f"{name}: {x.shape} {x.dtype} here, {y.shape} {y.dtype} there")
                shapes_ok = False
                continue
            bitwise = bitwise and x.tobytes() == y.tobytes()
            diff = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) if x.size else 0.0
            if diff > worst:
                worst, worst_name = diff, name
        meta_a, meta_b = a.metadata() or {}, b.metadata() or {}
        same_meta = set(meta_a) == set(meta_b) and all(meta_a[k] == meta_b[k] for k in meta_a if k != "source")
        print(f"compare with {reference}: {len(names_a)} tensors, same names, shapes {'equal' if shapes_ok else 'DIFFER'}, "
              f"max abs diff {worst:.3g}{f' ({worst_name})' if worst else ''}, metadata keys {sorted(meta_a)} "
              f"{'equal' if same_meta else 'DIFFER'}{' (source aside)' if meta_a.get('source') != meta_b.get('source') else ''}"
              f"{'; every tensor bit-identical' if bitwise and shapes_ok else ''}")
        return shapes_ok and same_meta and worst <= 1e-6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", metavar="PATH", help="the ONNX Model Zoo's mobilenetv2-12-int8.onnx or mobilenetv2-12.onnx")
    source.add_argument("--torchvision", metavar="PATH", help="torchvision's mobilenet_v2 ImageNet state dict (.pth); needs torch")
    parser.add_argument("--out", metavar="DIR", default=os.environ.get("SOUS_MODEL_DIR") or "models",
                        help=f"where to write {FILE_NAME} (default: $SOUS_MODEL_DIR, else models)")
    parser.add_argument("--compare", metavar="SAFETENSORS", help="then compare the result with this file (names, shapes, values)")
    args = parser.parse_args()

    source_path = args.onnx or args.torchvision
    if not os.path.isfile(source_path):
        sys.exit(f"no such file: {source_path}")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, FILE_NAME)
    print(f"input {source_path}: sha256 {sha256(source_path)}")
    if args.onnx:
        tensors, source = from_onnx(args.onnx)
        need("safetensors", pip="onnx numpy safetensors")
        from safetensors.numpy import save_file

        save_file(tensors, out, metadata=metadata(source))
        params = sum(t.size for t in tensors.values())
        print(f"wrote {out}: {len(tensors)} f32 tensors ({params:,} parameters), 52 convs + classifier, "
              f"from {source.split(' (')[0].removeprefix('onnx/models ')}")
    else:
        count = from_torchvision(args.torchvision, out)
        print(f"wrote {out}: {count} tensors as torchvision has them (BN not folded)")
    if args.compare and not compare(out, args.compare):
        sys.exit(1)


if __name__ == "__main__":
    main()
