// facerec_oracle.cjs — face-api.js's own answer for grin's face-recognition importer test: its
// face recognition network (dlib's ResNet; TensorFlow.js, CPU backend) on raw 150x150 RGB crops,
// printing the 128 descriptor values per file. It wrote tests/fixtures/facerec/expected.txt:
//
//   sh scripts/install-bench-deps.sh
//   node bench/facerec_oracle.cjs MODEL_DIR tests/fixtures/facerec/*.rgb
//
// MODEL_DIR holds face_recognition_model-weights_manifest.json and face_recognition_model.bin
// (third_party/face-api, or the npm package's model/).
const path = require('path');
const fs = require('fs');
const faceapi = require(path.join(__dirname, 'node_modules/@vladmandic/face-api/dist/face-api.node-wasm.js'));

(async () => {
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const [dir, ...files] = process.argv.slice(2);
  const net = new faceapi.FaceRecognitionNet();
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'face_recognition_model-weights_manifest.json')));
  const bin = fs.readFileSync(path.join(dir, 'face_recognition_model.bin'));
  net.loadFromWeightMap(tf.io.decodeWeights(new Uint8Array(bin).buffer, manifest[0].weights));
  for (const f of files) {
    const raw = fs.readFileSync(f);
    if (raw.length !== 150 * 150 * 3) throw new Error(`${f}: ${raw.length} bytes, 150x150x3 expected`);
    const d = net.forwardInput(await faceapi.toNetInput(tf.tensor3d(new Float32Array(raw), [150, 150, 3])));
    console.log(path.basename(f), Array.from(d.dataSync()).map((v) => v.toFixed(6)).join(' '));
  }
})();
