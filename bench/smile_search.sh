#!/usr/bin/env bash
# smile_search.sh — choosing the smile network on tuning parts only: each candidate trains on the
# fit parts of all four sets for a short schedule, then its AUC is measured on each set's tuning
# part (never on a validation part); the mean over the four sets decides. Appends one row per
# candidate to OUT/search.csv: name,alpha,input,channels,data,epochs,train_s,<set>_auc...,mean_auc
#
#   bash bench/smile_search.sh SETS SETS96 OUT [EPOCHS] [CANDIDATES]
#
# SETS and SETS96: scripts/make_sets.sh output at 64 px and at the other size candidates use (96,
# or 65 for face-api.js's network). CANDIDATES: a file of lines
# "name alpha input gray|rgb data [grin train options...]" (default: the list below), alpha being
# "init=MODEL" to fine-tune a model (grin import --faceapi's) rather than train from scratch; data is
# "natural" (each set's fit part once), "genki3" (GENKI-4K's three times) or "crops" (GENKI-4K's
# Haar crops of the same fit photos added). Resumable: a finished candidate is skipped, an
# interrupted one continues from its checkpoint. Run it in the background: each candidate takes
# minutes (alpha 0.25) to tens of minutes (alpha 0.5) on two cores.
set -euo pipefail
SETS=$1 SETS96=$2 OUT=$3 EPOCHS=${4:-8} LIST=${5:-}
GRIN=${GRIN:-./build/grin}
mkdir -p "$OUT"
PARTS=(genki mtfl smiled celeba_photos celeba_crops)
[[ -f $OUT/search.csv ]] ||
  echo "name,alpha,input,channels,data,epochs,train_s,genki_auc,mtfl_auc,smiled_auc,celeba_auc,mean_auc" \
    > "$OUT/search.csv"

candidate() { # name alpha input gray|rgb data [train options...]
  local name=$1 alpha=$2 input=$3 color=$4 data=$5
  shift 5
  grep -q "^$name," "$OUT/search.csv" && return 0
  local dir=$SETS; [[ $input != 64 ]] && dir=$SETS96
  local labels=() s
  for s in "${PARTS[@]}"; do labels+=(--labels "$dir/$s/fit/labels.csv"); done
  case $data in
    genki3) labels+=(--labels "$dir/genki/fit/labels.csv" --labels "$dir/genki/fit/labels.csv") ;;
    crops) labels+=(--labels "$dir/genki_crops/fit/labels.csv") ;;
  esac
  local net=(--alpha "$alpha" --input "$input")
  [[ $color == gray ]] && net+=(--gray)
  # alpha "init=MODEL": fine-tune MODEL (its size and colour; e.g. grin import --faceapi's)
  [[ $alpha == init=* ]] && net=(--init "${alpha#init=}")
  local t0=$SECONDS
  "$GRIN" train "${labels[@]}" "${net[@]}" --epochs "$EPOCHS" \
    --batch 64 --seed 1 "$@" --checkpoint "$OUT/$name.ckpt" --resume --out "$OUT/$name.grinnet" \
    > "$OUT/$name.log" 2>&1
  local secs=$((SECONDS - t0)) aucs=() sum=0
  for s in genki mtfl smiled celeba; do
    local csv=$dir/$s/tune/labels.csv
    if [[ $s == celeba ]]; then # CelebA's two kinds pooled
      csv=$OUT/celeba_tune_$input.csv
      { head -n 1 "$dir/celeba_photos/tune/labels.csv" | cut -d, -f1-5
        for k in photos crops; do
          tail -n +2 "$dir/celeba_$k/tune/labels.csv" | cut -d, -f1-5 |
            awk -v d="$(cd "$dir/celeba_$k/tune" && pwd)/" 'BEGIN { FS = OFS = "," } { $1 = d $1; print }'
        done; } > "$csv"
    fi
    local auc
    auc=$("$GRIN" eval --aligned --model "$OUT/$name.grinnet" --labels "$csv" | tail -n 1 |
          sed 's/.*"auc":\([0-9.]*\).*/\1/')
    aucs+=("$auc")
    sum=$(awk -v a="$sum" -v b="$auc" 'BEGIN{print a+b}')
  done
  local mean; mean=$(awk -v s="$sum" 'BEGIN{printf "%.4f", s/4}')
  echo "$name,$alpha,$input,$color,$data,$EPOCHS,$secs,$(IFS=,; echo "${aucs[*]}"),$mean" >> "$OUT/search.csv"
  rm -f "$OUT/$name.ckpt"
}

if [[ -n $LIST ]]; then
  while read -r -a c; do
    [[ ${#c[@]} -ge 5 && ${c[0]} != \#* ]] && candidate "${c[@]}"
  done < "$LIST"
else
  # the study's family (width alpha, input rho, grey or colour), how the sets are weighted, and
  # what the training sees (GENKI-4K's Haar crops; rotation, shift and blur)
  candidate a25_64_gray 0.25 64 gray natural
  candidate a25_64_gray_g3 0.25 64 gray genki3
  candidate a25_64_rgb 0.25 64 rgb natural
  candidate a50_64_gray 0.5 64 gray natural
  candidate a25_96_gray 0.25 96 gray natural
  candidate a25_64_gray_crops 0.25 64 gray crops
  candidate a25_64_gray_crops_aug 0.25 64 gray crops --rotate 10 --shift 0.05 --blur 0.3
fi
