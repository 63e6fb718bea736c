#!/usr/bin/env bash
# Closed-loop throughput and CPU per request: meshtop bench vs wrk vs oha vs fortio
# against the same local nginx (1 worker, default keepalive_requests), same connections
# and duration, in interleaved rounds, each tool at every thread setting in SETTINGS
# (wrk -t, meshtop --threads, TOKIO_WORKER_THREADS for oha, GOMAXPROCS for fortio) and
# meshtop also at its default. Prints each run with nginx's own CPU share (a saturated
# nginx caps every tool alike: then judge by CPU per request), the medians, each tool's
# best setting, and meshtop's ratios at each tool's best and at its default. Not a test:
# numbers depend on the machine and what else runs.
#   C=50 D=10 ROUNDS=3 SETTINGS="1 $(nproc)" bench/loadgen-vs.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-50}
D=${D:-10}
ROUNDS=${ROUNDS:-3}
SETTINGS=${SETTINGS:-"1 $(nproc)"}
for t in $SETTINGS; do
  [[ $t =~ ^[1-9][0-9]*$ ]] || { echo "loadgen-vs.sh: SETTINGS holds thread counts, not '$t'" >&2; exit 2; }
done

build_meshtop
ensure_oha
ensure_fortio
start_nginx
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx/nginx.pid")" | head -1)
TICKS=$(getconf CLK_TCK)
log "nginx at $URL (worker pid $NGINX_WORKER); $C connections, ${D}s per run, $ROUNDS rounds, threads $SETTINGS"

# nginx's worker CPU (user + system seconds) so far.
nginx_cpu() { awk -v t="$TICKS" '{print ($14 + $15) / t}' "/proc/$NGINX_WORKER/stat"; }

# run_tool TOOL THREADS ROUND (THREADS "default": meshtop chooses).
run_tool() {
  local tool=$1 threads=$2 round=$3 label=$1-t$2 name before after
  name=$label-$round
  before=$(nginx_cpu)
  case $tool in
    meshtop)
      local flag=(--threads "$threads")
      [[ $threads == default ]] && flag=()
      measure "$name" "$MESHTOP" bench -c "$C" -z "${D}s" "${flag[@]}" --no-save -o json "$URL"
      REQS=$(json "$WORK/$name.out" 'd["requests"]')
      RPS=$(json "$WORK/$name.out" 'd["achieved_rate"]')
      [[ $threads == default ]] && label="meshtop-default($(json "$WORK/$name.out" 'd["threads"]'))"
      ;;
    wrk)
      measure "$name" wrk -t"$threads" -c"$C" -d"${D}s" "$URL"
      REQS=$(awk '/requests in/ {print $1}' "$WORK/$name.out")
      RPS=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$name.out")
      ;;
    oha)
      measure "$name" env TOKIO_WORKER_THREADS="$threads" "$OHA" -c "$C" -z "${D}s" --no-tui --output-format json "$URL"
      RPS=$(json "$WORK/$name.out" 'd["summary"]["requestsPerSec"]')
      REQS=$(json "$WORK/$name.out" 'sum(d["statusCodeDistribution"].values())')
      ;;
    fortio)
      measure "$name" env GOMAXPROCS="$threads" "$FORTIO" load -quiet -c "$C" -t "${D}s" -qps 0 -json "$WORK/$name.json" "$URL"
      RPS=$(json "$WORK/$name.json" 'd["ActualQPS"]')
      REQS=$(json "$WORK/$name.json" 'd["DurationHistogram"]["Count"]')
      ;;
  esac
  after=$(nginx_cpu)
  NGINX_SHARE=$(python3 -c "print(round(100 * ($after - $before) / $D))")
  PER100K=$(python3 -c "print(round($CPU / max($REQS, 1) * 1e5, 3))")
  # The kernel's part (system time): the same send and receive per request cost every tool
  # about the same there, which bounds how far below another tool's CPU per request one can go.
  SYS100K=$(python3 -c "print(round($sys / max($REQS, 1) * 1e5, 3))")
  printf '%-20s round %d: %10.0f req/s  %9d requests  CPU %6.2fs  %6.3f CPU-s/100k req (kernel %6.3f)  nginx %3d%% of a core\n' \
    "$label" "$round" "$RPS" "$REQS" "$CPU" "$PER100K" "$SYS100K" "$NGINX_SHARE"
  echo "$SYS100K" >>"$WORK/$tool-t$threads.sys"
  echo "$RPS" >>"$WORK/$tool-t$threads.rps"
  echo "$PER100K" >>"$WORK/$tool-t$threads.cpu"
  echo "$NGINX_SHARE" >>"$WORK/$tool-t$threads.nginx"
}

for round in $(seq "$ROUNDS"); do
  for tool in meshtop wrk oha fortio; do
    for t in $SETTINGS; do run_tool "$tool" "$t" "$round"; done
  done
  run_tool meshtop default "$round"
done

echo
echo "medians over $ROUNDS rounds ($C connections, ${D}s, nginx 1 worker):"
for f in "$WORK"/*.rps; do
  k=$(basename "$f" .rps)
  printf '  %-16s %10.0f req/s  %6.3f CPU-s/100k req (kernel %6.3f)  nginx %3d%%\n' "$k" "$(median <"$f")" \
    "$(median <"$WORK/$k.cpu")" "$(median <"$WORK/$k.sys")" "$(median <"$WORK/$k.nginx")"
done
# Each tool's best setting by throughput.
best() {
  local tool=$1 top="" topv=0 v
  for t in $SETTINGS; do
    v=$(median <"$WORK/$tool-t$t.rps")
    if python3 -c "import sys; sys.exit(0 if $v > $topv else 1)"; then top=$t topv=$v; fi
  done
  echo "$tool-t$top"
}
mb=$(best meshtop)
echo
echo "at each tool's best setting (meshtop $mb), and meshtop's default:"
for tool in wrk oha fortio; do
  ob=$(best "$tool")
  for m in "$mb" meshtop-tdefault; do
    printf '  %-16s / %-10s throughput %.2fx   CPU per request %.2fx\n' "$m" "$ob" \
      "$(python3 -c "print($(median <"$WORK/$m.rps") / $(median <"$WORK/$ob.rps"))")" \
      "$(python3 -c "print($(median <"$WORK/$m.cpu") / $(median <"$WORK/$ob.cpu"))")"
  done
done
# The kernel's time per request alone, against the other tool's whole CPU per request: where
# it is above a target ratio, no change to meshtop's own code reaches that target.
echo
echo "the kernel's part of CPU per request (system time) at each best setting:"
for tool in wrk oha fortio; do
  ob=$(best "$tool")
  printf '  %-10s kernel %.0f%% of its CPU; %s kernel time alone %.2fx %s CPU per request\n' "$ob" \
    "$(python3 -c "print(100 * $(median <"$WORK/$ob.sys") / $(median <"$WORK/$ob.cpu"))")" "$mb" \
    "$(python3 -c "print($(median <"$WORK/$mb.sys") / $(median <"$WORK/$ob.cpu"))")" "$ob's"
done
