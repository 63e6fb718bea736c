#!/usr/bin/env bash
# Distributed load on one machine: 4 local agents at RATE/4 each (`meshtop agent --agents 4
# --index I`, one start time) against nginx with one worker, merged with `meshtop merge`,
# against one process at RATE, in interleaved rounds. The merged p50/p99 should fall within
# the spread of the single-process runs (the merge is exact; what differs is 4 processes
# sharing 2 cores). Then the CPU of following and merging, from the last round's shards
# (`cargo bench --bench agents`). Not a test: numbers depend on the machine.
#   RATE=4000 C=64 D=10 ROUNDS=3 bench/agents-merge.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
RATE=${RATE:-4000}
C=${C:-64}
D=${D:-10}
ROUNDS=${ROUNDS:-3}
AGENTS=4

build_meshtop
start_nginx
log "nginx at $URL; $RATE req/s over $C connections for ${D}s: one process, then $AGENTS agents; $ROUNDS rounds"

for round in $(seq "$ROUNDS"); do
  measure "single-$round" "$MESHTOP" bench -q "$RATE" -c "$C" -z "${D}s" --no-save -o json "$URL"
  json "$WORK/single-$round.out" '"%d %d %d" % (d["requests"], d["latency"]["p50"], d["latency"]["p99"])' >>"$WORK/single"
  start_at=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
  pids=()
  for i in $(seq 0 $((AGENTS - 1))); do
    "$MESHTOP" agent -q "$RATE" -c "$C" -z "${D}s" --agents "$AGENTS" --index "$i" --start-at "$start_at" "$URL" \
      >"$WORK/agent-$round-$i.shard" 2>"$WORK/agent-$round-$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  "$MESHTOP" merge -o json "$WORK"/agent-"$round"-*.shard >"$WORK/merged-$round.json"
  json "$WORK/merged-$round.json" '"%d %d %d" % (d["requests"], d["latency"]["p50"], d["latency"]["p99"])' >>"$WORK/merged"
  log "round $round: single $(tail -1 "$WORK/single"), merged $(tail -1 "$WORK/merged") (requests p50_us p99_us)"
done

python3 - "$WORK/single" "$WORK/merged" <<'PY'
import sys
single = [list(map(int, l.split())) for l in open(sys.argv[1])]
merged = [list(map(int, l.split())) for l in open(sys.argv[2])]
for name, col in (("p50", 1), ("p99", 2)):
    s = [r[col] for r in single]
    m = [r[col] for r in merged]
    lo, hi = min(s), max(s)
    inside = sum(lo <= x <= hi for x in m)
    print(f"{name}: one process {lo}-{hi} us over {len(s)} runs; 4 agents merged {', '.join(map(str, m))} us; "
          f"{inside} of {len(m)} within the single-process spread; merged median / single median "
          f"{sorted(m)[len(m)//2] / sorted(s)[len(s)//2]:.2f}")
print("requests: one process", [r[0] for r in single], "; merged", [r[0] for r in merged])
PY
log "following and merging, from the last round's shards:"
cargo bench --quiet --bench agents -- "$WORK"/agent-"$ROUNDS"-*.shard
