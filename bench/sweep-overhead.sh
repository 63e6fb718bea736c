#!/usr/bin/env bash
# Two questions about `meshtop sweep`, against real local servers (release build):
#  1. Its own overhead: a sweep of one target agrees with the equivalent `meshtop bench`
#     runs in RPS and p99, within the spread of repeated bench runs (ROUNDS interleaved
#     rounds of each, nginx with 1 worker).
#  2. A real slowdown table: nginx directly, through a HAProxy hop, and through the
#     stand-in proxy (tests/standin/proxy.py, Python; it carries real traffic but is no
#     mesh proxy, so nothing here is mesh overhead).
#   C=8 D=5 ROUNDS=5 STEPS=8,16,32 REPEAT=3 bench/sweep-overhead.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/loadgen-lib.sh
C=${C:-8}
D=${D:-5}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-8,16,32}
REPEAT=${REPEAT:-3}

build_meshtop
start_nginx
NGINX_URL=$URL
NGINX_PORT=${URL#http://127.0.0.1:}
NGINX_PORT=${NGINX_PORT%/}

log "1. sweep vs bench: $ROUNDS interleaved rounds, $C connections, ${D}s, 1s warm-up, $NGINX_URL"
for round in $(seq "$ROUNDS"); do
  "$MESHTOP" bench -c "$C" -z "${D}s" --warmup 1s --threads 1 --no-save -o json "$NGINX_URL" >"$WORK/bench-$round.json"
  "$MESHTOP" sweep --target nginx="$NGINX_URL" -c "$C" -z "${D}s" --warmup 1s --cooldown 0s --threads 1 --no-save -o json >"$WORK/sweep-$round.json"
  b_rps=$(json "$WORK/bench-$round.json" 'd["achieved_rate"]')
  b_p99=$(json "$WORK/bench-$round.json" 'd["latency"]["p99"]/1e3')
  s_rps=$(json "$WORK/sweep-$round.json" 'd["steps"][0]["targets"][0]["rps"]')
  s_p99=$(json "$WORK/sweep-$round.json" 'd["steps"][0]["targets"][0]["p99_ms"]')
  printf 'round %d: bench %8.0f req/s p99 %6.3f ms | sweep %8.0f req/s p99 %6.3f ms\n' "$round" "$b_rps" "$b_p99" "$s_rps" "$s_p99"
  echo "$b_rps" >>"$WORK/b.rps"; echo "$b_p99" >>"$WORK/b.p99"
  echo "$s_rps" >>"$WORK/s.rps"; echo "$s_p99" >>"$WORK/s.p99"
done
spread() { sort -g "$1" | awk '{a[NR]=$1} END {printf "median %.3f, min %.3f, max %.3f", a[int((NR+1)/2)], a[1], a[NR]}'; }
echo "bench rps: $(spread "$WORK/b.rps")"
echo "sweep rps: $(spread "$WORK/s.rps")"
echo "bench p99 ms: $(spread "$WORK/b.p99")"
echo "sweep p99 ms: $(spread "$WORK/s.p99")"

log "2. slowdown table: nginx, a HAProxy hop, the stand-in proxy; steps $STEPS, ${D}s, repeat $REPEAT"
HAPROXY_PORT=$(free_port)
cat >"$WORK/haproxy.cfg" <<CONF
global
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  timeout client 10s
  timeout connect 5s
  timeout server 10s
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT
  default_backend be
backend be
  server up 127.0.0.1:$NGINX_PORT
CONF
haproxy -db -f "$WORK/haproxy.cfg" >/dev/null 2>&1 &
PIDS+=($!)
STANDIN_PORT=$(free_port)
python3 tests/standin/proxy.py --format istio --listen "$STANDIN_PORT" --upstream "http://127.0.0.1:$NGINX_PORT" \
  --metrics "$(free_port)" --namespace bench --workload nginx >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$HAPROXY_PORT"
wait_port "$STANDIN_PORT"
echo "meshtop sweep --target nginx=$NGINX_URL --target haproxy-hop=http://127.0.0.1:$HAPROXY_PORT/ --target standin-proxy=http://127.0.0.1:$STANDIN_PORT/ -c $STEPS -z ${D}s --warmup 1s --cooldown 1s --repeat $REPEAT --threads 1 -o md"
"$MESHTOP" sweep --target nginx="$NGINX_URL" --target haproxy-hop="http://127.0.0.1:$HAPROXY_PORT/" \
  --target standin-proxy="http://127.0.0.1:$STANDIN_PORT/" -c "$STEPS" -z "${D}s" --warmup 1s --cooldown 1s \
  --repeat "$REPEAT" --threads 1 --no-save -o md
