#!/usr/bin/python3
"""Landmark speed: grin vs dlib's C++ shape_predictor, same faces (the boxes grin's detector
finds in data/samples), same grey pixels, same run. dlib is built -O3 -march=native -DNDEBUG
(its fast configuration). Each round times `--repeat` passes over all faces in each tool;
rounds alternate; the table gives per-face min and median over all rounds. Also model load
times. Usage: bench/bench_landmarks.py [--grin build/grin] [--rounds 5] [--repeat 200]"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", default=os.path.join(ROOT, "build/grin"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--json")
    a = ap.parse_args()
    import cv2
    tmp = tempfile.mkdtemp(prefix="grin-lmkbench-")
    ref = os.path.join(tmp, "dlib_landmarks")
    subprocess.run("g++ -O3 -march=native -DNDEBUG -o %s %s $(pkg-config --cflags --libs dlib-1) -lpthread"
                   % (ref, os.path.join(ROOT, "tests/oracle/dlib_landmarks.cpp")), shell=True, check=True)
    models = {"float32": os.path.join(tmp, "m.grinlmk"), "q16": os.path.join(tmp, "m.q16"),
              "float16": os.path.join(tmp, "m.f16")}
    for kind, flag in (("float32", []), ("q16", ["--q16"]), ("float16", ["--half"])):
        subprocess.run([a.grin, "convert-landmarks"] + flag + [MODEL, models[kind]], check=True, capture_output=True)
    faces = []  # (pgm, box)
    for name in sorted(os.listdir(os.path.join(ROOT, "data/samples"))):
        if not name.endswith(".jpg"):
            continue
        path = os.path.join(ROOT, "data/samples", name)
        pgm = os.path.join(tmp, name + ".pgm")
        cv2.imwrite(pgm, cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY))
        d = json.loads(subprocess.run([a.grin, "detect", path], capture_output=True, text=True, check=True).stdout)
        faces += [(pgm, tuple(f["box"])) for f in d["faces"]]
    by_pgm = {}
    for p, b in faces:
        by_pgm.setdefault(p, []).append(b)
    res = {k: [] for k in ("dlib", "grin float32", "grin q16", "grin float16")}
    loads = {"dlib .dat": [], "grin .dat": [], "grin float32": [], "grin q16": []}
    for _ in range(a.rounds):
        inp = "".join("%s %d %d %d %d\n" % (p, *b) for p, b in faces)
        r = subprocess.run([ref, "--model", MODEL, "--repeat", str(a.repeat)], input=inp, capture_output=True,
                           text=True, check=True)
        j = json.loads(r.stderr.strip().splitlines()[-1])
        res["dlib"].append((j["ms_per_face_min"], j["ms_per_face_median"]))
        loads["dlib .dat"].append(float(re.search(r"loaded in ([0-9.]+) ms", r.stderr).group(1)))
        for kind, label in (("float32", "grin float32"), ("q16", "grin q16"), ("float16", "grin float16")):
            mins, meds = [], []
            for p, boxes in by_pgm.items():
                args = [a.grin, "bench", "landmarks", "--image", p, "--model", models[kind], "--repeat", str(a.repeat)]
                for b in boxes:
                    args += ["--box", "%d,%d,%d,%d" % b]
                j = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
                mins.append(j["ms_per_face_min"])
                meds.append(j["ms_per_face_median"])
                if label in loads:
                    loads[label].append(j["model_load_ms"])
            res[label].append((min(mins), statistics.median(meds)))
        j = json.loads(subprocess.run([a.grin, "bench", "landmarks", "--image", faces[0][0], "--model", MODEL,
                                       "--repeat", "1", "--box", "%d,%d,%d,%d" % faces[0][1]],
                                      capture_output=True, text=True, check=True).stdout)
        loads["grin .dat"].append(j["model_load_ms"])
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    print("machine: %s, %d cores; %d faces, %d rounds x %d repeats" % (cpu, os.cpu_count(), len(faces), a.rounds, a.repeat))
    dmed = statistics.median(m for _, m in res["dlib"])
    dmin = min(m for m, _ in res["dlib"])
    rows = []
    print("%-14s %10s %10s %9s" % ("tool", "min ms", "median ms", "vs dlib"))
    for k, v in res.items():
        mn, md = min(x for x, _ in v), statistics.median(y for _, y in v)
        rows.append({"tool": k, "ms_per_face_min": mn, "ms_per_face_median": md, "speedup_median": dmed / md,
                     "speedup_min": dmin / mn})
        print("%-14s %10.4f %10.4f %8.2fx" % (k, mn, md, dmed / md))
    print("model load, ms (min / median):")
    for k, v in loads.items():
        print("  %-14s %8.1f / %8.1f" % (k, min(v), statistics.median(v)))
    if a.json:
        json.dump({"machine": cpu, "faces": len(faces), "rows": rows,
                   "load_ms": {k: {"min": min(v), "median": statistics.median(v)} for k, v in loads.items()}},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
