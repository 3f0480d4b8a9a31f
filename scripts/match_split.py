#!/usr/bin/env python3
"""Splits a new `grin align` labels.csv the way an older alignment of the same photos was split:
each row goes to the part (fit, tune, val) its source photo was in; a face found only now goes by
the old cut points (split_val.py orders each class by source: fit < tune < val). So crops aligned
again keep a trained model's validation photos out of anything fitted on them.
Usage: match_split.py NEW_DIR OLD_DIR [--names fit.csv tune.csv val.csv]. Writes NEW_DIR/<names>."""
import argparse
import csv
import os

ap = argparse.ArgumentParser()
ap.add_argument("new_dir")
ap.add_argument("old_dir")
ap.add_argument("--names", nargs=3, default=["fit.csv", "tune.csv", "val.csv"])
a = ap.parse_args()
part, first = {}, {}
for k, name in enumerate(a.names):
    with open(os.path.join(a.old_dir, name)) as f:
        for r in csv.DictReader(f):
            part[r["source"]] = k
            key = (k, r["smile"])
            first[key] = min(first.get(key, r["source"]), r["source"])
lines = open(os.path.join(a.new_dir, "labels.csv")).read().splitlines()
cols = lines[0].split(",")
src, smile = cols.index("source"), cols.index("smile")
out, new = [[] for _ in a.names], 0
for line in lines[1:]:
    if not line.strip():
        continue
    r = line.split(",")
    k = part.get(r[src])
    if k is None:  # a face the old alignment missed: by the old cut points of its class
        new += 1
        k = max([0] + [j for j in range(1, len(a.names)) if (j, r[smile]) in first and r[src] >= first[(j, r[smile])]])
    out[k].append(line)
for name, rows in zip(a.names, out):
    with open(os.path.join(a.new_dir, name), "w") as f:
        f.write(lines[0] + "\n" + "".join(l + "\n" for l in rows))
print("%s: %s; %d faces not in %s" % (a.new_dir, ", ".join("%d in %s" % (len(o), n) for o, n in zip(out, a.names)),
                                      new, a.old_dir))
