#!/usr/bin/env bash
# train_face_check.sh — how models/face_check.grinnet is made: the classifier grin run asks "are
# these landmarks on a face?" before a face gets a smile decision or starts a track.
#
#   bash scripts/train_face_check.sh SETS OUT
#
# SETS: scripts/make_sets.sh's output (its mtfl/fit.csv and mtfl/tune.csv: MTFL photos cut before
# anything was trained; the validation part is not read). For each photo, bench_landmark_quality
# --crops writes the aligned crop grin run would make from: the detector's box on the labelled
# face, that box moved the ways a second detection lands, and two random boxes away from every
# detection; a crop is a face (1) when its landmarks are within 0.2 eye distances of MTFL's five
# points, not (0) over 0.35 or on no face. (Detections away from the labelled face are left out:
# in LFW's photos many are other people's faces.) MobileNet v1 alpha 0.25, 64 px grey, 8 epochs on
# the fit photos' crops; the threshold (GRIN_FACE_CHECK_MIN) keeps 99% of the tuning photos'
# detector-box faces. Writes OUT/face_check.grinnet and OUT/threshold.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=$1
mkdir -p "$2"
OUT=$(cd "$2" && pwd)
GRIN=$(realpath "${GRIN:-build/grin}")
Q=$(realpath "${Q:-build/bench_landmark_quality}")
for p in fit tune; do
  rm -rf "${OUT:?}/$p" && mkdir -p "$OUT/$p"
  "$Q" "$SETS/mtfl/$p.csv" 1000000 --crops "$OUT/$p" > /dev/null
  { head -n 1 "$OUT/$p/labels.csv"; tail -n +2 "$OUT/$p/labels.csv" | grep -v ',false$'; } > "$OUT/$p/train.csv"
  printf "size=64\nmargin=0.1\nmax_distortion=2\n" > "$OUT/$p/alignment.txt"
done
"$GRIN" train --labels "$OUT/fit/train.csv" --val "$OUT/tune/train.csv" --alpha 0.25 --input 64 --gray \
  --epochs 8 --seed 1 --out "$OUT/face_check.grinnet" | tee "$OUT/train.log"
(cd "$OUT/tune" && "$GRIN" classify --crops --raw --model "$OUT/face_check.grinnet" \
  $(tail -n +2 train.csv | cut -d, -f1)) > "$OUT/tune_scores.jsonl"
/usr/bin/python3 - "$OUT" <<'PY' | tee "$OUT/threshold.txt"
import csv, json, os, sys
import numpy as np
out = sys.argv[1]
lab = {r["file"]: (int(r["smile"]), r["kind"]) for r in csv.DictReader(open(os.path.join(out, "tune", "train.csv")))}
p = {os.path.basename(s["image"]): s["smile"] for s in map(json.loads, open(os.path.join(out, "tune_scores.jsonl")))}
y = np.array([lab[k][0] for k in p]); kind = np.array([lab[k][1] for k in p]); s = np.array([p[k] for k in p])
th = np.quantile(s[(y == 1) & (kind == "true")], 0.01)
print("threshold %.3f keeps 99%% of the tuning photos' detector-box faces (%d)" % (th, ((y == 1) & (kind == "true")).sum()))
print("  keeps %.1f%% of faces found from moved boxes; rejects %.1f%% of crops beside a face, %.1f%% of random boxes"
      % (100 * (s[(y == 1) & (kind == "ghost")] >= th).mean(), 100 * (s[(y == 0) & (kind == "ghost")] < th).mean(),
         100 * (s[kind == "random"] < th).mean()))
PY
