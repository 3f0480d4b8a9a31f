#!/bin/sh
# Benchmark-only dependencies: ONNX Runtime's Node.js package (its CPU library is inside the
# package; --ignore-scripts skips the install script that tries to download GPU binaries).
# Reference runtimes are never runtime dependencies of grin.
set -eu
cd "$(dirname "$0")/.."
command -v node >/dev/null 2>&1 || apt-get install -y -q nodejs npm
if [ ! -d bench/node_modules/onnxruntime-node ]; then
    npm install --prefix bench --no-save --ignore-scripts --no-audit --no-fund onnxruntime-node
fi
