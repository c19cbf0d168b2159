#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/ (committed; run again only to change them).

graph: the example graphs in graphs/ plus small graphs covering every operator, data sources,
       params:, plugins: and a few invalid files (the kinds tests/framework checks).
csv:   first byte = reader options (fuzz_csv.cpp), then a CSV file, plain or gzipped.
idx:   every IDX element type, gzipped or not, and Fashion-MNIST's first bytes.
checkpoint: a real checkpoint of fuzz_checkpoint.cpp's graph (graph-runner train --save,
       when build/tools/graph-runner exists) and hand-made safetensors files.
"""
import gzip, json, os, pathlib, shutil, struct, subprocess, zlib

here = pathlib.Path(__file__).resolve().parent
root = here.parent
corpus = here / "corpus"

def put(kind, name, data):
    d = corpus / kind
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

# ---- graph
import re
for g in sorted((root / "graphs").glob("*.yaml")):
    # Data files by a relative name that does not exist where the fuzzer runs: reading the
    # real Fashion-MNIST set would take seconds per input.
    put("graph", g.name, re.sub(r"(csv|idx): /[^,}]*/", r"\1: ", g.read_text()))
XOR = """graph: xor
seed: 7
inputs:
  x: {shape: [2]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 4, init: xavier_uniform}
  - {name: h1, op: %s, inputs: [fc1]}
  - {name: fc2, op: linear, inputs: [h1], units: 1, bias: false}
  - {name: out, op: sigmoid, inputs: [fc2]}
  - {name: loss, op: %s, inputs: [out, y]}
  - {name: opt, op: %s, inputs: [loss], lr: 0.5}
data:
  train:
    x: [[0, 0], [0, 1], [1, 0], [1, 1]]
    y: [[0], [1], [1], [0]]
  test:
    x: [[0, 0]]
    y: [[0]]
train: {epochs: 10, batch_size: 2, shuffle: false}
outputs: [out]
"""
acts = ["sigmoid", "tanh", "relu", "leaky_relu", "softmax", "step"]
losses = ["mse", "bce", "huber", "bce_with_logits"]
opts = ["sgd", "adam", "adamw"]
for i, a in enumerate(acts):
    put("graph", f"xor_{a}.yaml", XOR % (a, losses[i % 4], opts[i % 3]))
put("graph", "concat_add.yaml", """graph: towers
inputs:
  a: {shape: [3]}
  b: {shape: [3]}
  y: {shape: [1]}
nodes:
  - {name: s, op: add, inputs: [a, b]}
  - {name: c, op: concat, inputs: [s, a, b]}
  - {name: fc, op: linear, inputs: [c], units: 4}
  - {name: loss, op: cross_entropy, inputs: [fc, y], reduction: sum}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1, momentum: 0.9, nesterov: true, params: [fc]}
data:
  train:
    a: {csv: a.csv, columns: "0:3"}
    b: {csv: a.csv, columns: [0, 1, 2], header: true}
    y: {idx: y.idx}
  split: 0.5
""")
put("graph", "errors.yaml", """graph: bad
inputs:
  x: {shape: [2]}
nodes:
  - {name: fc1, op: linar, inputs: [x], units: -4}
  - {name: h1, op: sigmoid, inputs: [fc9, h1]}
  - {name: fc1, op: linear, inputs: [h1], units: 1, foo: 3}
plugins: [nothere.so]
unknown_key: 1
""")
put("graph", "big.yaml", """graph: big
inputs:
  x: {shape: [100000, 100000]}
  y: {shape: [1]}
nodes:
  - {name: fc1, op: linear, inputs: [x], units: 1000000}
  - {name: loss, op: mse, inputs: [fc1, y]}
  - {name: opt, op: sgd, inputs: [loss], lr: 0.1}
""")

# ---- csv (first byte: options)
plain = "1,2,3\n4.5, -6e3 ,7\n\n"
put("csv", "plain.csv", b"\x00" + plain.encode())
put("csv", "header.csv", b"\x01" + b"a,b,c\n1,2,3\n4,5,6\n")
put("csv", "semicolon.csv", b"\x02" + b"1;2;3\n4;5;6\n")
put("csv", "columns.csv", b"\x04" + b"id,1,2\nx,3,4\n")
put("csv", "column_neg.csv", b"\x78" + b"1,2,3\n4,5,6\n")
put("csv", "bom.csv", b"\x00" + b"\xef\xbb\xbf1,2\n3,4\n")
put("csv", "gzip.csv", b"\x00" + gzip.compress(plain.encode(), mtime=0))
put("csv", "bad.csv", b"\x00" + b"1,2\n3\nnan,inf,x\n")
digits = pathlib.Path("/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")
if digits.exists():
    put("csv", "digits_head.csv", b"\x00" + b"\n".join(gzip.decompress(digits.read_bytes()).split(b"\n")[:5]) + b"\n")

# ---- idx
def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
put("idx", "ubyte3.idx", idx(0x08, [2, 2, 3], bytes(range(12))))
put("idx", "labels.idx.gz", gzip.compress(idx(0x08, [4], b"\x07\x00\x09\x03"), mtime=0))
put("idx", "sbyte.idx", idx(0x09, [3], b"\x7f\x80\xff"))
put("idx", "short.idx", idx(0x0B, [3], b"\x01\x02\x80\x00\xff\xff"))
put("idx", "int.idx", idx(0x0C, [2, 1], struct.pack(">ii", 70000, -5)))
put("idx", "float.idx", idx(0x0D, [2], struct.pack(">ff", 1.5, -0.1)))
put("idx", "double.idx", idx(0x0E, [2], struct.pack(">dd", 2.25, -1e-3)))
put("idx", "empty.idx", idx(0x08, [0, 28, 28], b""))
fm = pathlib.Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
if fm.exists():
    raw = gzip.decompress(fm.read_bytes())
    put("idx", "fashion_labels_head.idx", idx(0x08, [64], raw[8:72]))

# ---- checkpoint
def safetensors(tensors, metadata=None, crc=True):
    header, data, off = {}, b"", 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        buf = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(buf)]}
        data += buf
        off += len(buf)
    md = dict(metadata or {})
    if crc:
        md["gradflow.crc32"] = str(zlib.crc32(data))
    header["__metadata__"] = md
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data
weights = {"fc1.weight": ([4, 2], [0.1 * i for i in range(8)]), "fc1.bias": ([4], [0.0] * 4),
           "fc2.weight": ([1, 4], [0.5] * 4), "fc2.bias": ([1], [0.25])}
put("checkpoint", "weights.safetensors", safetensors(weights, {"graph": "fuzz"}))
put("checkpoint", "nocrc.safetensors", safetensors(weights, crc=False))
put("checkpoint", "scalar.safetensors", safetensors({"a": ([], [1.0]), "b": ([0, 3], [])}))
runner = root / "build" / "tools" / "graph-runner"
if runner.exists():
    src = (here / "fuzz_checkpoint.cpp").read_text()
    graph = src.split('R"(', 1)[1].split(')"', 1)[0]
    tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / "gradflow-seed"
    tmp.mkdir(exist_ok=True)
    (tmp / "g.yaml").write_text(graph)
    subprocess.run([str(runner), "train", str(tmp / "g.yaml"), "--epochs", "3",
                    "--save", str(tmp / "c.safetensors")], check=True, stdout=subprocess.DEVNULL)
    put("checkpoint", "trained.safetensors", (tmp / "c.safetensors").read_bytes())
    shutil.rmtree(tmp)
print("seeds:", {d.name: len(list(d.iterdir())) for d in sorted(corpus.iterdir())})
