#!/usr/bin/env bash
# Bad checkpoints and resource faults, through graph-runner as a user meets them.
# Usage: faults.sh GRAPH_RUNNER [WORKDIR]
#  1. truncated checkpoints (many lengths) and checkpoints with one byte flipped (many
#     positions): eval and --resume must exit 1 with an error naming the file, never load;
#  2. unreadable inputs: a missing or directory data file, a missing checkpoint;
#  3. unwritable outputs: --save into a missing directory or onto a read-only file system,
#     and a disk-full write (a small tmpfs, when mount works; skipped otherwise), each leaving
#     an existing checkpoint byte-for-byte intact;
#  4. out-of-memory-sized graphs (huge shapes, huge units): a clear error, no allocation.
# Prints "CASE: n tried, ok" lines (docs/reliability.md) and exits non-zero on any failure.
set -uo pipefail
runner=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/gradflow-faults.XXXXXX")}
mkdir -p "$work"
cd "$work"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

cp "$here/../../graphs/xor.yaml" xor.yaml 2>/dev/null ||
  fail "graphs/xor.yaml not found next to the script"
"$runner" train xor.yaml --epochs 20 --save good.safetensors >/dev/null || fail "training xor"
size=$(stat -c %s good.safetensors)

# expect_refused NAME FILE: eval and resume both exit 1 with "error" and the file's name.
expect_refused() {
  local what=$1 file=$2 out rc
  for cmd in "eval xor.yaml --weights $file" "train xor.yaml --epochs 21 --resume $file"; do
    out=$("$runner" $cmd 2>&1); rc=$?
    if [ $rc -ne 1 ] || ! grep -q "error" <<<"$out" || ! grep -q "$file" <<<"$out"; then
      fail "$what: '$cmd' exit $rc: $out"; return 1
    fi
  done
  return 0
}

# 1a. Truncation at every STRIDE-th length below the full size (FAULTS_STRIDE, default 1),
# and at the last 16.
stride=${FAULTS_STRIDE:-1}
n=0
for ((len = 0; len < size; len++)); do
  ((len % stride == 0 || len >= size - 16)) || continue
  head -c "$len" good.safetensors > trunc.safetensors
  expect_refused "truncated to $len bytes" trunc.safetensors || true
  n=$((n + 1))
done
echo "truncated checkpoint: $n lengths (every ${stride}th of 0..$((size - 1)), $size bytes) tried, all refused unless FAIL above"

# 1b. One byte flipped (xor 0x01 and xor 0x80) at every STRIDE-th position.
python3 - "$stride" <<'PY'
import os, sys
b = open("good.safetensors", "rb").read()
os.makedirs("flips", exist_ok=True)
for pos in range(0, len(b), int(sys.argv[1])):
    for mask in (1, 128):
        c = bytearray(b); c[pos] ^= mask
        open(f"flips/{pos:05d}_{mask}.safetensors", "wb").write(c)
PY
n=0 crc_msgs=0
for f in flips/*.safetensors; do
  if expect_refused "flipped $f" "$f"; then
    out=$("$runner" eval xor.yaml --weights "$f" 2>&1)
    if grep -q "checksum" <<<"$out"; then crc_msgs=$((crc_msgs + 1)); fi
  fi
  n=$((n + 1))
done
echo "corrupted checkpoint: $n single-byte flips (every ${stride}th of $size bytes, 2 masks) tried, all refused unless FAIL above ($crc_msgs by the checksum)"

# 2. Unreadable inputs.
sed 's#^  train:#  train:\n    x: {csv: missing.csv}\n    y: {csv: missing.csv}#; /^    x: \[\[/d; /^    y: \[\[/d' xor.yaml > missing.yaml
out=$("$runner" train missing.yaml --epochs 1 2>&1); rc=$?
{ [ $rc -eq 1 ] && grep -q "missing.csv" <<<"$out"; } || fail "missing data file: exit $rc: $out"
mkdir -p dir.csv
sed 's/missing.csv/dir.csv/g' missing.yaml > dir.yaml
out=$("$runner" train dir.yaml --epochs 1 2>&1); rc=$?
{ [ $rc -eq 1 ] && grep -q "dir.csv" <<<"$out"; } || fail "directory as data file: exit $rc: $out"
out=$("$runner" eval xor.yaml --weights nothere.safetensors 2>&1); rc=$?
{ [ $rc -ne 0 ] && grep -q "nothere.safetensors" <<<"$out"; } || fail "missing checkpoint: exit $rc: $out"
echo "unreadable input: 3 cases (missing data file, directory as data file, missing checkpoint)"

# 3. Unwritable outputs; an existing checkpoint must survive byte for byte.
out=$("$runner" train xor.yaml --epochs 1 --save no/such/dir/c.safetensors 2>&1); rc=$?
{ [ $rc -eq 1 ] && grep -q "no/such/dir/c.safetensors" <<<"$out"; } || fail "--save into a missing directory: exit $rc: $out"
cases=1
mnt=$work/mnt
mkdir -p "$mnt"
if mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
  # Read-only: an existing checkpoint, then the file system remounted read-only.
  cp good.safetensors "$mnt/c.safetensors"
  mount -o remount,ro "$mnt"
  out=$("$runner" train xor.yaml --epochs 30 --save "$mnt/c.safetensors" 2>&1); rc=$?
  { [ $rc -eq 1 ] && grep -q "Read-only" <<<"$out"; } || fail "read-only file system: exit $rc: $out"
  cmp -s good.safetensors "$mnt/c.safetensors" || fail "read-only file system: the checkpoint changed"
  umount "$mnt"
  # Disk full: a tmpfs with room for the existing checkpoint but not for a second copy
  # (the atomic write's temp file), then one too small for even the header.
  for kb in 28 12; do
    mount -t tmpfs -o size=${kb}k tmpfs "$mnt"
    # Fill it up to leave less than one checkpoint free.
    cp good.safetensors "$mnt/c.safetensors"
    dd if=/dev/zero of="$mnt/filler" bs=1k count=$((kb)) status=none 2>/dev/null
    out=$("$runner" train xor.yaml --epochs 30 --save "$mnt/c.safetensors" 2>&1); rc=$?
    { [ $rc -eq 1 ] && grep -q "No space left" <<<"$out"; } || fail "disk full (${kb}k tmpfs): exit $rc: $out"
    cmp -s good.safetensors "$mnt/c.safetensors" || fail "disk full (${kb}k tmpfs): the checkpoint changed"
    [ -z "$(compgen -G "$mnt/c.safetensors.tmp-*")" ] || fail "disk full (${kb}k tmpfs): temp file left behind"
    umount "$mnt"
  done
  # The metrics file on a disk that is full from the start, then on one that fills after about
  # 25 lines (one 4 KiB page left): exit 1 with the reason, and only whole lines in the file.
  for filler_kb in 8 4; do
    mount -t tmpfs -o size=8k tmpfs "$mnt"
    dd if=/dev/zero of="$mnt/filler" bs=1k count=$filler_kb status=none 2>/dev/null
    out=$("$runner" train xor.yaml --epochs 200 --metrics "$mnt/m.jsonl" 2>&1); rc=$?
    { [ $rc -eq 1 ] && grep -q "cannot write the metrics file $mnt/m.jsonl: No space left on device" <<<"$out"; } ||
      fail "metrics on a full disk (${filler_kb}k filler): exit $rc: $(tail -n 3 <<<"$out")"
    lines=$(wc -l <"$mnt/m.jsonl")
    python3 -c 'import json, sys; data = open(sys.argv[1]).read(); assert data == "" or data.endswith("\n"); [json.loads(l) for l in data.splitlines()]' \
      "$mnt/m.jsonl" || fail "metrics on a full disk (${filler_kb}k filler): a torn line in the file"
    if [ "$filler_kb" = 4 ]; then
      kept=$lines
      [ "$kept" -gt 0 ] || fail "metrics on a disk that fills: no line was written"
    fi
    umount "$mnt"
  done
  cases=$((cases + 5))
  echo "unwritable output: $cases cases (missing directory, read-only fs, disk full x2, metrics on a full and a filling disk: ${kept:-0} whole lines kept)"
else
  echo "unwritable output: $cases case (missing directory); mount unavailable: read-only and disk-full cases SKIPPED"
fi

# 4. Out-of-memory-sized graphs: refused at validation with a clear error, quickly, under a
# 4 GB address-space limit (none for a sanitizer build: its shadow memory needs terabytes of
# address space, and its allocator reports any allocation over 3 GB as a crash anyway).
vlimit=4000000
# ldd's output is captured first: `ldd | grep -q` fails under pipefail when grep exits early.
# ASan links its runtime as a shared library; TSan's is linked in statically (scripts/sanitize.sh).
if grep -q "libclang_rt\.[at]san" <<<"$(ldd "$runner" 2>/dev/null)" || grep -q "__tsan_init" "$runner"; then
  vlimit=unlimited
fi
n=0
for spec in "x: {shape: [100000000, 100000000]}|units: 4" "x: {shape: [2]}|units: 1000000000000" \
            "x: {shape: [4000000000]}|units: 4" "x: {shape: [65536]}|units: 65536"; do
  shape=${spec%%|*} units=${spec##*|}
  sed "s/^  x: {shape: \[2\]}/  $shape/; s/inputs: \[x\],   units: 4}/inputs: [x],   units: ${units#units: }}/" xor.yaml > big.yaml
  out=$(ulimit -v "$vlimit"; timeout 60 "$runner" validate big.yaml 2>&1); rc=$?
  { [ $rc -eq 1 ] && grep -q "error" <<<"$out"; } || fail "huge graph ($shape, $units): exit $rc: $(head -c 600 <<<"$out")"
  n=$((n + 1))
done
echo "out-of-memory-sized graph: $n graphs tried"

echo "faults: $failures failures"
[ "$#" -ge 2 ] || { cd /; rm -rf "$work"; }
[ "$failures" -eq 0 ]
