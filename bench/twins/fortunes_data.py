"""The fortunes corpus for the PyTorch twin of graphs/fortunes_transformer.yaml, read exactly as
the graph's `text:` source reads it (../shared/graph-format.md section 2c):

- the files matching /usr/share/games/fortunes/* in sorted (byte) order, `*.dat` and `*.u8`
  excluded, concatenated: N bytes (2,576,674 with Debian's fortunes-min/fortunes 1:1.99.1);
- `part: [a, b]` keeps bytes [floor(a * N), floor(b * N)), the fractions taken in double;
- windows of `length` T every `stride` bytes (default T): x = part[begin : begin + T] and, with
  `offset: 1`, y = part[begin + 1 : begin + 1 + T]; a window that would run past the end of the
  part (counting the largest offset, 1) is dropped for both, so there are
  (len - T - 1) // stride + 1 windows.

Training part [0, 0.9]: 18,117 windows, 567 batches of 32 per epoch (the last one of 5);
validation part [0.9, 1]: 2,013 windows.

This module does not import torch's peer environment itself; the twin does (see
bench/twins/fortunes_transformer_torch.py).
"""
import fnmatch
import glob
import math
import os

CORPUS_GLOB = "/usr/share/games/fortunes/*"
EXCLUDE = ("*.dat", "*.u8")


def corpus_files(pattern=CORPUS_GLOB, exclude=EXCLUDE):
    """The files of the corpus in the order they are concatenated. Python's sorted() on str is
    code-point order, which is byte order for these ASCII names."""
    names = sorted(glob.glob(pattern))
    return [f for f in names if os.path.isfile(f)
            and not any(fnmatch.fnmatchcase(os.path.basename(f), e) for e in exclude)]


def corpus_bytes(pattern=CORPUS_GLOB, exclude=EXCLUDE):
    out = bytearray()
    for f in corpus_files(pattern, exclude):
        with open(f, "rb") as fh:
            out += fh.read()
    return bytes(out)


def part(data, a, b):
    """Bytes [floor(a * N), floor(b * N)) of data (the fractions computed in double)."""
    n = len(data)
    return data[math.floor(a * n):math.floor(b * n)]


def window_count(length_of_part, T, stride=None, max_offset=1):
    stride = stride or T
    if length_of_part < T + max_offset:
        return 0
    return (length_of_part - T - max_offset) // stride + 1


def windows(data, T, stride=None):
    """(x, y) as int64 tensors [count, T]: the windows of `data` and their next-byte targets."""
    import torch
    stride = stride or T
    t = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    w = t.unfold(0, T + 1, stride).long()  # (len - (T + 1)) // stride + 1 windows of T + 1
    assert w.shape[0] == window_count(len(data), T, stride)
    return w[:, :T].contiguous(), w[:, 1:].contiguous()


if __name__ == "__main__":
    d = corpus_bytes()
    tr, va = part(d, 0.0, 0.9), part(d, 0.9, 1.0)
    n_tr, n_va = window_count(len(tr), 128), window_count(len(va), 128)
    print(f"{len(corpus_files())} files, N = {len(d)} bytes; train part {len(tr)} bytes, {n_tr} windows, "
          f"{-(-n_tr // 32)} batches of 32 per epoch; validation part {len(va)} bytes, {n_va} windows")
