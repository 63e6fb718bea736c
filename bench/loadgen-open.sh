#!/usr/bin/env bash
# Open loop at a fixed rate (below saturation): CPU per 100k requests of meshtop, oha -q
# and fortio -qps against the same local nginx (1 worker), in interleaved rounds, with
# meshtop's schedule lag (actual minus intended send time) as it reported it, and each
# tool's sleeps (voluntary context switches) per request. meshtop runs three times a
# round: as shipped (quiet connections: a response is read just before its lane's next
# send, so no response wakes the thread; and sends that fall due within the batch window
# go out together), with MESHTOP_BENCH_QUIET=0 (each response read when it arrives, as
# before), and with MESHTOP_BENCH_BATCH_US=0 as well (a wake-up per deadline too), so the
# effect of each is measured in the same run as the other tools. wrk has no fixed-rate mode.
# Not a test: numbers depend on the machine and what else runs.
#   RATE=10000 C=50 D=10 ROUNDS=3 bench/loadgen-open.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
RATE=${RATE:-10000}
C=${C:-50}
D=${D:-10}
ROUNDS=${ROUNDS:-3}

build_meshtop
ensure_oha
ensure_fortio
start_nginx
log "nginx at $URL; $RATE req/s over $C connections, ${D}s per run, $ROUNDS rounds"

per100k() { python3 -c "print(round($CPU / max($1, 1) * 1e5, 3))"; }

run_tool() {
  local tool=$1 round=$2 name=$1-$2 n rps lag=""
  case $tool in
    meshtop | meshtop-loud | meshtop-nobatch)
      local env=()
      [[ $tool == meshtop-loud ]] && env=(MESHTOP_BENCH_QUIET=0)
      [[ $tool == meshtop-nobatch ]] && env=(MESHTOP_BENCH_QUIET=0 MESHTOP_BENCH_BATCH_US=0)
      measure "$name" env "${env[@]}" "$MESHTOP" bench -q "$RATE" -c "$C" -z "${D}s" --no-save -o json "$URL"
      n=$(json "$WORK/$name.out" 'd["requests"]')
      rps=$(json "$WORK/$name.out" 'd["achieved_rate"]')
      lag=$(json "$WORK/$name.out" '"lag p50 %d us, p99 %d us, max %d us" % (d["schedule_lag"]["p50"], d["schedule_lag"]["p99"], d["schedule_lag"]["max"])')
      json "$WORK/$name.out" 'd["schedule_lag"]["p99"]' >>"$WORK/$tool.lag"
      ;;
    oha)
      measure "$name" "$OHA" -q "$RATE" -c "$C" -z "${D}s" --no-tui --output-format json "$URL"
      n=$(json "$WORK/$name.out" 'sum(d["statusCodeDistribution"].values())')
      rps=$(json "$WORK/$name.out" 'd["summary"]["requestsPerSec"]')
      ;;
    fortio)
      measure "$name" "$FORTIO" load -quiet -qps "$RATE" -c "$C" -t "${D}s" -json "$WORK/$name.json" "$URL"
      n=$(json "$WORK/$name.json" 'd["DurationHistogram"]["Count"]')
      rps=$(json "$WORK/$name.json" 'd["ActualQPS"]')
      ;;
  esac
  local p w
  p=$(per100k "$n")
  w=$(python3 -c "print(round($WAKES / max($n, 1), 2))")
  printf '%-16s round %d: %9.1f req/s  %8d requests  CPU %5.2fs  %6.3f CPU-s/100k req  %5.2f sleeps/req  %s\n' \
    "$tool" "$round" "$rps" "$n" "$CPU" "$p" "$w" "$lag"
  echo "$p" >>"$WORK/$tool.cpu"
  echo "$w" >>"$WORK/$tool.wakes"
}

TOOLS="meshtop meshtop-loud meshtop-nobatch oha fortio"
for round in $(seq "$ROUNDS"); do
  for tool in $TOOLS; do run_tool "$tool" "$round"; done
done

echo
echo "medians over $ROUNDS rounds ($RATE req/s, $C connections, ${D}s, nginx 1 worker):"
for tool in $TOOLS; do
  extra=""
  [[ -f $WORK/$tool.lag ]] && extra="  schedule lag p99 $(median <"$WORK/$tool.lag") us"
  printf '  %-16s %6.3f CPU-s/100k req  %5.2f sleeps/req%s\n' "$tool" "$(median <"$WORK/$tool.cpu")" \
    "$(median <"$WORK/$tool.wakes")" "$extra"
done
echo
for m in meshtop meshtop-loud meshtop-nobatch; do
  for o in oha fortio; do
    printf '  %-16s / %-7s CPU per request %.2fx\n' "$m" "$o" \
      "$(python3 -c "print($(median <"$WORK/$m.cpu") / $(median <"$WORK/$o.cpu"))")"
  done
done
for m in meshtop-loud meshtop-nobatch; do
  printf '  %-16s / %-16s CPU per request %.2fx\n' meshtop "$m" \
    "$(python3 -c "print($(median <"$WORK/meshtop.cpu") / $(median <"$WORK/$m.cpu"))")"
done
