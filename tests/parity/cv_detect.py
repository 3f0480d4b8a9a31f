#!/usr/bin/python3
"""OpenCV's detectMultiScale as a test oracle: prints one JSON line per image in the same shape
as `grin detect`. Run with Debian's /usr/bin/python3 (python3-opencv)."""
import argparse
import json
import sys

import cv2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cascade", required=True)
    ap.add_argument("--scale-factor", type=float, default=1.1)
    ap.add_argument("--min-neighbors", type=int, default=3)
    ap.add_argument("--min-size", type=int, default=30)
    ap.add_argument("--max-size", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("images", nargs="*")
    ap.add_argument("--list", help="file with one image path per line")
    a = ap.parse_args()
    cv2.setNumThreads(a.threads)
    cc = cv2.CascadeClassifier(a.cascade)
    if cc.empty():
        sys.exit("cannot load cascade " + a.cascade)
    paths = list(a.images)
    if a.list:
        paths += [l.strip() for l in open(a.list) if l.strip()]
    for p in paths:
        img = cv2.imread(p)
        if img is None:
            print(json.dumps({"image": p, "error": "unreadable"}))
            continue
        mx = (a.max_size, a.max_size) if a.max_size else (0, 0)
        faces = cc.detectMultiScale(img, scaleFactor=a.scale_factor, minNeighbors=a.min_neighbors,
                                    minSize=(a.min_size, a.min_size), maxSize=mx)
        out = [{"box": [int(x), int(y), int(w), int(h)]} for (x, y, w, h) in faces]
        out.sort(key=lambda r: (r["box"][1], r["box"][0], r["box"][2], r["box"][3]))
        print(json.dumps({"image": p, "width": img.shape[1], "height": img.shape[0], "faces": out}))


if __name__ == "__main__":
    main()
