#!/usr/bin/env python3
"""Cuts a `grin align` labels.csv into fit, tune and val parts by a rule fixed before any training,
so that no validation face reaches a network's fit, its calibration or a choice of settings.

  val:  GENKI-4K, MTFL, SMILEsmileD: the last 20% of each class in the order of the source file
        names (as scripts/split_val.py); CelebA: its official validation range, images
        162,771-182,637 (CelebA's own split is by identity, so these people are in no other part).
  tune: carved from what is left, 10%: by source order per class for GENKI-4K, MTFL, SMILEsmileD;
        for CelebA whole identities (identity_group from the original CSV, a stable hash of it), so
        the tuning part, like the held-back test, is made of people the fit part has never seen.
  fit:  the rest: what networks train on.

Usage: split_sets.py DIR --set genki|mtfl|smiled|celeba [--source-csv ORIG.csv] [--tune 0.1]
Writes DIR/fit.csv, DIR/tune.csv, DIR/val.csv (the same header and rows as DIR/labels.csv)."""
import argparse
import csv
import os
import re
import zlib

CELEBA_VAL = (162771, 182637)

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--set", required=True, choices=["genki", "mtfl", "smiled", "celeba"])
ap.add_argument("--source-csv", action="append", default=[],
                help="CelebA: the CSV given to grin align, for identity_group; give the other kind's "
                     "CSV too (photos and crops) so that nobody in either validation part is trained on")
ap.add_argument("--val", type=float, default=0.2)
ap.add_argument("--tune", type=float, default=0.1)
a = ap.parse_args()

lines = open(os.path.join(a.dir, "labels.csv")).read().splitlines()
head, rows = lines[0], [l for l in lines[1:] if l.strip()]
cols = head.split(",")
SRC, SMILE = cols.index("source"), cols.index("smile")
field = lambda l, k: l.split(",")[k]


def by_order(part, frac):
    """the last frac of each class in source order -> (first, last)"""
    keep, cut = [], []
    for cls in ("0", "1"):
        p = sorted((r for r in part if field(r, SMILE) == cls), key=lambda r: field(r, SRC))
        n = int(round(len(p) * (1 - frac)))
        keep += p[:n]
        cut += p[n:]
    return keep, cut


if a.set == "celeba":
    number = lambda path: int(re.search(r"(\d+)\.\w+$", path).group(1))
    ident, seen = {}, set()  # source path -> identity; identities with a validation photo
    for src in a.source_csv:
        with open(src) as f:
            for r in csv.DictReader(f):
                path = os.path.normpath(os.path.join(os.path.dirname(src), r["file"]))
                ident[path] = r.get("identity_group", "")
                if ident[path] and CELEBA_VAL[0] <= number(path) <= CELEBA_VAL[1]:
                    seen.add(ident[path])
    # the source column is written as grin align was given it, relative to the CSV it read
    key = lambda r: os.path.normpath(os.path.join(os.path.dirname(a.source_csv[0]) if a.source_csv else "",
                                                  field(r, SRC)))
    in_val = lambda r: CELEBA_VAL[0] <= number(field(r, SRC)) <= CELEBA_VAL[1]
    val = [r for r in rows if in_val(r)]
    # a few identity groups have photos on both sides of CelebA's range: those photos leave the
    # training side, so every validation face is of a person no network has seen
    train = [r for r in rows if not in_val(r) and ident.get(key(r)) not in seen]
    dropped = len(rows) - len(val) - len(train)

    def tuned(r):
        who = ident.get(key(r)) or "file%d" % number(field(r, SRC))  # no identity: the photo alone
        return zlib.crc32(who.encode()) % 1000 < a.tune * 1000
    fit = [r for r in train if not tuned(r)]
    tune = [r for r in train if tuned(r)]
else:
    train, val = by_order(rows, a.val)
    fit, tune = by_order(train, a.tune)
    dropped = 0

for name, part in (("fit.csv", fit), ("tune.csv", tune), ("val.csv", val)):
    with open(os.path.join(a.dir, name), "w") as f:
        f.write(head + "\n" + "".join(r + "\n" for r in sorted(part, key=lambda r: field(r, 0))))
print("%s: %d fit, %d tune, %d val%s" % (a.dir, len(fit), len(tune), len(val),
                                        ", %d left out (people also in val)" % dropped if dropped else ""))
