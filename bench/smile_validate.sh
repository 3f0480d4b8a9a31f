#!/usr/bin/env bash
# smile_validate.sh — a smile model on every validation part of scripts/make_sets.sh's sets,
# through the commands a user runs: photos by the full path (detect -> landmarks -> align ->
# classify; a face not found counts as wrong), face crops by --face-crops. One row per part and
# path, with 95% intervals. Run it once per model you ship; choosing anything on these numbers
# turns them into tuning numbers.
#
#   bash bench/smile_validate.sh SETS MODEL [OUT.csv] [--int8]
set -euo pipefail
SETS=$1 MODEL=$2 OUT=${3:-/dev/stdout}
shift $(($# < 3 ? $# : 3))
GRIN=${GRIN:-./build/grin}
echo "set,path,n,acc,acc_lo,acc_hi,auc,auc_lo,auc_hi,missed" > "$OUT"
row() { # set path csv [eval options]
  local set=$1 path=$2 csv=$3
  shift 3
  local j
  j=$("$GRIN" eval --threads 2 --model "$MODEL" --labels "$csv" "$@" | tail -n 1)
  python3 -c '
import json, sys
d = json.loads(sys.argv[3])
print(",".join([sys.argv[1], sys.argv[2], str(d["n"]), "%.4f" % d["acc"], "%.4f" % d["acc_ci"][0],
                "%.4f" % d["acc_ci"][1], "%.4f" % d["auc"], "%.4f" % d["auc_ci"][0], "%.4f" % d["auc_ci"][1],
                str(d["missed"])]))' "$set" "$path" "$j" >> "$OUT"
}
row "GENKI-4K" "photos" "$SETS/genki/val.csv" "$@"
row "GENKI-4K" "Haar crops (--face-crops)" "$SETS/genki_crops/val.csv" --face-crops "$@"
row "CelebA" "photos" "$SETS/celeba_photos/val.csv" "$@"
row "CelebA" "tight crops (--face-crops)" "$SETS/celeba_crops/val.csv" --face-crops "$@"
row "MTFL" "photos" "$SETS/mtfl/val.csv" "$@"
row "SMILEsmileD" "crops (--face-crops)" "$SETS/smiled/val.csv" --face-crops "$@"
