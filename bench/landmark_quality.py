#!/usr/bin/env python3
"""landmark_quality.py — fits grin's landmark quality score and picks its threshold.

Reads what bench_landmark_quality writes for labelled photos (MTFL's training part), labels each
box's landmarks good (mean error of the five labelled points under 0.2 eye distances) or bad
(over 0.35, or a detection away from the labelled face), and fits a logistic model of good on
the residual, the log distortion and the drift (capped at 0.5, with its square) by Newton's
method on the even rows; the odd rows check it. The threshold keeps 97.5% of the good landmarks
of detector boxes on faces turned up to about 45 degrees (MTFL poses 2-4). Prints the weights
src/align/quality.c uses, the AUC on both halves, and what the threshold keeps and rejects.

  build/bench_landmark_quality S/mtfl/fit.csv 2500 > q.csv
  /usr/bin/python3 bench/landmark_quality.py q.csv [--video franck.csv ...]
"""
import csv
import sys

import numpy as np


def features(rows):
    F = []
    for x in rows:
        v = [float(x[k]) for k in ("residual", "distortion", "drift")]
        if not all(np.isfinite(v)) or v[1] <= 0:
            v = [1.0, 3.0, 0.5]
        d = min(max(v[2], 0.0), 0.5)
        F.append([1.0, v[0], np.log(v[1]), d, d * d])
    return np.array(F)


def auc(s, y):
    o = s.argsort(kind="mergesort")
    rk = np.empty(len(s))
    rk[o] = np.arange(1, len(s) + 1)
    P = y.sum()
    N = len(y) - P
    return (rk[y == 1].sum() - P * (P + 1) / 2) / (P * N)


def main():
    args = sys.argv[1:]
    videos = []
    if "--video" in args:
        i = args.index("--video")
        videos = args[i + 1:]
        args = args[:i]
    rows = []
    for x in csv.DictReader(open(args[0])):
        e = float(x["error"]) if x["error"] else None
        lab = 1 if e is not None and e < 0.2 else 0 if x["kind"] == "false" or (e is not None and e > 0.35) else None
        if lab is not None:
            rows.append((lab, x))
    y = np.array([l for l, _ in rows])
    X = features([x for _, x in rows])
    kinds = np.array([x["kind"] for _, x in rows])
    poses = np.array([x["pose"] for _, x in rows])
    fit = np.arange(len(y)) % 2 == 0
    w = np.zeros(X.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-X[fit] @ w))
        H = (X[fit] * (p * (1 - p))[:, None]).T @ X[fit] + 1e-3 * np.eye(len(w))
        w -= np.linalg.solve(H, X[fit].T @ (p - y[fit]))
    s = X @ w
    q = 1 / (1 + np.exp(-s))
    print("weights (1, residual, log distortion, drift, drift^2):", ", ".join("%.3f" % v for v in w))
    print("boxes: %d good, %d bad; AUC fit half %.3f, check half %.3f" % (y.sum(), len(y) - y.sum(),
          auc(s[fit], y[fit]), auc(s[~fit], y[~fit])))
    for name, j in (("residual", 1), ("log distortion", 2), ("drift", 3)):
        print("  %s alone: AUC %.3f" % (name, auc(-X[~fit][:, j], y[~fit])))
    good_true = (y == 1) & (kinds == "true") & np.isin(poses, ["2", "3", "4"])
    th = np.quantile(q[good_true], 0.025)
    print("threshold %.3f keeps 97.5%% of good detector-box landmarks (poses 2-4)" % th)
    print("  rejects %.1f%% of bad landmarks from moved boxes, %.1f%% of detections away from the labelled face"
          % (100 * (q[(y == 0) & (kinds == "ghost")] < th).mean(), 100 * (q[kinds == "false"] < th).mean()))
    print("  keeps %.1f%% of good landmarks from moved boxes, %.1f%% of good ones on near-profile faces (poses 1, 5)"
          % (100 * (q[(y == 1) & (kinds == "ghost")] >= th).mean(),
             100 * (q[(y == 1) & (kinds == "true") & np.isin(poses, ["1", "5"])] >= th).mean()))
    for v in videos:
        r = list(csv.DictReader(open(v)))
        qv = 1 / (1 + np.exp(-features(r) @ w))
        k = np.array([x["kind"] for x in r])
        print("%s: %s" % (v, ", ".join("%s %d, %.1f%% pass" % (n, (k == n).sum(), 100 * (qv[k == n] >= th).mean())
                                      for n in ("face", "ghost", "false") if (k == n).any())))


if __name__ == "__main__":
    main()
