#!/usr/bin/python3
"""Landmark parity of grin with dlib's C++ shape_predictor, and the accuracy report.

Faces: every box of dlib's annotated photos (../shared/data/faces/*_with_face_landmarks.xml) and
the faces grin's detector finds in 300 MTFL photos. Both tools read the same pixels and boxes:
every other photo as colour (a PPM: dlib reads a colour pixel's intensity as (R + G + B) / 3, and
so must grin), the others as grey (a PGM written from OpenCV's grey conversion, which grin's
equals). The oracle is
tests/oracle/dlib_landmarks.cpp built against libdlib-dev. Pass: every landmark within 0.01 px
of dlib's unrounded position, and floor(v + 0.5) equal to dlib's integer landmarks.
Also prints the mean error normalised by the inter-ocular distance (eye centres, as dlib's
examples measure it) on the annotated testing photos, for grin and for dlib.
Run with /usr/bin/python3 (python3-opencv)."""
import argparse
import atexit
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def annotated(shared):
    out = []
    for name in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        xml = os.path.join(shared, "data/faces", name)
        for im in ET.parse(xml).getroot().iter("image"):
            for b in im.iter("box"):
                pts = {int(p.get("name")): (float(p.get("x")), float(p.get("y"))) for p in b.iter("part")}
                out.append({"image": os.path.join(shared, "data/faces", im.get("file")),
                            "box": [int(b.get("left")), int(b.get("top")), int(b.get("width")), int(b.get("height"))],
                            "truth": [pts[i] for i in range(68)] if len(pts) == 68 else None,
                            "set": "testing" if "testing" in name else "training"})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", required=True)
    ap.add_argument("--shared", default=os.path.join(ROOT, "../shared"))
    ap.add_argument("--mtfl", type=int, default=300)
    ap.add_argument("--model", default="/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
    ap.add_argument("--tolerance", type=float, default=0.01)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.shared, "data")):
        print("landmarks parity: no shared data; skipping")
        sys.exit(77)
    import cv2
    tmp = tempfile.mkdtemp(prefix="grin-lmk-")
    atexit.register(shutil.rmtree, tmp, True)  # (ignore_errors)
    oracle = os.path.join(tmp, "dlib_landmarks")
    subprocess.run("g++ -O2 -ffp-contract=off -DNDEBUG -o %s %s $(pkg-config --cflags --libs dlib-1) -lpthread"
                   % (oracle, os.path.join(ROOT, "tests/oracle/dlib_landmarks.cpp")), shell=True, check=True)
    # grin runs on its own format (converted here), which also checks the conversion is exact
    native = os.path.join(tmp, "model.grinlmk")
    conv = subprocess.run([a.grin, "convert-landmarks", a.model, native], capture_output=True, text=True, check=True)
    print("convert:", conv.stdout.strip())
    faces = annotated(a.shared)
    # faces grin's detector finds in MTFL photos
    rows = [l.split(",")[0] for l in open(os.path.join(a.shared, "data/mtfl-train/labels.csv")).read().splitlines()[1:]]
    pick = [os.path.join(a.shared, "data/mtfl-train", r) for r in rows[::max(1, len(rows) // a.mtfl)][:a.mtfl]]
    det = subprocess.run([a.grin, "detect"] + pick, capture_output=True, text=True)
    for l in det.stdout.splitlines():
        d = json.loads(l)
        for f in d.get("faces", []):
            faces.append({"image": d["image"], "box": list(f["box"]), "truth": None, "set": "mtfl"})
    # one file per image: colour PPMs and grey PGMs in turn
    pgm = {}
    for f in faces:
        if f["image"] not in pgm:
            bgr = cv2.imread(f["image"])
            colour = len(pgm) % 2 == 0 and bgr.ndim == 3
            p = os.path.join(tmp, "%05d.%s" % (len(pgm), "ppm" if colour else "pgm"))
            cv2.imwrite(p, bgr if colour else cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
            pgm[f["image"]] = p
    # oracle
    inp = "".join("%s %d %d %d %d\n" % (pgm[f["image"]], *f["box"]) for f in faces)
    ref = [json.loads(l) for l in subprocess.run([oracle, "--model", a.model], input=inp, capture_output=True,
                                                  text=True, check=True).stdout.splitlines()]
    # grin, one call per image with all its boxes
    by_image = {}
    for i, f in enumerate(faces):
        by_image.setdefault(f["image"], []).append(i)

    def run_grin(model):
        res = {}
        for img, idx in by_image.items():
            args = [a.grin, "landmarks", "--model", model]
            for i in idx:
                args += ["--box", ",".join(str(v) for v in faces[i]["box"])]
            out = subprocess.run(args + [pgm[img]], capture_output=True, text=True, check=True).stdout
            for i, fr in zip(idx, json.loads(out)["faces"]):
                res[i] = fr["points"]
        return res
    got = run_grin(native)
    # the 16-bit leaf formats: how far they move the landmarks from the exact ones
    sixteen = {}
    for flag in ("--half", "--q16"):
        path = native + flag
        subprocess.run([a.grin, "convert-landmarks", flag, a.model, path], capture_output=True, check=True)
        alt = run_grin(path)
        d = [math.hypot(p[0] - q[0], p[1] - q[1]) for i in got for p, q in zip(got[i], alt[i])]
        sixteen[flag[2:]] = {"mean_px": sum(d) / len(d), "max_px": max(d),
                             "file_bytes": os.path.getsize(path)}
    worst = 0.0
    total = 0.0
    npts = 0
    bad_faces = 0
    rounded_mismatch = 0
    for i, r in enumerate(ref):
        g = got[i]
        d = max(max(abs(p[0] - q[0]), abs(p[1] - q[1])) for p, q in zip(g, r["exact"]))
        worst = max(worst, d)
        total += sum(math.hypot(p[0] - q[0], p[1] - q[1]) for p, q in zip(g, r["exact"]))
        npts += len(g)
        bad_faces += d > a.tolerance
        # grin reports float positions: a value within 1e-3 px of a .5 boundary may round
        # either way, so only clear disagreements count
        rounded_mismatch += sum(1 for p, q in zip(g, r["points"])
                                if (math.floor(p[0] + 0.5), math.floor(p[1] + 0.5)) != tuple(q)
                                and min(abs(p[0] % 1 - 0.5), abs(p[1] % 1 - 0.5)) > 1e-3)
    # accuracy on the annotated testing photos
    def nme(points_of):
        errs = []
        for i, f in enumerate(faces):
            if f["set"] != "testing" or not f["truth"]:
                continue
            t = f["truth"]
            le = [sum(t[k][j] for k in range(36, 42)) / 6 for j in (0, 1)]
            re = [sum(t[k][j] for k in range(42, 48)) / 6 for j in (0, 1)]
            iod = math.hypot(le[0] - re[0], le[1] - re[1])
            p = points_of(i)
            errs.append(sum(math.hypot(p[k][0] - t[k][0], p[k][1] - t[k][1]) for k in range(68)) / 68 / iod)
        return sum(errs) / len(errs), len(errs)
    nme_grin, nt = nme(lambda i: got[i])
    nme_dlib, _ = nme(lambda i: ref[i]["points"])
    nme_grin_int, _ = nme(lambda i: [(math.floor(x + 0.5), math.floor(y + 0.5)) for x, y in got[i]])
    report = {"faces": len(ref), "annotated_faces": sum(1 for f in faces if f["set"] != "mtfl"),
              "mtfl_faces": sum(1 for f in faces if f["set"] == "mtfl"), "points": npts,
              "max_abs_diff_px": worst, "mean_diff_px": total / npts, "faces_over_tolerance": bad_faces,
              "rounded_mismatches": rounded_mismatch, "testing_faces": nt,
              "nme_grin": nme_grin, "nme_grin_rounded": nme_grin_int, "nme_dlib": nme_dlib,
              "sixteen_bit_leaves": sixteen, "float32_file_bytes": os.path.getsize(native)}
    print(json.dumps(report))
    if a.json:
        json.dump(report, open(a.json, "w"), indent=1)
    ok = bad_faces == 0 and rounded_mismatch == 0
    print("%d passed, %d failed" % (len(ref) - bad_faces, bad_faces))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
