#!/usr/bin/python3
"""Smile-classifier inference: grin against ONNX Runtime (npm onnxruntime-node) and OpenCV DNN on
the same networks with the same weights (grin export --onnx), batch 1, one and two threads.

For each network it first checks that the three runtimes agree (random crops through
`grin classify --crops`, the same normalised floats through ONNX Runtime and OpenCV DNN:
max |difference| must be <= 1e-4), then times them, interleaved, --rounds times, and reports the
min and median of the per-round medians, the ratios to grin, and every figure as a fraction of
the measured fp32 peak of the cores used. Run on an idle machine:

    /usr/bin/python3 bench/bench_classify.py --grin build/grin [--rounds 3] [--json out.json]

Needs: python3-opencv, node, and onnxruntime-node under bench/node_modules
(scripts/install-bench-deps.sh).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

# (name, alpha, input, gray, repeats for 1 thread)
NETS = [
    ("mobilenet 0.25 64 rgb", 0.25, 64, False, 3000),
    ("mobilenet 0.5 64 rgb", 0.5, 64, False, 1500),
    ("mobilenet 1.0 224 rgb", 1.0, 224, False, 40),
]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"bench_classify: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout


def opencv_time(onnx, shape, threads, repeat):
    """OpenCV DNN in its own process (its thread pool is process-wide)."""
    code = f"""
import cv2, numpy as np, time, json
cv2.setNumThreads({threads})
net = cv2.dnn.readNetFromONNX({onnx!r})
x = ((np.arange({int(np.prod(shape))}) * 7 % 255) / 127.5 - 1).astype(np.float32).reshape({shape})
for _ in range(20):
    net.setInput(x); net.forward()
ms = []
for _ in range({repeat}):
    t = time.perf_counter(); net.setInput(x); net.forward(); ms.append((time.perf_counter() - t) * 1e3)
ms.sort()
print(json.dumps({{"ms_min": ms[0], "ms_median": ms[len(ms) // 2]}}))
"""
    return json.loads(run(["/usr/bin/python3", "-c", code]))


def ort_time(onnx, threads, repeat):
    return json.loads(run(["node", os.path.join(HERE, "ort_bench.js"), onnx, "--threads", str(threads),
                           "--repeat", str(repeat)]))


def grin_time(grin, model, threads, repeat):
    o = json.loads(run([grin, "bench", "classify", "--raw", "--model", model, "--threads", str(threads),
                        "--repeat", str(repeat)]))
    return {"ms_min": o["ms_per_crop_min"], "ms_median": o["ms_per_crop_median"], "peak": o["core_peak_gflops"],
            "macs": None}


def parity(grin, model, onnx, size, channels, tmp):
    import cv2
    rng = np.random.default_rng(7)
    files, xs = [], []
    for i in range(6):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        if i % 2:  # smoother, face-like statistics too
            img = cv2.GaussianBlur(img, (0, 0), 3)
        f = os.path.join(tmp, f"crop{i}.png")
        cv2.imwrite(f, img)  # BGR on disk; grin reads RGB
        files.append(f)
        rgb = img[:, :, ::-1].astype(np.int64)
        if channels == 1:  # grey as grin converts: BT.601 in 15-bit fixed point
            g = (rgb[:, :, 0] * 9798 + rgb[:, :, 1] * 19235 + rgb[:, :, 2] * 3735 + 16384) >> 15
            x = g.astype(np.float32)[None]
        else:
            x = rgb.astype(np.float32).transpose(2, 0, 1)
        xs.append((x * np.float32(1 / 127.5) - np.float32(1)).astype(np.float32))
    g = [json.loads(l)["smile"] for l in run([grin, "classify", "--crops", "--raw", "--model", model] + files).splitlines()]
    raw = os.path.join(tmp, "x.f32")
    np.stack(xs).astype("<f4").tofile(raw)
    o = json.loads(run(["node", os.path.join(HERE, "ort_bench.js"), onnx, "--input", raw]))["outputs"]
    net = cv2.dnn.readNetFromONNX(onnx)
    c = []
    for x in xs:
        net.setInput(x[None])
        c.append(float(net.forward().ravel()[0]))
    d_ort = max(abs(a - b) for a, b in zip(g, o))
    d_cv = max(abs(a - b) for a, b in zip(g, c))
    return d_ort, d_cv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", default="build/grin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shipped", default=os.path.join(HERE, "..", "models", "smile.grinnet"))
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    ap.add_argument("--only", help="only the networks whose name contains this (e.g. '1.0 224')")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="grin-bench-cls-")
    nets = []
    info = json.loads(run([a.grin, "model", "info", "--model", a.shipped]).splitlines()[0])
    nets.append(("shipped " + os.path.basename(a.shipped), a.shipped, info["input"][0], info["input"][2], 3000))
    for name, alpha, size, gray, rep in NETS:
        m = os.path.join(tmp, name.replace(" ", "_") + ".grinnet")
        cmd = [a.grin, "model", "init", "--alpha", str(alpha), "--input", str(size), "--out", m]
        if gray:
            cmd.append("--gray")
        run(cmd)
        nets.append((name, m, size, 1 if gray else 3, rep))
    if a.only:
        nets = [n for n in nets if a.only in n[0]]
    results = []
    for name, model, size, ch, rep in nets:
        if a.quick:
            rep = max(5, rep // 20)
        onnx = model.replace(".grinnet", ".onnx") if model.endswith(".grinnet") else model + ".onnx"
        if model == a.shipped:
            onnx = os.path.join(tmp, "shipped.onnx")
        run([a.grin, "export", "--onnx", onnx, "--model", model])
        d_ort, d_cv = parity(a.grin, model, onnx, size, ch, tmp)
        macs = json.loads(run([a.grin, "model", "info", "--model", model]).splitlines()[0])["multiply_adds"]
        print(f"{name}: {macs / 1e6:.1f} M multiply-adds; max |grin - ORT| {d_ort:.2e}, |grin - OpenCV| {d_cv:.2e}",
              flush=True)
        if d_ort > 1e-4 or d_cv > 1e-4:
            sys.exit(f"bench_classify: {name}: runtimes disagree by more than 1e-4")
        for threads in (1, 2):
            per = {"grin": [], "onnxruntime": [], "opencv": []}
            mins = {"grin": [], "onnxruntime": [], "opencv": []}
            peak = 0.0
            for _ in range(a.rounds):
                g = grin_time(a.grin, model, threads, rep)
                peak = max(peak, g["peak"])
                o = ort_time(onnx, threads, rep)
                c = opencv_time(onnx, (1, ch, size, size), threads, max(5, rep // 3))
                for k, v in (("grin", g), ("onnxruntime", o), ("opencv", c)):
                    per[k].append(v["ms_median"])
                    mins[k].append(v["ms_min"])
            row = {"net": name, "macs": macs, "threads": threads, "core_peak_gflops": peak,
                   "max_abs_diff_ort": d_ort, "max_abs_diff_opencv": d_cv}
            for k in per:
                med = statistics.median(per[k])
                row[k] = {"ms_min": min(mins[k]), "ms_median": med, "per_s": 1000.0 / med,
                          "fraction_of_peak": 2 * macs / (med / 1000.0) / 1e9 / (peak * threads) if peak else None}
            row["grin_vs_onnxruntime"] = row["onnxruntime"]["ms_median"] / row["grin"]["ms_median"]
            row["grin_vs_opencv"] = row["opencv"]["ms_median"] / row["grin"]["ms_median"]
            results.append(row)
            print(f"  {threads} thread(s): grin {row['grin']['ms_median']:.4f} ms "
                  f"({row['grin']['fraction_of_peak']:.0%} of peak), ONNX Runtime {row['onnxruntime']['ms_median']:.4f} ms "
                  f"({row['onnxruntime']['fraction_of_peak']:.0%}), OpenCV DNN {row['opencv']['ms_median']:.4f} ms "
                  f"({row['opencv']['fraction_of_peak']:.0%}) -> grin {row['grin_vs_onnxruntime']:.2f}x ORT, "
                  f"{row['grin_vs_opencv']:.2f}x OpenCV", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
