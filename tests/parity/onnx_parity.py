#!/usr/bin/python3
"""The exported ONNX model computes what grin computes: for the shipped model and untrained
MobileNets (grey and RGB, alpha 0.25 / 0.5 / 0.35, whose channel counts leave partial weight
panels) and face-api.js-style networks with running sums (grey and RGB), `grin export --onnx` loaded in OpenCV DNN must give grin's probabilities on the same
crops within 1e-4. ONNX Runtime is compared the same way when bench/node_modules has it.

    /usr/bin/python3 tests/parity/onnx_parity.py build/grin
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"onnx_parity: {' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


def main():
    grin = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="grin-onnx-")
    atexit.register(shutil.rmtree, tmp, True)  # (ignore_errors)
    models = [(os.path.join(ROOT, "models", "smile.grinnet"), None)]
    for arch, alpha, size, gray in (("mobilenet", 0.25, 64, True), ("mobilenet", 0.5, 48, False),
                                    ("mobilenet", 0.35, 40, False), ("dense4", 0.5, 33, True),
                                    ("dense4", 0.25, 49, False)):
        m = os.path.join(tmp, f"{arch}{alpha}_{size}.grinnet")
        run([grin, "model", "init", "--arch", arch, "--alpha", str(alpha), "--input", str(size), "--seed", "3",
             "--out", m] + (["--gray"] if gray else []))
        models.append((m, None))
    ort = os.path.isdir(os.path.join(ROOT, "bench", "node_modules", "onnxruntime-node"))
    rng = np.random.default_rng(5)
    worst = 0.0
    for model, _ in models:
        info = json.loads(run([grin, "model", "info", "--model", model]).splitlines()[0])
        size, ch = info["input"][0], info["input"][2]
        onnx = os.path.join(tmp, os.path.basename(model) + ".onnx")
        run([grin, "export", "--onnx", onnx, "--model", model])
        files, xs = [], []
        for i in range(8):
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            if i % 2:
                img = cv2.GaussianBlur(img, (0, 0), 2)
            f = os.path.join(tmp, f"c{i}.png")
            cv2.imwrite(f, img)
            files.append(f)
            rgb = img[:, :, ::-1].astype(np.int64)
            if ch == 1:  # grin's grey: BT.601 in 15-bit fixed point
                x = ((rgb[:, :, 0] * 9798 + rgb[:, :, 1] * 19235 + rgb[:, :, 2] * 3735 + 16384) >> 15)[None]
            else:
                x = rgb.transpose(2, 0, 1)
            xs.append((x.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)).astype(np.float32))
        g = [json.loads(l)["smile"] for l in run([grin, "classify", "--crops", "--raw", "--model", model] + files).splitlines()]
        net = cv2.dnn.readNetFromONNX(onnx)
        for x, p in zip(xs, g):
            net.setInput(x[None])
            q = float(net.forward().ravel()[0])
            worst = max(worst, abs(p - q))
            if abs(p - q) > 1e-4:
                sys.exit(f"onnx_parity: {model}: grin {p:.6f}, OpenCV DNN {q:.6f}")
        if ort:
            raw = os.path.join(tmp, "x.f32")
            np.stack(xs).astype("<f4").tofile(raw)
            o = json.loads(run(["node", os.path.join(ROOT, "bench", "ort_bench.js"), onnx, "--input", raw]))["outputs"]
            for p, q in zip(g, o):
                worst = max(worst, abs(p - q))
                if abs(p - q) > 1e-4:
                    sys.exit(f"onnx_parity: {model}: grin {p:.6f}, ONNX Runtime {q:.6f}")
    print(f"onnx_parity: {len(models)} models agree with OpenCV DNN{' and ONNX Runtime' if ort else ''}: "
          f"max |difference| {worst:.2e}")


if __name__ == "__main__":
    main()
