#!/usr/bin/env bash
# smile_curve.sh — accuracy against time for the smile networks (the study's Figure 25 with
# grin's numbers): each network searched by bench/smile_search.sh (its mean AUC on the tuning
# parts) and the wider ones it could not afford to train here (time only), timed by
# `grin bench classify --raw` on one core, batch 1: one pass of the network (a face costs two
# with the test-time mirror). Writes OUT/curve.csv and draws OUT/curve.png with `grin plot`.
#
#   bash bench/smile_curve.sh SEARCH_OUT[:SEARCH_OUT...] OUT
#
# SEARCH_OUT: smile_search.sh's folders (search.csv and the models; 8-epoch rows are drawn);
# run on an idle machine.
set -euo pipefail
S=$1 OUT=$2
GRIN=${GRIN:-./build/grin}
mkdir -p "$OUT"
echo "name,alpha,input,channels,ms_per_pass,ms_per_pass_min,mean_tune_auc,net" > "$OUT/curve.csv"

time_model() { # model name alpha input channels auc
  local m=$1 name=$2 alpha=$3 input=$4 ch=$5 auc=$6
  local j; j=$("$GRIN" bench classify --raw --model "$m" --repeat 400 --threads 1)
  local med mn
  med=$(sed 's/.*"ms_per_crop_median":\([0-9.]*\).*/\1/' <<< "$j")
  mn=$(sed 's/.*"ms_per_crop_min":\([0-9.]*\).*/\1/' <<< "$j")
  echo "$name,$alpha,$input,$ch,$med,$mn,$auc,$ch ${input}px" >> "$OUT/curve.csv"
}

# trained: from the searches (rows: name,alpha,input,channels,data,epochs,train_s,...,mean_auc);
# a fine-tuned face-api.js network (alpha "init=MODEL") is its own series
IFS=: read -r -a dirs <<< "$S"
for d in "${dirs[@]}"; do
  tail -n +2 "$d/search.csv" | while IFS=, read -r name alpha input ch data epochs secs g m s c mean; do
    [[ $epochs == 8 && -f $d/$name.grinnet ]] || continue
    if [[ $alpha == init=* ]]; then
      time_model "$d/$name.grinnet" "$name" 1.0 "$input" "$ch" "$mean"
      sed -i '$ s/,[^,]*$/,face-api '"$ch ${input}px"'/' "$OUT/curve.csv"
    else
      time_model "$d/$name.grinnet" "$name" "$alpha" "$input" "$ch" "$mean"
    fi
  done
done
# not trained here: the time such a network would cost
for a in 0.75 1.0; do
  for r in 64 96; do
    "$GRIN" model init --alpha $a --input $r --gray --out "$OUT/init.grinnet" > /dev/null
    time_model "$OUT/init.grinnet" "a${a/./}_${r}_gray_untrained" $a $r gray ""
  done
done
rm -f "$OUT/init.grinnet"
# the curve: the architectures trained on the natural data (untrained ones have no accuracy;
# the data variants sit on top of their network's point)
awk -F, 'NR == 1 || ($7 != "" && $1 !~ /_g3|_crops|_p$/)' "$OUT/curve.csv" > "$OUT/trained.csv"
"$GRIN" plot "$OUT/trained.csv" --x ms_per_pass --y mean_tune_auc --label name --series net --xlog \
  --title "smile networks, 8 epochs: mean AUC on the tuning parts vs ms per pass (1 core)" \
  --out "$OUT/curve.png"
cat "$OUT/curve.csv"
