#!/usr/bin/env bash
# Open-loop schedule accuracy against a local nginx (1 worker): achieved vs requested
# rate at 1k, 10k and 50k req/s, with the schedule lag (actual minus intended send
# time). Then CPU per 100k requests at a fixed 10k req/s, below saturation, for
# meshtop, oha -q and fortio -qps (wrk has no fixed-rate mode).
#   C=50 D=10 RATES="1000 10000 50000" bench/rate-accuracy.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-50}
D=${D:-10}
RATES=${RATES:-1000 10000 50000}
FIXED=${FIXED:-10000}

build_meshtop
ensure_oha
ensure_fortio
start_nginx

echo "meshtop open loop, $C connections, ${D}s, nginx 1 worker:"
for rate in $RATES; do
  measure "rate-$rate" "$MESHTOP" bench -q "$rate" -c "$C" -z "${D}s" --no-save -o json "$URL"
  f=$WORK/rate-$rate.out
  printf '  %6d req/s requested: achieved %9.1f (%6.2f%%)  lag p50 %6.1f us p99 %8.1f us max %8.1f us  corrected p99 %7.2f ms  errors %s\n' \
    "$rate" "$(json "$f" 'd["achieved_rate"]')" "$(json "$f" "d['achieved_rate'] / $rate * 100")" \
    "$(json "$f" 'd["schedule_lag"]["p50"]')" "$(json "$f" 'd["schedule_lag"]["p99"]')" \
    "$(json "$f" 'd["schedule_lag"]["max"]')" "$(json "$f" 'd["latency"]["p99"]/1e3')" "$(json "$f" 'd["errors"]')"
done

echo
echo "CPU at a fixed $FIXED req/s for ${D}s:"
per100k() { python3 -c "print(round($CPU / max($1, 1) * 1e5, 3))"; }
measure m "$MESHTOP" bench -q "$FIXED" -c "$C" -z "${D}s" --no-save -o json "$URL"
printf '  %-8s %9d requests  CPU %5.2fs  %6.3f CPU-s/100k req\n' meshtop "$(json "$WORK/m.out" 'd["requests"]')" "$CPU" "$(per100k "$(json "$WORK/m.out" 'd["requests"]')")"
measure o "$OHA" -q "$FIXED" -c "$C" -z "${D}s" --no-tui --output-format json "$URL"
n=$(json "$WORK/o.out" 'sum(d["statusCodeDistribution"].values())')
printf '  %-8s %9d requests  CPU %5.2fs  %6.3f CPU-s/100k req\n' oha "$n" "$CPU" "$(per100k "$n")"
measure f "$FORTIO" load -quiet -qps "$FIXED" -c "$C" -t "${D}s" -json "$WORK/f.json" "$URL"
n=$(json "$WORK/f.json" 'd["DurationHistogram"]["Count"]')
printf '  %-8s %9d requests  CPU %5.2fs  %6.3f CPU-s/100k req\n' fortio "$n" "$CPU" "$(per100k "$n")"
