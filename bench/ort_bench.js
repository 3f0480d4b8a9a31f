// ort_bench.js — ONNX Runtime (npm onnxruntime-node, its bundled CPU library) on a grin-exported
// model: batch-1 latency over --repeat runs with --threads intra-op threads, as one JSON line.
// With --input FILE (raw float32, one image NCHW) it prints the model's output instead, for the
// parity check against grin.
//   node bench/ort_bench.js MODEL.onnx --threads 1 --repeat 2000
'use strict';
const path = require('path');
let ort;
try {
  ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
} catch (e) {
  console.error('ort_bench: onnxruntime-node is not installed (run scripts/install-bench-deps.sh)');
  process.exit(2);
}
const fs = require('fs');

async function main() {
  const args = process.argv.slice(2);
  if (!args.length) {
    console.error('usage: node ort_bench.js MODEL.onnx [--threads N] [--repeat N] [--input FILE]');
    process.exit(2);
  }
  const model = args[0];
  let threads = 1, repeat = 1000, input = null;
  for (let i = 1; i < args.length; i++) {
    if (args[i] === '--threads') threads = parseInt(args[++i], 10);
    else if (args[i] === '--repeat') repeat = parseInt(args[++i], 10);
    else if (args[i] === '--input') input = args[++i];
    else { console.error(`ort_bench: unknown argument ${args[i]}`); process.exit(2); }
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const name = session.inputNames[0];
  // the input's shape from the model: [N, C, H, W] with N symbolic
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  let shape = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' ? d : 1)) : null;
  if (!shape) { console.error('ort_bench: cannot read the input shape'); process.exit(1); }
  const n = shape.reduce((a, b) => a * b, 1);
  let data;
  if (input) {
    const buf = fs.readFileSync(input);
    if (buf.length % (n * 4) !== 0) { console.error(`ort_bench: ${input}: not a multiple of ${n} floats`); process.exit(1); }
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const out = [];
    for (let off = 0; off < all.length; off += n) {
      const r = await session.run({ [name]: new ort.Tensor('float32', all.slice(off, off + n), shape) });
      out.push(r[session.outputNames[0]].data[0]);
    }
    console.log(JSON.stringify({ outputs: out }));
    return;
  }
  data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = ((i * 7) % 255) / 127.5 - 1;
  const feeds = { [name]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < 50; i++) await session.run(feeds);
  const ms = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ runtime: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : null,
    threads, repeat, ms_min: ms[0], ms_median: ms[Math.floor(repeat / 2)] }));
}
main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
