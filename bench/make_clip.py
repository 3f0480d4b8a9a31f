#!/usr/bin/env python3
"""make_clip.py — a labelled multi-face test clip for grin run: people cut from labelled photos
walk across a textured background (some stop for a while), enter and leave at the edges, cross
(one passes in front of another), grow and shrink, and tilt their heads, with a known box, id and smile label on every frame.

The faces are MTFL photos (LFW and web photos with five labelled points and a head-pose label)
from the tuning part of scripts/split_sets.py's cut: never trained on, never a validation part.
The background is drawn (smooth colour fields, stone-like texture in several patches, stripes),
so it holds no face. Everything follows from --seed.

  /usr/bin/python3 bench/make_clip.py OUT [--people 12] [--seconds 30] [--seed 1]

writes OUT/frames/00000.png ... (640x480, 25 fps: `grin run OUT/frames/%05d.png`), OUT/gt.csv
(frame,id,x,y,w,h,smile,visible,pose,photo: visible is the share of the face inside the frame and
not covered by a face in front), OUT/people.csv (id,photo,smile,pose) for grin eval on the same
faces as photos. bench/track_eval.py scores a run against gt.csv.
"""
import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

W, H, FPS = 640, 480, 25


def background(rng):
    """smooth colour fields, three stone-like textured patches and a striped band"""
    small = rng.uniform(40, 200, size=(6, 8, 3)).astype(np.float32)
    bg = cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)
    for _ in range(3):  # stone: noise at several scales, high contrast
        x0, y0 = int(rng.integers(0, W - 200)), int(rng.integers(0, H - 150))
        w, h = int(rng.integers(120, 220)), int(rng.integers(90, 160))
        w, h = min(w, W - x0), min(h, H - y0)
        tex = np.zeros((h, w), np.float32)
        for s in (4, 8, 16, 32):
            n = rng.normal(0, 1, size=(h // s + 2, w // s + 2)).astype(np.float32)
            tex += cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC) * s
        tex = (tex - tex.mean()) / (tex.std() + 1e-6) * 45
        base = rng.uniform(80, 170)
        for c in range(3):
            bg[y0:y0 + h, x0:x0 + w, c] = np.clip(base + tex * rng.uniform(0.8, 1.1), 0, 255)
    y0 = int(rng.integers(0, H - 40))
    for x in range(0, W, 16):  # stripes
        bg[y0:y0 + 30, x:x + 8] = rng.uniform(30, 220, size=3)
    return np.clip(bg, 0, 255).astype(np.uint8)


def face_geometry(r):
    """the face box (as a frontal detector would draw it: centre between eyes and mouth, side
    about 2.2 eye distances) from MTFL's five points"""
    lx, rx, nx, mlx, mrx, ly, ry, ny, mly, mry = [float(r[k]) for k in (
        "x_leye", "x_reye", "x_nose", "x_lmouth", "x_rmouth", "y_leye", "y_reye", "y_nose", "y_lmouth", "y_rmouth")]
    ex, ey = (lx + rx) / 2, (ly + ry) / 2
    mx, my = (mlx + mrx) / 2, (mly + mry) / 2
    iod = math.hypot(rx - lx, ry - ly)
    em = math.hypot(mx - ex, my - ey)
    side = 2.2 * max(iod, 1.1 * em)
    return (ex + mx) / 2, (ey + my) / 2 + 0.05 * side, side


def sprite(img, cx, cy, side):
    """the head cut out with a soft elliptical edge: a square patch of 2 face sides and its alpha"""
    S = int(round(2 * side))
    M = np.float32([[1, 0, S / 2 - cx], [0, 1, S / 2 - cy]])
    patch = cv2.warpAffine(img, M, (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    d = ((xx - S / 2) / (0.36 * S)) ** 2 + ((yy - S / 2 + 0.06 * S) / (0.46 * S)) ** 2
    alpha = np.clip((1.0 - d) / 0.25, 0, 1)
    return patch, alpha


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--people", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = os.path.join(a.data, "mtfl-train", "labels.csv")
    if not os.path.exists(src):
        sys.exit("make_clip.py: %s: not found (--data points at ../shared/data)" % src)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(root, "scripts", "split_sets.py"), src, "--set", "mtfl",
                        "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        rows = list(csv.DictReader(open(os.path.join(tmp, "tune.csv"))))
    # people: half smiling, half not; a quarter turned (MTFL pose 2 or 4, about 30 degrees)
    # the rest frontal; photos large enough to cut a clean head from
    pick = []
    for smile in ("1", "0"):
        for turned in (True, False):
            want = a.people // 2 // 4 if turned else a.people // 2 - a.people // 2 // 4
            cand = [r for r in rows if r["smile"] == smile and (r["pose"] in ("2", "4")) == turned]
            rng.shuffle(cand)
            got = 0
            for r in cand:
                img = cv2.imread(r["file"])
                if img is None:
                    continue
                cx, cy, side = face_geometry(r)
                if side < 70:
                    continue
                pick.append((r, img, cx, cy, side))
                got += 1
                if got == want:
                    break
    order = rng.permutation(len(pick))
    pick = [pick[i] for i in order]
    N = int(a.seconds * FPS)
    os.makedirs(os.path.join(a.out, "frames"), exist_ok=True)
    bg = background(rng)
    people = []
    slot = N / max(len(pick), 1)
    for k, (r, img, cx, cy, side) in enumerate(pick):
        patch, alpha = sprite(img, cx, cy, side)
        # on screen for 6-12 s, starting one after another so that three or four are seen at once
        start = int(k * slot * 0.8 + rng.uniform(0, slot * 0.4))
        dur = int(rng.uniform(6, 12) * FPS)
        end = min(start + dur, N - 1)
        enter_left = rng.random() < 0.5
        y0, y1 = rng.uniform(100, H - 100), rng.uniform(100, H - 100)
        x0 = -30.0 if enter_left else W + 30.0  # enter from one side, cross the frame
        x1 = W + 30.0 if enter_left else -30.0
        # some stop inside the frame for a while (the middle fifth of their time), then walk on
        xm = rng.uniform(120, W - 120) if rng.random() < 0.3 else None
        s0, s1 = rng.uniform(45, 120), rng.uniform(45, 120)
        people.append(dict(id=k + 1, row=r, patch=patch, alpha=alpha, side=side, start=start, end=end, x0=x0,
                           x1=x1, xm=xm, y0=y0, y1=y1, s0=s0, s1=s1, tilt=rng.uniform(4, 12), phase=rng.uniform(0, 6.28),
                           z=rng.random()))
    with open(os.path.join(a.out, "people.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "file", "smile", "pose"])
        for p in people:
            w.writerow([p["id"], p["row"]["file"], p["row"]["smile"], p["row"]["pose"]])
    gt = open(os.path.join(a.out, "gt.csv"), "w", newline="")
    gw = csv.writer(gt)
    gw.writerow(["frame", "id", "x", "y", "w", "h", "smile", "visible", "pose", "photo"])
    for fr in range(N):
        frame = bg.astype(np.float32).copy()
        cover = np.zeros((H, W), np.float32)  # the alpha of the faces drawn so far (in front: drawn last)
        here = []
        for p in sorted(people, key=lambda p: p["z"]):
            if not p["start"] <= fr <= p["end"]:
                continue
            u = (fr - p["start"]) / max(p["end"] - p["start"], 1)
            if p["xm"] is None:
                v = 0.5 - 0.5 * math.cos(math.pi * u)  # ease in and out
                x = p["x0"] + (p["x1"] - p["x0"]) * v
            else:  # in, stay, out
                v = min(u / 0.4, 1.0) if u < 0.6 else (u - 0.6) / 0.4
                v = 0.5 - 0.5 * math.cos(math.pi * v)
                x = p["x0"] + (p["xm"] - p["x0"]) * v if u < 0.6 else p["xm"] + (p["x1"] - p["xm"]) * v
            y = p["y0"] + (p["y1"] - p["y0"]) * u
            s = p["s0"] + (p["s1"] - p["s0"]) * u  # the face box's side in the frame
            ang = p["tilt"] * math.sin(p["phase"] + fr / FPS * 1.3)  # head tilting, degrees
            k = s / p["side"]
            S = p["patch"].shape[0]
            M = cv2.getRotationMatrix2D((S / 2, S / 2), ang, k)
            M[0, 2] += x - S / 2
            M[1, 2] += y - S / 2
            pw = cv2.warpAffine(p["patch"], M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            aw = cv2.warpAffine(p["alpha"], M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            frame = frame * (1 - aw[..., None]) + pw.astype(np.float32) * aw[..., None]
            here.append((p, x, y, s, aw))
        # visibility: the share of each face's box inside the frame and not under a face drawn later
        for i, (p, x, y, s, aw) in enumerate(here):
            bx0, by0 = int(round(x - s / 2)), int(round(y - s / 2))
            bx1, by1 = bx0 + int(round(s)), by0 + int(round(s))
            area = max(1, (bx1 - bx0) * (by1 - by0))
            cx0, cy0, cx1, cy1 = max(bx0, 0), max(by0, 0), min(bx1, W), min(by1, H)
            vis = 0.0
            if cx1 > cx0 and cy1 > cy0:
                over = np.zeros((cy1 - cy0, cx1 - cx0), np.float32)
                for q in here[i + 1:]:
                    over = np.maximum(over, q[4][cy0:cy1, cx0:cx1])
                vis = float((1 - over).sum()) / area
            gw.writerow([fr, p["id"], bx0, by0, bx1 - bx0, by1 - by0, p["row"]["smile"], "%.2f" % vis,
                         p["row"]["pose"], p["row"]["file"]])
        cv2.imwrite(os.path.join(a.out, "frames", "%05d.png" % fr), np.clip(frame, 0, 255).astype(np.uint8))
    gt.close()
    print("%s: %d frames, %d people (%d smiling)" % (a.out, N, len(people), sum(p["row"]["smile"] == "1" for p in people)))


if __name__ == "__main__":
    main()
