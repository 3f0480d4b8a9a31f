#!/usr/bin/env bash
# demo.sh — sets up grin on a fresh Debian 12 machine and runs the main job on the bundled
# samples: finds the faces in data/samples/*.jpg, writes out/faces.jsonl (one JSON line per
# photo) and annotated copies in out/annotated/, then each face's smile probability
# (detect -> landmarks -> align -> classify) in out/smiles.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DGRIN_BUILD_TESTS=OFF
mkdir -p out
./build/grin --version
./build/grin detect --threads 0 --draw out/annotated data/samples/*.jpg | tee out/faces.jsonl
./build/grin classify data/samples/*.jpg | tee out/smiles.jsonl
echo "demo: $(wc -l < out/faces.jsonl) photos, boxes in out/faces.jsonl, drawings in out/annotated/, smiles in out/smiles.jsonl"
