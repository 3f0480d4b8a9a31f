#!/usr/bin/env bash
# demo.sh — sets up grin on a fresh Debian 12 machine and runs its main job on the bundled
# sample clip: `grin run data/video/franck.webm` tracks the face, smooths its smile probability
# and writes the annotated video (out/franck_annotated.mp4), the events (out/franck_events.jsonl:
# faces per frame, smile_start/smile_end, summaries) and the run statistics. Then the photo
# path: faces and smiles in data/samples/*.jpg (out/faces.jsonl, out/annotated/, out/smiles.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DGRIN_BUILD_TESTS=OFF
mkdir -p out
./build/grin --version
./build/grin run data/video/franck.webm --out out/franck_annotated.mp4 --events out/franck_events.jsonl \
    --stats | tee out/franck_stats.json
echo "demo: $(grep -c '"event":"smile_start"' out/franck_events.jsonl) smiles in the clip;" \
     "video out/franck_annotated.mp4, events out/franck_events.jsonl"
./build/grin detect --threads 0 --draw out/annotated data/samples/*.jpg > out/faces.jsonl
./build/grin classify data/samples/*.jpg | tee out/smiles.jsonl
echo "demo: $(wc -l < out/faces.jsonl) photos, boxes in out/faces.jsonl, drawings in out/annotated/, smiles in out/smiles.jsonl"
