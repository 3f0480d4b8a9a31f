#!/usr/bin/env python3
"""Splits a `grin align` labels.csv into train and validation CSVs: the last 20% of each class,
in the order of the source file names (GENKI-4K's file numbers, MTFL's rows), go to validation.
The validation part is never trained on. Usage: split_val.py DIR/labels.csv [--frac 0.2]
[--names train.csv val.csv]. Writes DIR/train.csv and DIR/val.csv (or the --names). Run again
on DIR/train.csv with --names fit.csv tune.csv to carve a tuning part (for the decision
threshold) out of the training part."""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument("labels")
ap.add_argument("--frac", type=float, default=0.2)
ap.add_argument("--names", nargs=2, default=["train.csv", "val.csv"])
a = ap.parse_args()
lines = open(a.labels).read().splitlines()
head, rows = lines[0], [l.split(",") for l in lines[1:] if l.strip()]
cols = head.split(",")
src, smile = cols.index("source"), cols.index("smile")
train, val = [], []
for cls in ("0", "1"):
    part = sorted((r for r in rows if r[smile] == cls), key=lambda r: r[src])
    cut = int(round(len(part) * (1 - a.frac)))
    train += part[:cut]
    val += part[cut:]
d = os.path.dirname(a.labels)
for name, part in zip(a.names, (train, val)):
    with open(os.path.join(d, name), "w") as f:
        f.write(head + "\n" + "".join(",".join(r) + "\n" for r in sorted(part, key=lambda r: r[0])))
print("%s: %d in %s, %d in %s" % (a.labels, len(train), a.names[0], len(val), a.names[1]))
