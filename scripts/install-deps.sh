#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages grin needs. Idempotent: apt-get runs only
# when something is missing, and `apt-get update` at most once.
#   scripts/install-deps.sh          build + run (the demo)
#   scripts/install-deps.sh --test   also the tests, oracles, sanitizers, fuzzing, benchmarks
set -euo pipefail

# opencv-data: the face cascades; libdlib-data: the 68-point landmark model; FFmpeg's
# libraries for video in and out (libavdevice: cameras); SDL2 for the live window
BUILD_PKGS=(build-essential cmake pkg-config libjpeg62-turbo-dev libpng-dev zlib1g-dev
            libxml2-dev libopenblas-dev opencv-data libdlib-data
            libavformat-dev libavcodec-dev libavdevice-dev libswscale-dev libavutil-dev libsdl2-dev)
# oracles (OpenCV, dlib) for the parity tests and benchmarks, cmocka, clang for libFuzzer
TEST_PKGS=(libcmocka-dev python3 python3-opencv python3-numpy libopencv-dev libdlib-dev
           liblapack-dev libblas-dev libsqlite3-dev clang libclang-rt-14-dev)

# the aarch64 cross-build and its emulated tests (scripts/arm64.sh): the cross compiler, qemu, and
# arm64 -dev packages through multiarch
ARM_PKGS=(gcc-aarch64-linux-gnu qemu-user-static libjpeg62-turbo-dev:arm64 libpng-dev:arm64 libxml2-dev:arm64
          libopenblas-dev:arm64 libcmocka-dev:arm64
          libavformat-dev:arm64 libavcodec-dev:arm64 libswscale-dev:arm64 libavutil-dev:arm64)

pkgs=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=("${TEST_PKGS[@]}" "${ARM_PKGS[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing ${missing[*]}; run as root (or install them yourself)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ " ${missing[*]}" == *":arm64"* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all ${#pkgs[@]} packages present"
