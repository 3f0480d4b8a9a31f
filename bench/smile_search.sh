#!/usr/bin/env bash
# smile_search.sh — the smile network's architecture search, chosen on tuning parts only: each
# candidate trains on the fit parts of all four sets for a short schedule, then its AUC is measured
# on each set's tuning part (never on a validation part). Appends one row per candidate to
# OUT/search.csv: name,alpha,input,channels,weighting,epochs,train_s,<set>_auc...,mean_auc
#
#   bash bench/smile_search.sh A A96 OUT [EPOCHS]
#
# A and A96: `grin align` output at 64 and 96 px (genki, mtfl, smiled, celeba_photos,
# celeba_crops, each cut by scripts/split_sets.py). Resumable: a finished candidate is skipped,
# an interrupted one continues from its checkpoint.
set -euo pipefail
A=$1 A96=$2 OUT=$3 EPOCHS=${4:-8}
GRIN=${GRIN:-./build/grin}
mkdir -p "$OUT"
SETS=(genki mtfl smiled celeba_photos celeba_crops)
[[ -f $OUT/search.csv ]] ||
  echo "name,alpha,input,channels,weighting,epochs,train_s,genki_auc,mtfl_auc,smiled_auc,celeba_auc,mean_auc" \
    > "$OUT/search.csv"

candidate() { # name alpha input gray|rgb weighting
  local name=$1 alpha=$2 input=$3 color=$4 weighting=$5
  grep -q "^$name," "$OUT/search.csv" && return 0
  local dir=$A; [[ $input == 96 ]] && dir=$A96
  local labels=() s
  for s in "${SETS[@]}"; do labels+=(--labels "$dir/$s/fit.csv"); done
  if [[ $weighting == genki3 ]]; then # GENKI-4K's fit part seen three times an epoch
    labels+=(--labels "$dir/genki/fit.csv" --labels "$dir/genki/fit.csv")
  fi
  local gray=(); [[ $color == gray ]] && gray=(--gray)
  local t0=$SECONDS
  "$GRIN" train "${labels[@]}" --alpha "$alpha" --input "$input" "${gray[@]}" --epochs "$EPOCHS" \
    --batch 64 --seed 1 --checkpoint "$OUT/$name.ckpt" --resume --out "$OUT/$name.grinnet" \
    > "$OUT/$name.log" 2>&1
  local secs=$((SECONDS - t0)) aucs=() sum=0
  for s in genki mtfl smiled celeba; do
    local csv=$dir/$s/tune.csv
    if [[ $s == celeba ]]; then # CelebA's two kinds pooled
      csv=$OUT/celeba_tune_$input.csv
      { head -n 1 "$dir/celeba_photos/tune.csv"
        for k in photos crops; do
          tail -n +2 "$dir/celeba_$k/tune.csv" |
            awk -v d="$(cd "$dir/celeba_$k" && pwd)/" 'BEGIN { FS = OFS = "," } { $1 = d $1; print }'
        done; } > "$csv"
    fi
    local auc
    auc=$("$GRIN" eval --aligned --model "$OUT/$name.grinnet" --labels "$csv" | tail -n 1 |
          sed 's/.*"auc":\([0-9.]*\).*/\1/')
    aucs+=("$auc")
    sum=$(awk -v a="$sum" -v b="$auc" 'BEGIN{print a+b}')
  done
  local mean; mean=$(awk -v s="$sum" 'BEGIN{printf "%.4f", s/4}')
  echo "$name,$alpha,$input,$color,$weighting,$EPOCHS,$secs,$(IFS=,; echo "${aucs[*]}"),$mean" >> "$OUT/search.csv"
  rm -f "$OUT/$name.ckpt"
}

# the study's family (width alpha, input rho, grey or colour), and how the sets are weighted
candidate a25_64_gray 0.25 64 gray natural
candidate a25_64_gray_g3 0.25 64 gray genki3
candidate a25_64_rgb 0.25 64 rgb natural
candidate a50_64_gray 0.5 64 gray natural
candidate a25_96_gray 0.25 96 gray natural
