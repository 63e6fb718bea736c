#!/usr/bin/env bash
# Closed-loop throughput and CPU per request: meshtop bench vs wrk vs oha vs fortio
# against the same local nginx (1 worker, default keepalive_requests), same
# connections and duration, in interleaved rounds; prints each round, the medians and
# meshtop's ratios. Not a test: numbers depend on the machine and what else runs.
#   C=50 D=10 ROUNDS=3 THREADS=$(nproc) bench/loadgen-vs.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-50}
D=${D:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}

build_meshtop
ensure_oha
ensure_fortio
start_nginx
log "nginx at $URL; $C connections, ${D}s per run, $ROUNDS rounds, $THREADS threads where a tool takes a count"

run_tool() {
  local tool=$1 name=$1-$2
  case $tool in
    meshtop)
      measure "$name" "$MESHTOP" bench -c "$C" -z "${D}s" --threads "$THREADS" --no-save -o json "$URL"
      REQS=$(json "$WORK/$name.out" 'd["requests"]')
      RPS=$(json "$WORK/$name.out" 'd["achieved_rate"]')
      ;;
    wrk)
      measure "$name" wrk -t"$THREADS" -c"$C" -d"${D}s" "$URL"
      REQS=$(awk '/requests in/ {print $1}' "$WORK/$name.out")
      RPS=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$name.out")
      ;;
    oha)
      measure "$name" "$OHA" -c "$C" -z "${D}s" --no-tui --output-format json "$URL"
      RPS=$(json "$WORK/$name.out" 'd["summary"]["requestsPerSec"]')
      REQS=$(json "$WORK/$name.out" 'sum(d["statusCodeDistribution"].values())')
      ;;
    fortio)
      measure "$name" "$FORTIO" load -quiet -c "$C" -t "${D}s" -qps 0 -json "$WORK/$name.json" "$URL"
      RPS=$(json "$WORK/$name.json" 'd["ActualQPS"]')
      REQS=$(json "$WORK/$name.json" 'd["DurationHistogram"]["Count"]')
      ;;
  esac
  PER100K=$(python3 -c "print(round($CPU / max($REQS, 1) * 1e5, 3))")
  printf '%-8s round %d: %10.0f req/s  %9d requests  CPU %6.2fs  %6.3f CPU-s/100k req\n' \
    "$tool" "$2" "$RPS" "$REQS" "$CPU" "$PER100K"
  echo "$RPS" >>"$WORK/$tool.rps"
  echo "$PER100K" >>"$WORK/$tool.cpu"
}

for round in $(seq "$ROUNDS"); do
  for tool in meshtop wrk oha fortio; do
    run_tool "$tool" "$round"
  done
done

echo
echo "medians over $ROUNDS rounds ($C connections, ${D}s, nginx 1 worker):"
for tool in meshtop wrk oha fortio; do
  printf '  %-8s %10.0f req/s  %6.3f CPU-s/100k req\n' "$tool" "$(median <"$WORK/$tool.rps")" "$(median <"$WORK/$tool.cpu")"
done
m=$(median <"$WORK/meshtop.rps")
mc=$(median <"$WORK/meshtop.cpu")
for tool in wrk oha fortio; do
  printf '  meshtop / %-6s throughput %.2fx   CPU per request %.2fx\n' "$tool" \
    "$(python3 -c "print($m / $(median <"$WORK/$tool.rps"))")" \
    "$(python3 -c "print($mc / $(median <"$WORK/$tool.cpu"))")"
done
