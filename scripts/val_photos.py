#!/usr/bin/env python3
"""Writes the validation photos of a labelled photo CSV: the last 20% of each class in path
order (GENKI-4K's file numbers, MTFL's folders and names), the same rule split_val.py applies
to the aligned crops, so a photo is in validation for the full path (grin eval) exactly when
its crop is in validation for training. Paths are made absolute.
Usage: val_photos.py IN.csv OUT.csv [--frac 0.2]"""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument("csv")
ap.add_argument("out")
ap.add_argument("--frac", type=float, default=0.2)
a = ap.parse_args()
lines = open(a.csv).read().splitlines()
head, rows = lines[0], [l.split(",") for l in lines[1:] if l.strip()]
smile = head.split(",").index("smile")
base = os.path.dirname(os.path.abspath(a.csv))
val = []
for cls in ("0", "1"):
    part = sorted((r for r in rows if r[smile] == cls), key=lambda r: r[0])
    val += part[int(round(len(part) * (1 - a.frac))):]
with open(a.out, "w") as f:
    f.write(head + "\n")
    for r in sorted(val, key=lambda r: r[0]):
        f.write(",".join([os.path.join(base, r[0])] + r[1:]) + "\n")
print("%s: %d validation photos" % (a.out, len(val)))
