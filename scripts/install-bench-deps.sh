#!/bin/sh
# Benchmark-only dependencies: ONNX Runtime's Node.js package (its CPU library is inside the
# package; --ignore-scripts skips the install script that tries to download GPU binaries), and
# face-api.js with TensorFlow.js (bench/faceapi_oracle.cjs, the importer's reference). One npm
# call for all: a second --no-save install would remove the first one's packages.
# Reference runtimes are never runtime dependencies of grin.
set -eu
cd "$(dirname "$0")/.."
command -v node >/dev/null 2>&1 || apt-get install -y -q nodejs npm
if [ ! -d bench/node_modules/onnxruntime-node ] || [ ! -d bench/node_modules/@vladmandic/face-api ]; then
    npm install --prefix bench --no-save --ignore-scripts --no-audit --no-fund onnxruntime-node \
        @vladmandic/face-api@1.7.15 @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 \
        @tensorflow/tfjs-backend-webgl@4.22.0
fi
