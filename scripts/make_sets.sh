#!/usr/bin/env bash
# make_sets.sh — the smile model's data: each labelled set in ../shared/data cut into fit, tune
# and val parts (scripts/split_sets.py: the rule is fixed before training), then each part aligned
# by grin the way the product aligns faces (photos: detect -> landmarks -> align; face crops:
# grin align --crops). Writes OUT/<set>/{fit,tune,val}.csv (the photos) and OUT/<set>/<part>/
# (the aligned crops and their labels.csv).
#
#   bash scripts/make_sets.sh OUT [SIZE] [GRIN]      (SIZE 65, the shipped model's; GRIN build/grin)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1 SIZE=${2:-65} GRIN=${3:-build/grin}
D=../shared/data
python3 scripts/split_sets.py $D/genki4k-train/full.csv --set genki --out "$OUT/genki"
python3 scripts/split_sets.py $D/genki4k-train/crops.csv --set genki --out "$OUT/genki_crops"
python3 scripts/split_sets.py $D/mtfl-train/labels.csv --set mtfl --out "$OUT/mtfl"
python3 scripts/split_sets.py $D/smilesmiled/labels.csv --set smiled --out "$OUT/smiled"
python3 scripts/split_sets.py $D/celeba/labels.csv --set celeba --only photos/ --out "$OUT/celeba_photos"
python3 scripts/split_sets.py $D/celeba/labels.csv --set celeba --only crops/ --out "$OUT/celeba_crops"
for s in genki genki_crops mtfl smiled celeba_photos celeba_crops; do
  crops=()
  case $s in genki_crops|smiled|celeba_crops) crops=(--crops) ;; esac
  for part in fit tune val; do
    "$GRIN" align --threads 0 --size "$SIZE" "${crops[@]}" --labels "$OUT/$s/$part.csv" --out "$OUT/$s/$part" |
      sed "s#^#$s/$part: #"
  done
done
