#!/usr/bin/env bash
# arm64.sh — grin for 64-bit ARM boards, built and tested on this x86 machine: cross-builds the
# core and training libraries and the unit tests with Debian's aarch64 compiler
# (cmake/aarch64-linux-gnu.cmake), runs the unit tests under qemu-aarch64-static (NEON kernels
# active, then forced to scalar), then compares
# the face path on the sample photos with this machine's own build: the same boxes, the same 68
# landmarks (to 1/1000 px), the same smile probabilities to 1e-4 (grin's kernels are held to the scalar reference to that order),
# with the default kernels and with GRIN_CPU=scalar; and runs `grin run` on the first 60 frames of
# the bundled clip (FFmpeg's arm64 libraries decode it; grin converts YUV to RGB itself, so the
# pixels are the same on both) and requires the same events and per-frame faces as on x86:
# ids, boxes and smile states identical, probabilities within 2e-4 of each other.
#
#   bash scripts/arm64.sh [X86_BUILD]     (X86_BUILD: a native build with tests/faces_only;
#                                          default build-test, else build)
# Needs: scripts/install-deps.sh --test (the cross compiler, qemu-user-static and the arm64
# -dev packages through multiarch). Speed under emulation means nothing: no timings here.
set -euo pipefail
cd "$(dirname "$0")/.."
X86=${1:-build-test}
[[ -x $X86/tests/faces_only ]] || X86=build
jobs=$(nproc)
cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DGRIN_WERROR=ON -DGRIN_WITH_SDL=OFF -DGRIN_BUILD_TESTS=ON >/dev/null
cmake --build build-arm64 -j"$jobs"
file build-arm64/libgrin.so.0.* build-arm64/grin | grep -q "ARM aarch64" || { echo "arm64.sh: not an aarch64 build" >&2; exit 1; }
# (test_pipeline, ~4 minutes under emulation, is left to the `grin run` comparison at the end,
# which drives the same pipeline on video end to end)
(cd build-arm64 && ctest --output-on-failure -j"$jobs" --timeout 900 -E '^test_pipeline$')
# again with every kernel forced to the scalar reference (test_nn already holds each kernel set,
# NEON included, to the scalar one in the run above; its two minutes are not repeated)
(cd build-arm64 && GRIN_CPU=scalar QEMU_SET_ENV=GRIN_CPU=scalar ctest --output-on-failure -j"$jobs" --timeout 900 -E '^(test_nn|test_pipeline)$')
qemu=(qemu-aarch64-static -L /)
bad=0
for cpu in "" scalar; do
  for f in data/samples/*.jpg; do
    want=$("$X86/tests/faces_only" "$f")
    got=$(GRIN_CPU=$cpu QEMU_SET_ENV=GRIN_CPU=$cpu "${qemu[@]}" build-arm64/tests/faces_only "$f")
    if ! python3 - "$want" "$got" <<'PY'
import sys
w = [l.split() for l in sys.argv[1].splitlines()]
g = [l.split() for l in sys.argv[2].splitlines()]
ok = len(w) == len(g) and all(a[:4] == b[:4] and a[5] == b[5] and abs(float(a[4]) - float(b[4])) <= 1e-4
                              and len(a) == len(b) == 6 + 136 and a[6:] == b[6:]  # the landmarks, to 1/1000 px
                              for a, b in zip(w, g))
sys.exit(0 if ok else 1)
PY
    then
      echo "arm64.sh: $f (GRIN_CPU=${cpu:-default}): x86 and arm64 differ:" >&2
      paste <(echo "$want") <(echo "$got") >&2
      bad=1
    fi
  done
done
# the video pipeline: the same frames, faces and events as x86's
clip=data/video/franck.webm
"$X86/grin" run "$clip" --frames 60 --events build-arm64/run-x86.jsonl
for cpu in "" scalar; do
  GRIN_CPU=$cpu QEMU_SET_ENV=GRIN_CPU=$cpu "${qemu[@]}" build-arm64/grin run "$clip" --frames 60 \
    --events build-arm64/run-arm64.jsonl
  if ! python3 - build-arm64/run-x86.jsonl build-arm64/run-arm64.jsonl <<'PY'
import json, math, sys
def load(p):
    return [json.loads(l) for l in open(p)]
w, g = load(sys.argv[1]), load(sys.argv[2])
def same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 2e-4 or (math.isnan(a) and math.isnan(b))
    return a == b
frames = sum("faces" in d for d in w)
events = [d for d in w if "event" in d]
bad = [(x, y) for x, y in zip(w, g) if not same(x, y)]
if len(w) != len(g) or bad or frames != 60 or not events:
    print("x86:", len(w), "lines; arm64:", len(g), "; first difference:", bad[:1], file=sys.stderr)
    sys.exit(1)
print(f"arm64.sh: grin run: the same {frames} frames' faces and {len(events)} events as x86")
PY
  then
    echo "arm64.sh: grin run $clip (GRIN_CPU=${cpu:-default}): events differ from x86's" >&2
    bad=1
  fi
done
[[ $bad -eq 0 ]] && echo "arm64.sh: unit tests pass under qemu; the sample photos' faces and the clip's events match x86 (default and scalar kernels)"
exit $bad
