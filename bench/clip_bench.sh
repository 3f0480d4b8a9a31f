#!/usr/bin/env bash
# clip_bench.sh — what grin run gets right on footage: the labelled multi-face clip
# (bench/make_clip.py: recall, false boxes, id switches, fragmented tracks, smile accuracy per
# face-frame against the same faces as photos, fps) and the two real clips (franck: one person,
# smiling now and then; cap12: one person, never smiling: tracks, face-frames smiling, smile
# events). One JSON line per clip; the events files stay in OUT.
#
#   bash bench/clip_bench.sh OUT [grin run options...]
#
# e.g. bash bench/clip_bench.sh /tmp/clips, or with --detect-every 2
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1
shift
GRIN=${GRIN:-build/grin}
PY=/usr/bin/python3
DATA=${DATA:-../shared/data}
mkdir -p "$OUT"
[[ -f $OUT/clip/gt.csv ]] || $PY bench/make_clip.py "$OUT/clip" --data "$DATA" > /dev/null
# the same faces as photos: grin's photo path on each person's photo (the largest face found)
echo "id,prob" > "$OUT/photos.csv"
tail -n +2 "$OUT/clip/people.csv" | while IFS=, read -r id file smile pose; do
  p=$("$GRIN" classify "$file" | $PY -c 'import json,sys
f=json.loads(sys.stdin.read())["faces"]
print(max(f, key=lambda x: x["box"][2])["smile"] if f else 0.5)')
  echo "$id,$p" >> "$OUT/photos.csv"
done
stats() { tail -n 1 "$1" | $PY -c 'import json,sys; print(json.loads(sys.stdin.read())["fps"])'; }
"$GRIN" run "$OUT/clip/frames/%05d.png" --events "$OUT/clip.jsonl" --stats "$@" > "$OUT/clip.stats"
echo "{\"clip\":\"labelled\",\"fps\":$(stats "$OUT/clip.stats"),\"scores\":$($PY bench/track_eval.py "$OUT/clip/gt.csv" \
  "$OUT/clip.jsonl" --photos "$OUT/photos.csv")}"
for c in franck cap12_edit; do
  "$GRIN" run "$DATA/video/$c.webm" --events "$OUT/$c.jsonl" --stats "$@" > "$OUT/$c.stats"
  echo "{\"clip\":\"$c\",\"fps\":$(stats "$OUT/$c.stats"),\"scores\":$($PY -c 'import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
ff=[f for e in ev if "faces" in e for f in e["faces"]]
print(json.dumps({"tracks": len({f["id"] for f in ff}), "face_frames": len(ff),
  "smiling_share": round(sum(f["smiling"] for f in ff) / max(len(ff), 1), 4),
  "undecided_share": round(sum(f["smile"] is None for f in ff) / max(len(ff), 1), 4),
  "smile_events": sum(e.get("event") == "smile_start" for e in ev)}))' "$OUT/$c.jsonl")}"
done
