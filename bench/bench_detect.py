#!/usr/bin/python3
"""Detector speed: grin vs OpenCV's C++ detectMultiScale, same frames, same parameters, same run.

Frames: data/samples/2008_001322.jpg (3 faces) scaled to 640x480 and 1280x720. For each size and
thread count, the two tools alternate `--rounds` times (each round a `--repeat`-frame timing);
the table gives min and median ms per frame over all rounds and grin's speed-up as the ratio of
medians. Usage: bench/bench_detect.py [--grin build/grin] [--rounds 3] [--repeat 15]"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", default=os.path.join(ROOT, "build/grin"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--cascade", default="/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
    ap.add_argument("--scale-factor", default="1.1")
    ap.add_argument("--threads", default="1,%d" % os.cpu_count())
    ap.add_argument("--json")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="grin-bench-")
    ref = os.path.join(tmp, "opencv_detect")
    subprocess.run("g++ -O2 -o %s %s $(pkg-config --cflags --libs opencv4)" %
                   (ref, os.path.join(ROOT, "bench/opencv_detect.cpp")), shell=True, check=True)
    import cv2
    src = cv2.imread(os.path.join(ROOT, "data/samples/2008_001322.jpg"))
    frames = {}
    for w, h in ((640, 480), (1280, 720)):
        p = os.path.join(tmp, "frame_%dx%d.png" % (w, h))
        cv2.imwrite(p, cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA))
        frames["%dx%d" % (w, h)] = p
    common = ["--cascade", a.cascade, "--scale-factor", a.scale_factor, "--min-neighbors", "3",
              "--min-size", "30", "--repeat", str(a.repeat)]
    rows = []
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    print("machine: %s, %d cores; %s" % (cpu, os.cpu_count(),
          subprocess.run([a.grin, "--version"], capture_output=True, text=True).stdout.strip()))
    print("%-10s %7s | %9s %9s | %9s %9s | %7s %s" % ("frame", "threads", "grin min", "grin med",
          "cv min", "cv med", "speedup", "faces grin/cv"))
    for name, path in frames.items():
        for th in a.threads.split(","):
            g, c = [], []
            gf = cf = None
            for _ in range(a.rounds):
                out = subprocess.run([a.grin, "bench", "detect", "--image", path, "--threads", th] + common,
                                     capture_output=True, text=True, check=True).stdout
                j = json.loads(out)
                g += [j["ms_per_frame_min"], j["ms_per_frame_median"]]
                gf = j["faces"]
                out = subprocess.run([ref, "--image", path, "--threads", th] + common,
                                     capture_output=True, text=True, check=True).stdout
                j = json.loads(out)
                c += [j["ms_per_frame_min"], j["ms_per_frame_median"]]
                cf = j["faces"]
            gmin, gmed = min(g[0::2]), statistics.median(g[1::2])
            cmin, cmed = min(c[0::2]), statistics.median(c[1::2])
            row = {"frame": name, "threads": int(th), "grin_ms_min": gmin, "grin_ms_median": gmed,
                   "opencv_ms_min": cmin, "opencv_ms_median": cmed, "speedup_median": cmed / gmed,
                   "speedup_min": cmin / gmin, "faces_grin": gf, "faces_opencv": cf}
            rows.append(row)
            print("%-10s %7s | %9.2f %9.2f | %9.2f %9.2f | %6.2fx %d/%d" % (name, th, gmin, gmed, cmin,
                  cmed, cmed / gmed, gf, cf))
    if a.json:
        json.dump({"machine": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
                   "rows": rows}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
