#!/usr/bin/env python3
"""Puts imported weights into a freshly initialised checkpoint, so that `graph-runner train
--resume` fine-tunes from them (train has no option to start from weights alone yet: --resume
also wants the optimizer's state, which `train --epochs 0 --save` writes as zeros).

    python3 start_from.py INITIAL.safetensors IMPORTED.safetensors OUT.safetensors

Every tensor of IMPORTED replaces the one of the same name and shape in INITIAL; a name
INITIAL lacks, or a different shape, is an error. The checksums are written as gradflow writes
them (framework/src/io/safetensors.cpp): the CRC32 of the data, and of the header's compact JSON
with sorted keys and without the two checksum keys."""
import json
import struct
import sys
import zlib

CHECKSUMS = ("gradflow.crc32", "gradflow.header_crc32")


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}
    return tensors, meta


def write(path, tensors, meta):
    meta = {k: v for k, v in meta.items() if k not in CHECKSUMS}
    header, chunks, offset = {"__metadata__": meta}, [], 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    compact = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    meta["gradflow.header_crc32"] = str(zlib.crc32(compact.encode()))
    meta["gradflow.crc32"] = str(zlib.crc32(b"".join(chunks)))
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main(initial, imported, out):
    tensors, meta = read(initial)
    for name, value in read(imported)[0].items():
        if name not in tensors or tensors[name][1] != value[1]:
            sys.exit(f"start_from.py: {name} {value[1]} does not fit {initial}")
        tensors[name] = value
    write(out, tensors, meta)


main(*sys.argv[1:4])
