#!/usr/bin/env python3
"""Cuts a labelled data set (a CSV of photos or crops: file,smile,...) into fit, tune and val parts by
a rule fixed before any training, so that no validation face reaches a network's fit, its
calibration or a choice of settings. The parts are cut photo by photo, before alignment, so a
validation photo whose face the detector misses stays in the validation part (and counts as wrong).

  val:  GENKI-4K, MTFL, SMILEsmileD: the last 20% of each class in file order (GENKI-4K's file
        numbers, MTFL's and SMILEsmileD's paths); CelebA: its official validation range, images
        162,771-182,637 (CelebA splits by identity; the few identity groups that also have photos
        outside the range lose those photos, so every validation face is of a person no network
        has seen).
  tune: 10% of the rest: the last of each class in file order; for CelebA whole identities (a
        stable hash of identity_group), so the tuning part, like the held-back test, is made of
        people the fit part has never seen.
  fit:  the rest: what networks train on.

Usage: split_sets.py SOURCE.csv --set genki|mtfl|smiled|celeba --out DIR [--only photos/|crops/]
Writes DIR/fit.csv, DIR/tune.csv, DIR/val.csv: SOURCE's header and rows, paths made absolute, ready
for `grin align --labels` (and `grin eval --labels` for the full path)."""
import argparse
import csv
import os
import re
import zlib

CELEBA_VAL = (162771, 182637)

ap = argparse.ArgumentParser()
ap.add_argument("source")
ap.add_argument("--set", required=True, choices=["genki", "mtfl", "smiled", "celeba"])
ap.add_argument("--out", required=True)
ap.add_argument("--only", help="keep the rows whose path starts with this (CelebA: photos/ or crops/)")
ap.add_argument("--val", type=float, default=0.2)
ap.add_argument("--tune", type=float, default=0.1)
a = ap.parse_args()

with open(a.source, newline="") as f:
    reader = csv.reader(f)
    head = next(reader)
    rows = [r for r in reader if r]
SMILE = head.index("smile")
base = os.path.dirname(os.path.abspath(a.source))


def by_order(part, frac):
    """the last frac of each class in file order -> (first, last)"""
    keep, cut = [], []
    for cls in ("0", "1"):
        p = sorted((r for r in part if r[SMILE] == cls), key=lambda r: r[0])
        n = int(round(len(p) * (1 - frac)))
        keep += p[:n]
        cut += p[n:]
    return keep, cut


dropped = 0
if a.set == "celeba":
    GROUP = head.index("identity_group")
    number = lambda r: int(re.search(r"(\d+)\.\w+$", r[0]).group(1))
    in_val = lambda r: CELEBA_VAL[0] <= number(r) <= CELEBA_VAL[1]
    # identities with a validation photo of either kind (photos and crops are cut from one CSV)
    seen = {r[GROUP] for r in rows if in_val(r) and r[GROUP]}
    if a.only:
        rows = [r for r in rows if r[0].startswith(a.only)]
    val = [r for r in rows if in_val(r)]
    train = [r for r in rows if not in_val(r) and r[GROUP] not in seen]
    dropped = len(rows) - len(val) - len(train)
    tuned = lambda r: zlib.crc32((r[GROUP] or "file%d" % number(r)).encode()) % 1000 < a.tune * 1000
    fit = [r for r in train if not tuned(r)]
    tune = [r for r in train if tuned(r)]
else:
    if a.only:
        rows = [r for r in rows if r[0].startswith(a.only)]
    train, val = by_order(rows, a.val)
    fit, tune = by_order(train, a.tune)

os.makedirs(a.out, exist_ok=True)
for name, part in (("fit.csv", fit), ("tune.csv", tune), ("val.csv", val)):
    with open(os.path.join(a.out, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(head)
        for r in sorted(part, key=lambda r: r[0]):
            w.writerow([os.path.normpath(os.path.join(base, r[0]))] + r[1:])
print("%s: %d fit, %d tune, %d val%s" % (a.out, len(fit), len(tune), len(val),
                                        ", %d left out (people also in val)" % dropped if dropped else ""))
