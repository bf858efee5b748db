#!/usr/bin/env bash
# Lathe's triple store beside its peers on the same synthetic graph and queries (scripts/bench/kg-peer.py: Python's
# sqlite3 with Lathe's schema, and rdflib's in-memory graph), interleaved round by round so all see the same machine
# noise. One JSON line per round, then one with the medians of the per-round ratios (Lathe ÷ peer; above 1 is faster).
# Usage: scripts/bench/kg-compare.sh [rounds] [triples] [seconds per query kind]   (default: 5 100000 2)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rounds=${1:-5}
triples=${2:-100000}
seconds=${3:-2}
log=$(mktemp)
err=$(mktemp)
trap 'rm -f "$log" "$err"' EXIT
for ((r = 1; r <= rounds; r++)); do
  ours=$("$here/lathe" bench kg --triples "$triples" --seconds "$seconds" 2>"$err" | tail -1) ||
    { echo "kg-compare: lathe bench kg failed: $(tail -1 "$err")" >&2; exit 1; }
  theirs=$(/usr/bin/python3 "$here/scripts/bench/kg-peer.py" --triples "$triples" --seconds "$seconds" 2>"$err") ||
    { echo "kg-compare: kg-peer.py failed: $(tail -1 "$err")" >&2; exit 1; }
  /usr/bin/python3 - "$ours" "$theirs" "$r" <<'PY' | tee -a "$log"
import json, sys
ours = json.loads(sys.argv[1])
peers = {p["peer"]: p for p in map(json.loads, sys.argv[2].strip().splitlines())}
row = {"bench": "kg-compare", "round": int(sys.argv[3]), "triples": ours["triples"]}
for key in ("import_triples_per_s", "match_s_per_s", "match_po_per_s", "neighbourhood_per_s"):
    row["lathe_" + key] = round(ours[key])
    for name, peer in peers.items():
        if peer["triples"] != ours["triples"]:
            sys.exit(f"kg-compare: {name} ran {peer['triples']} triples, lathe {ours['triples']}")
        row[f"{name}_{key}"] = round(peer[key])
        row[f"ratio_vs_{name}_{key}"] = round(ours[key] / peer[key], 3)
row["lathe_peak_rss_mb"] = round(ours["peak_rss_mb"])
print(json.dumps(row))
PY
done
/usr/bin/python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
summary = {"bench": "kg-compare-median", "rounds": len(rows), "triples": rows[0]["triples"]}
for key in rows[0]:
    if key.startswith(("ratio_", "lathe_", "python-sqlite3_", "rdflib_")):
        summary[key] = round(statistics.median(r[key] for r in rows), 3)
print(json.dumps(summary))
PY
