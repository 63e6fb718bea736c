#!/usr/bin/env bash
# Coordinated omission: 1000 req/s for 10 s against a local server that stalls once for
# 1 s (examples/stall_server.rs, 5 s after its first request). About 10% of the
# scheduled requests fall in the stall with delays spread over 0..1 s, so a correct
# open-loop measurement has p95 near 0.5 s and p99 near 0.9 s. Compares meshtop's
# corrected and uncorrected latency with oha --latency-correction and fortio (which
# does not correct), and shows what a closed loop sees.
#   C=50 RATE=1000 D=10 bench/coordinated-omission.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-50}
RATE=${RATE:-1000}
D=${D:-10}

build_meshtop
ensure_oha
ensure_fortio

row() { printf '  %-40s p50 %8.1f ms  p95 %8.1f ms  p99 %8.1f ms  %s\n' "$@"; }

echo "expected from the schedule: p95 ~ 500 ms, p99 ~ 900 ms"
start_stall 5 1
measure meshtop "$MESHTOP" bench -q "$RATE" -c "$C" -z "${D}s" --no-save -o json "$STALL_URL"
f=$WORK/meshtop.out
row "meshtop -q $RATE, corrected" "$(json "$f" 'd["latency"]["p50"]/1e3')" "$(json "$f" 'd["latency"]["p95"]/1e3')" \
  "$(json "$f" 'd["latency"]["p99"]/1e3')" "($(json "$f" 'd["requests"]') requests)"
row "meshtop -q $RATE, uncorrected" "$(json "$f" 'd["latency_uncorrected"]["p50"]/1e3')" \
  "$(json "$f" 'd["latency_uncorrected"]["p95"]/1e3')" "$(json "$f" 'd["latency_uncorrected"]["p99"]/1e3')" ""
kill "$STALL_PID"

start_stall 5 1
measure oha "$OHA" -q "$RATE" -c "$C" -z "${D}s" --latency-correction --no-tui --output-format json "$STALL_URL"
f=$WORK/oha.out
row "oha -q $RATE --latency-correction" "$(json "$f" 'd["latencyPercentiles"]["p50"]*1e3')" \
  "$(json "$f" 'd["latencyPercentiles"]["p95"]*1e3')" "$(json "$f" 'd["latencyPercentiles"]["p99"]*1e3')" \
  "($(json "$f" 'sum(d["statusCodeDistribution"].values())') requests)"
kill "$STALL_PID"

start_stall 5 1
measure fortio "$FORTIO" load -quiet -qps "$RATE" -c "$C" -t "${D}s" -p "50,95,99" -json "$WORK/fortio.json" "$STALL_URL"
f=$WORK/fortio.json
pct() { json "$f" "[p['Value'] for p in d['DurationHistogram']['Percentiles'] if p['Percentile'] == $1][0]*1e3"; }
row "fortio -qps $RATE (no correction)" "$(pct 50)" "$(pct 95)" "$(pct 99)" "($(json "$f" 'd["DurationHistogram"]["Count"]') requests)"
kill "$STALL_PID"

start_stall 5 1
measure closed "$MESHTOP" bench -c "$C" -z "${D}s" --no-save -o json "$STALL_URL"
f=$WORK/closed.out
row "meshtop closed loop (-q 0)" "$(json "$f" 'd["latency"]["p50"]/1e3')" "$(json "$f" 'd["latency"]["p95"]/1e3')" \
  "$(json "$f" 'd["latency"]["p99"]/1e3')" "($(json "$f" 'd["requests"]') requests, $(json "$f" 'sum(b["count"] for b in d["latency"]["bins"] if b["start"] >= 100000)') of them over 100 ms)"
