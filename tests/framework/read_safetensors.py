#!/usr/bin/env python3
"""An independent safetensors reader, to check that gradflow's checkpoints follow the format.

It uses only the json and struct modules (no numpy, torch or safetensors), so that it shares
no code with any writer it checks.

    python3 read_safetensors.py FILE [--values N]

prints one line per tensor, in header order,

    NAME DTYPE [D0,D1,...] V0 V1 ...     (the first N values, default 8, as %.9g)

then "__metadata__ " followed by the metadata as JSON with sorted keys. When the metadata
holds "gradflow.crc32" the CRC32 of the data buffer is checked against it (computed here in
pure Python). Exit status 1, with the reason on stderr, for a malformed file.
"""

import json
import struct
import sys

# dtype -> (struct format character, bytes per value)
DTYPES = {
    "F64": ("d", 8), "F32": ("f", 4), "F16": ("e", 2),
    "I64": ("q", 8), "I32": ("i", 4), "I16": ("h", 2), "I8": ("b", 1),
    "U64": ("Q", 8), "U32": ("I", 4), "U16": ("H", 2), "U8": ("B", 1), "BOOL": ("?", 1),
}


class Malformed(Exception):
    pass


def crc32(data):
    """CRC-32 (IEEE 802.3, as zlib computes it), bitwise: slow but independent of zlib."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def is_count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def parse(raw):
    if len(raw) < 8:
        raise Malformed("file shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", raw[:8])
    if length > len(raw) - 8:
        raise Malformed("header length %d exceeds the file" % length)
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed("header is not JSON: %s" % e)
    if not isinstance(header, dict):
        raise Malformed("header is not a JSON object")
    buffer = raw[8 + length:]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Malformed("__metadata__ is not an object of strings")

    tensors = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise Malformed("tensor %r lacks dtype, shape or data_offsets" % name)
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise Malformed("tensor %r has unknown dtype %r" % (name, dtype))
        if not isinstance(shape, list) or not all(is_count(d) for d in shape):
            raise Malformed("tensor %r has a bad shape %r" % (name, shape))
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_count(o) for o in offsets)
                and offsets[0] <= offsets[1] <= len(buffer)):
            raise Malformed("tensor %r has bad data_offsets %r" % (name, offsets))
        count = 1
        for d in shape:
            count *= d
        if count * DTYPES[dtype][1] != offsets[1] - offsets[0]:
            raise Malformed("tensor %r: shape %r does not match data_offsets %r" % (name, shape, offsets))
        tensors.append((name, dtype, shape, offsets, count))

    # The tensors must tile the buffer exactly.
    position = 0
    for _, _, _, (begin, end), _ in sorted(tensors, key=lambda t: tuple(t[3])):
        if begin != position:
            raise Malformed("data buffer has a gap or overlap at byte %d" % position)
        position = end
    if position != len(buffer):
        raise Malformed("data buffer has %d unused bytes at the end" % (len(buffer) - position))

    if "gradflow.crc32" in metadata:
        computed = crc32(buffer)
        if str(computed) != metadata["gradflow.crc32"]:
            raise Malformed("crc32 mismatch: stored %s, computed %d" % (metadata["gradflow.crc32"], computed))
    return tensors, metadata, buffer


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--values"):
        print("usage: read_safetensors.py FILE [--values N]", file=sys.stderr)
        return 2
    shown = int(argv[3]) if len(argv) == 4 else 8
    try:
        with open(argv[1], "rb") as f:
            raw = f.read()
        tensors, metadata, buffer = parse(raw)
    except (OSError, Malformed) as e:
        print("%s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    for name, dtype, shape, (begin, _), count in tensors:
        char, size = DTYPES[dtype]
        n = min(count, shown)
        values = struct.unpack("<%d%s" % (n, char), buffer[begin:begin + n * size])
        fields = [name, dtype, "[" + ",".join(str(d) for d in shape) + "]"]
        fields += ["%.9g" % v for v in values]
        print(" ".join(fields))
    print("__metadata__ " + json.dumps(metadata, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
