#!/usr/bin/python3
"""The real-time pipeline against the study's own tools: `grin run` vs bench/reference_pipeline.cpp
(OpenCV VideoCapture + CascadeClassifier, dlib shape_predictor, OpenCV similarity warp, OpenCV
DNN on the same classifier exported to ONNX), same clip, same detector parameters, same
detection schedule, interleaved --rounds times; min and median frames/s and the ratio of medians.
Also: --realtime on a paced 30 FPS 720p source (drops, latency), and memory over 10 passes.

    /usr/bin/python3 bench/bench_pipeline.py --grin build/grin [--rounds 3]
Makes its 720p clips (franck scaled to 900x720, centred in 1280x720) with OpenCV in a temp folder.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASCADE = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
SP = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"bench_pipeline: {' '.join(cmd)}: {r.stderr.strip()[-500:]}")
    return r.stdout


def make_720(src, dst, fps, frames):
    code = f"""
import cv2, numpy as np
cap = cv2.VideoCapture({src!r})
w = cv2.VideoWriter({dst!r}, cv2.VideoWriter_fourcc(*'mp4v'), {fps}, (1280, 720))
n = 0
while n < {frames}:
    ok, f = cap.read()
    if not ok: break
    o = np.zeros((720, 1280, 3), np.uint8); o[:, 190:1090] = cv2.resize(f, (900, 720)); w.write(o); n += 1
w.release()
"""
    sh(["/usr/bin/python3", "-c", code])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", default="build/grin")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="grin-bench-run-")
    ref = os.path.join(tmp, "reference_pipeline")
    subprocess.run(f"g++ -O3 -march=native -DNDEBUG -o {ref} {HERE}/reference_pipeline.cpp "
                   "$(pkg-config --cflags --libs opencv4 dlib-1) -lpthread", shell=True, check=True)
    onnx = os.path.join(tmp, "smile.onnx")
    sh([a.grin, "export", "--onnx", onnx])
    info = json.loads(sh([a.grin, "model", "info", "--model", os.path.join(ROOT, "models", "smile.grinnet")]).splitlines()[0])
    size, ch = str(info["input"][0]), str(info["input"][2])
    franck = os.path.join(ROOT, "data", "video", "franck.webm")
    hd = os.path.join(tmp, "franck720.mp4")
    make_720(franck, hd, 25, 2000)
    results = []
    for clip, name in ((franck, "franck 360x288"), (hd, "franck 1280x720")):
        for every, frames in ((4, 2000), (1, 600)):
            g, r = [], []
            for _ in range(a.rounds):
                s = json.loads(sh([a.grin, "run", clip, "--detect-every", str(every), "--frames", str(frames),
                                   "--stats"]).strip().splitlines()[-1])
                g.append(s["fps"])
                o = json.loads(sh([ref, clip, CASCADE, SP, onnx, size, ch, str(every), "2", str(frames)]))
                r.append(o["fps"])
            row = {"clip": name, "detect_every": every, "frames": frames, "grin_fps_min": min(g),
                   "grin_fps_median": statistics.median(g), "ref_fps_min": min(r), "ref_fps_median": statistics.median(r),
                   "ratio": statistics.median(g) / statistics.median(r)}
            results.append(row)
            print(f"{name}, detection every {every}: grin {row['grin_fps_median']:.1f} fps (min {row['grin_fps_min']:.1f}), "
                  f"reference {row['ref_fps_median']:.1f} (min {row['ref_fps_min']:.1f}) -> {row['ratio']:.2f}x", flush=True)
    hd30 = os.path.join(tmp, "franck720_30.mp4")
    make_720(franck, hd30, 30, 1800)
    for every in (4, 1):
        for _ in range(a.rounds):
            s = json.loads(sh([a.grin, "run", hd30, "--realtime", "--pace", "--detect-every", str(every),
                               "--stats"]).strip().splitlines()[-1])
            results.append({"realtime_720p_30fps": s, "detect_every": every})
            print(f"realtime 720p 30 fps, detection every {every}: {json.dumps(s)}", flush=True)
    s = json.loads(sh([a.grin, "run", franck, "--repeat", "10", "--stats"]).strip().splitlines()[-1])
    growth = s["rss_kb"][-1] - s["rss_kb"][0]
    results.append({"memory_rss_kb": s["rss_kb"], "growth_kb": growth})
    print(f"memory: RSS after each of 10 passes over franck (kB): {s['rss_kb']}; growth after the first {growth} kB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
