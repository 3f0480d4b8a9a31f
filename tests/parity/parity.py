#!/usr/bin/python3
"""Box-for-box parity of `grin detect` with OpenCV's CascadeClassifier.detectMultiScale.

Runs both on the same photos (dlib's face photos, GENKI-4K, MTFL, frames of franck.webm) for
several cascades and scale factors, matches boxes at IoU >= 0.9 and reports, per configuration,
how many of OpenCV's boxes grin matched and how many extra boxes grin gave. Exits non-zero when
matched < 99% or extra > 1% anywhere (or, with --exact, on any difference at all).
Needs Debian's python3-opencv: run it with /usr/bin/python3."""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASCADES = {
    "haar_default": "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
    "haar_alt2": "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml",
    "lbp_improved": "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml",
}


def iou(a, b):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a["box"], b["box"]
    x0, y0 = max(ax, bx), max(ay, by)
    x1 = min(ax + aw, bx + bw)
    y1 = min(ay + ah, by + bh)
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    union = aw * ah + bw * bh - inter
    return inter / union if union else 0.0


def match(ref, got):
    """Greedy one-to-one matching by IoU; returns (matched, exact)."""
    pairs = sorted(((iou(r, g), i, j) for i, r in enumerate(ref) for j, g in enumerate(got)),
                   reverse=True)
    used_r, used_g, matched, exact = set(), set(), 0, 0
    for v, i, j in pairs:
        if v < 0.9:
            break
        if i in used_r or j in used_g:
            continue
        used_r.add(i)
        used_g.add(j)
        matched += 1
        exact += ref[i] == got[j]
    return matched, exact


def images(shared, n_genki, n_mtfl, n_frames, tmp):
    out = []
    faces = os.path.join(shared, "data/faces")
    out += sorted(os.path.join(faces, f) for f in os.listdir(faces) if f.endswith(".jpg"))
    for sub, n in (("genki4k-train/full", n_genki), ("mtfl-train", n_mtfl)):
        csv = os.path.join(shared, "data", sub.split("/")[0],
                           "full.csv" if "genki" in sub else "labels.csv")
        rows = [l.split(",")[0] for l in open(csv).read().splitlines()[1:] if l.strip()]
        stride = max(1, len(rows) // n) if n else 1
        pick = rows[::stride][:n]
        out += [os.path.join(os.path.dirname(csv), r) for r in pick]
    if n_frames:
        import cv2
        cap = cv2.VideoCapture(os.path.join(shared, "data/video/franck.webm"))
        total = 5000
        want = set(range(0, total, max(1, total // n_frames)))
        i = k = 0
        while len(want) and k < n_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if i in want:
                p = os.path.join(tmp, "franck_%05d.png" % i)
                cv2.imwrite(p, frame)
                out.append(p)
                k += 1
            i += 1
    return out


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd[:6]), r.stderr[-2000:]))
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grin", required=True)
    ap.add_argument("--shared", default=os.path.join(HERE, "../../../shared"))
    ap.add_argument("--genki", type=int, default=300)
    ap.add_argument("--mtfl", type=int, default=300)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--cascades", default=",".join(CASCADES))
    ap.add_argument("--scales", default="1.1,1.2")
    ap.add_argument("--min-neighbors", type=int, default=3)
    ap.add_argument("--exact", action="store_true", help="fail on any difference")
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args()
    if not os.path.isdir(os.path.join(a.shared, "data")):
        print("parity: no shared data at %s; skipping" % a.shared)
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="grin-parity-")
    atexit.register(shutil.rmtree, tmp, True)  # (ignore_errors)
    imgs = images(a.shared, a.genki, a.mtfl, a.frames, tmp)
    lst = os.path.join(tmp, "list.txt")
    open(lst, "w").write("\n".join(imgs) + "\n")
    report, bad = [], False
    for cname in a.cascades.split(","):
        for sf in a.scales.split(","):
            opts = ["--scale-factor", sf, "--min-neighbors", str(a.min_neighbors),
                    "--min-size", "30"]
            t0 = time.time()
            ref = run(["/usr/bin/python3", os.path.join(HERE, "cv_detect.py"), "--cascade",
                       CASCADES[cname], "--list", lst] + opts)
            t1 = time.time()
            got = run([a.grin, "detect", "--cascade", CASCADES[cname]] + opts + imgs)
            t2 = time.time()
            nref = ngot = nmatch = nexact = 0
            diffs = []
            for r, g in zip(ref, got):
                assert r["image"] == g["image"]
                m, e = match(r["faces"], g["faces"])
                nref += len(r["faces"])
                ngot += len(g["faces"])
                nmatch += m
                nexact += e
                if r["faces"] != g["faces"]:
                    diffs.append({"image": r["image"], "opencv": r["faces"], "grin": g["faces"]})
            matched = nmatch / nref if nref else 1.0
            extra = (ngot - nmatch) / nref if nref else float(ngot > 0)
            row = {"cascade": cname, "scale_factor": float(sf), "images": len(imgs),
                   "opencv_boxes": nref, "grin_boxes": ngot, "matched_iou90": nmatch,
                   "identical": nexact, "matched_frac": round(matched, 5),
                   "extra_frac": round(extra, 5), "opencv_s": round(t1 - t0, 2),
                   "grin_s": round(t2 - t1, 2), "differences": diffs[:20]}
            report.append(row)
            fail = matched < 0.99 or extra > 0.01 or bool(a.exact and diffs)
            row["fail"] = fail
            bad |= fail
            print("%-13s sf=%s images=%d opencv=%d grin=%d matched=%.2f%% extra=%.2f%% identical=%d "
                  "images_differing=%d %s" % (cname, sf, len(imgs), nref, ngot, 100 * matched,
                                               100 * extra, nexact, len(diffs),
                                               "FAIL" if fail else "ok"))
            for dd in diffs[:5]:
                print("   differs:", json.dumps(dd))
    if a.json:
        json.dump(report, open(a.json, "w"), indent=1)
    nfail = sum(1 for r in report if r["fail"])
    print("%d passed, %d failed" % (len(report) - nfail, nfail))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
