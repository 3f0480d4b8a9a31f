#!/usr/bin/env bash
# test.sh — sets up everything and runs every test: a -Werror Release build with the unit,
# CLI and OpenCV/dlib parity tests; the unit tests again under ASan+UBSan; the threaded tests
# under TSan; each libFuzzer target for GRIN_FUZZ_SECONDS (default 30) seconds; and the aarch64
# cross-build with its unit tests under qemu (scripts/arm64.sh).
# Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test || exit 1

jobs=$(nproc)
passed=0
failed=0
step() { # name, command...
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "=== FAILED: $name"; fi
}

release() {
  cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DGRIN_WERROR=ON >/dev/null &&
    cmake --build build-test -j"$jobs" &&
    (cd build-test && ctest --output-on-failure -j"$jobs")
}
sanitized() {
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRIN_WERROR=ON \
        -DGRIN_SANITIZE=address >/dev/null &&
    cmake --build build-asan -j"$jobs" &&
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       ctest --output-on-failure -L unit -j"$jobs")
}
threads() { # the worker pool, multi-threaded detection and the video pipeline under ThreadSanitizer
  local out; out=$(mktemp -d)
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRIN_SANITIZE=thread >/dev/null &&
    cmake --build build-tsan -j"$jobs" --target test_core grin_cli &&
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R "test_core") &&
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/grin detect --threads 2 data/samples/*.jpg >/dev/null &&
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/grin bench detect --threads 2 --repeat 3 \
      --image data/samples/2008_001322.jpg >/dev/null &&
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/grin run data/video/franck.webm --frames 120 \
      --detect-every 3 --workers detect=2,classify=2 --out "$out/t.mp4" --events "$out/t.jsonl" --stats &&
    TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build-tsan/grin run data/video/franck.webm --frames 120 \
      --realtime --pace --stats
  local rc=$?
  rm -rf "$out"
  return $rc
}
fuzz() {
  local secs=${GRIN_FUZZ_SECONDS:-30}
  CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRIN_FUZZ=ON >/dev/null &&
    cmake --build build-fuzz -j"$jobs" --target fuzz_cascade fuzz_csv fuzz_image fuzz_json fuzz_labels fuzz_landmarks fuzz_model fuzz_video || return 1
  local t rc=0
  for t in fuzz_cascade fuzz_csv fuzz_image fuzz_json fuzz_labels fuzz_landmarks fuzz_model fuzz_video; do
    local corpus; corpus=$(mktemp -d)
    cp tests/fuzz/corpus/$t/* "$corpus"/
    echo "fuzzing $t for ${secs}s"
    ./build-fuzz/tests/$t -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus" 2>&1 | tail -n 3 || rc=1
    rm -rf "$corpus"
  done
  return $rc
}

step "release build + ctest (unit, cli, parity with OpenCV)" release
step "ASan+UBSan build + unit tests" sanitized
step "ThreadSanitizer: pool, detector, video pipeline" threads
step "libFuzzer targets" fuzz
step "aarch64 cross-build, unit tests under qemu, faces as on x86" bash scripts/arm64.sh build-test
echo "test.sh: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
