// faceapi_oracle.cjs — face-api.js's own answer for grin's importer test: its face expression
// network (TensorFlow.js, CPU backend) on raw 112x112 RGB crops, printing the seven logits
// (neutral happy sad angry fearful disgusted surprised) per file. It wrote
// tests/fixtures/faceapi/expected.txt:
//
//   sh scripts/install-bench-deps.sh
//   node bench/faceapi_oracle.cjs third_party/face-api tests/fixtures/faceapi/*.rgb
const path = require('path');
const fs = require('fs');
const faceapi = require(path.join(__dirname, 'node_modules/@vladmandic/face-api/dist/face-api.node-wasm.js'));

(async () => {
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const [dir, ...files] = process.argv.slice(2);
  const net = new faceapi.FaceExpressionNet();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'face_expression_model-weights_manifest.json')));
  const bin = fs.readFileSync(path.join(dir, 'face_expression_model.bin'));
  net.loadFromWeightMap(tf.io.decodeWeights(new Uint8Array(bin).buffer, manifest[0].weights));
  for (const f of files) {
    const raw = fs.readFileSync(f);
    if (raw.length !== 112 * 112 * 3) throw new Error(`${f}: ${raw.length} bytes, 112x112x3 expected`);
    const logits = net.runNet(await faceapi.toNetInput(tf.tensor3d(new Float32Array(raw), [112, 112, 3])));
    console.log(path.basename(f), Array.from(logits.dataSync()).map((v) => v.toFixed(6)).join(' '));
  }
})();
