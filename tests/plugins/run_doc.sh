#!/usr/bin/env bash
# Runs every ```sh block of a Markdown file, in order and as written, in an empty folder,
# with GRADFLOW_BUILD naming the build tree (docs/plugins.md section 0).
# Usage: run_doc.sh DOC.md GRADFLOW_BUILD_DIR WORK_DIR
set -euo pipefail
doc=$1 build=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
awk '/^```sh$/ { inside = 1; next } /^```$/ { inside = 0; next } inside { print }' "$doc" > "$work/doc.sh"
[[ -s $work/doc.sh ]] || { echo "FAIL: no sh blocks in $doc"; exit 1; }
cd "$work"
GRADFLOW_BUILD=$build bash -euxo pipefail doc.sh
echo "every command of $doc ran"
