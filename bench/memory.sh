#!/usr/bin/env bash
# Memory under long runs: meshtop's peak RSS after a short and a long closed-loop run
# at full speed against a local nginx. HDR histograms and per-second rows only, so it
# should stay flat.
#   SHORT=10 LONG=120 C=50 bench/memory.sh   (LONG=30 for a quick look)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-50}
SHORT=${SHORT:-10}
LONG=${LONG:-120}

build_meshtop
start_nginx
for d in "$SHORT" "$LONG"; do
  measure "mem-$d" "$MESHTOP" bench -c "$C" -z "${d}s" --no-save -o json "$URL"
  printf '  %4ds: %10d requests, peak RSS %6.1f MiB\n' "$d" "$(json "$WORK/mem-$d.out" 'd["requests"]')" \
    "$(python3 -c "print($RSS / 1024)")"
  echo "$RSS" >"$WORK/rss-$d"
done
printf '  RSS %ds / %ds: %.2fx\n' "$LONG" "$SHORT" "$(python3 -c "print($(cat "$WORK/rss-$LONG") / $(cat "$WORK/rss-$SHORT"))")"
