#!/usr/bin/env bash
# train_smile.sh — how the shipped smile model is made, from scripts/make_sets.sh's sets: the
# network on the fit parts of all four sets, the landmark branch on the same faces, the mirror,
# Platt and fused mappings on all four tuning parts, the 8-bit calibration on fit crops. The
# validation parts are not read here: measure them afterwards with grin eval, once.
#
#   bash scripts/train_smile.sh SETS OUT [grin train options for the network...]
#
# The shipped model (its sets made at 65 px: bash scripts/make_sets.sh S 65):
#   DATA=crops bash scripts/train_smile.sh S out --faceapi 65 --epochs 8 --lr 1e-3
# --faceapi SIZE starts from face-api.js's expression network (third_party/face-api, imported
# by grin import for SIZE x SIZE grey crops) instead of a MobileNet trained from scratch, e.g.
#   bash scripts/train_smile.sh S out --alpha 0.5 --input 64 --gray --epochs 24
# TEACHER=1 first fine-tunes dlib's face-recognition ResNet (third_party/face-api, imported by grin
# import --facerec at 150 px colour) on the same fit crops, 2 epochs at lr 1e-4, and distils it into
# the network (--teacher, --distill 0.5): the teacher takes ~35 minutes on two cores.
# Resumable (the network's training checkpoints every epoch). Writes OUT/smile.grinnet.
set -euo pipefail
cd "$(dirname "$0")/.."
SETS=$1 OUT=$2
shift 2
GRIN=${GRIN:-build/grin}
mkdir -p "$OUT"
if [[ ${1:-} == --faceapi ]]; then
  "$GRIN" import --faceapi third_party/face-api/face_expression_model-weights_manifest.json --input "$2" --gray \
    --out "$OUT/faceapi.grinnet"
  shift 2
  set -- --init "$OUT/faceapi.grinnet" "$@"
fi
DATA=${DATA:-natural} # natural, or any of genki3 crops (as bench/smile_search.sh), space-separated
fit=() tune=()
for s in genki mtfl smiled celeba_photos celeba_crops; do
  fit+=(--labels "$SETS/$s/fit/labels.csv")
  tune+=(--labels "$SETS/$s/tune/labels.csv")
done
for d in $DATA; do
  case $d in
    genki3) fit+=(--labels "$SETS/genki/fit/labels.csv" --labels "$SETS/genki/fit/labels.csv") ;;
    crops) fit+=(--labels "$SETS/genki_crops/fit/labels.csv") ;;
    natural) ;;
    *) echo "train_smile.sh: unknown DATA '$d'" >&2; exit 2 ;;
  esac
done
if [[ -n ${TEACHER:-} ]]; then
  [[ -f $OUT/teacher.grinnet ]] || {
    "$GRIN" import --facerec third_party/face-api/face_recognition_model-weights_manifest.json \
      --out "$OUT/facerec.grinnet"
    "$GRIN" train "${fit[@]}" --init "$OUT/facerec.grinnet" --batch 64 --seed 1 --epochs 2 --lr 1e-4 \
      --checkpoint "$OUT/teacher.ckpt" --resume --out "$OUT/teacher.grinnet" | tee "$OUT/teacher.log"
  }
  set -- "$@" --teacher "$OUT/teacher.grinnet" --distill 0.5
fi
"$GRIN" train "${fit[@]}" --batch 64 --seed 1 "$@" --checkpoint "$OUT/base.ckpt" --resume \
  --out "$OUT/base.grinnet" | tee "$OUT/base.log"
"$GRIN" train --branch landmarks --init "$OUT/base.grinnet" "${fit[@]}" --seed 1 --out "$OUT/lm.grinnet" \
  > "$OUT/lm.log"
"$GRIN" calibrate --model "$OUT/lm.grinnet" "${tune[@]}" --out "$OUT/cal.grinnet" | tee "$OUT/cal.log"
calib=()
for s in genki mtfl smiled celeba_photos celeba_crops; do calib+=(--calib "$SETS/$s/fit/labels.csv"); done
"$GRIN" quantize --model "$OUT/cal.grinnet" "${calib[@]}" --images 1000 --out "$OUT/smile.grinnet"
