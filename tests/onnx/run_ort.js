// Runs an ONNX model in ONNX Runtime (the npm package onnxruntime-node) on a CSV of inputs and
// prints its outputs as CSV, the layout of `graph-runner predict` (a header, one row per
// sample), at full float precision.
// Usage: node run_ort.js MODEL.onnx INPUT.csv NAME:D1xD2... [NAME:DIMS...]
//   each NAME:DIMS is one model input and its sample shape; the CSV's columns hold them in order.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, csv, ...specs] = process.argv.slice(2);
  const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').map((l) => l.split(',').map(Number));
  const feeds = {};
  let offset = 0;
  for (const spec of specs) {
    const [name, dims] = spec.split(':');
    const shape = dims.split('x').map(Number);
    const width = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(rows.length * width);
    rows.forEach((row, r) => data.set(row.slice(offset, offset + width), r * width));
    feeds[name] = new ort.Tensor('float32', data, [rows.length, ...shape]);
    offset += width;
  }
  const session = await ort.InferenceSession.create(model);
  const results = await session.run(feeds);
  const header = [];
  const columns = [];
  for (const name of session.outputNames) {
    const t = results[name];
    const width = t.data.length / rows.length;
    for (let i = 0; i < width; ++i) header.push(width === 1 ? name : `${name}[${i}]`);
    columns.push({ data: t.data, width });
  }
  const lines = [header.join(',')];
  for (let r = 0; r < rows.length; ++r) {
    const row = [];
    for (const { data, width } of columns)
      for (let i = 0; i < width; ++i) row.push(data[r * width + i].toPrecision(9));
    lines.push(row.join(','));
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  console.error(`run_ort.js: ${e.message}`);
  process.exit(1);
});
