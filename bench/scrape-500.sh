#!/usr/bin/env bash
# CPU of live proxy scraping at scale, on the real test bed: 500 kwok pods with Istio
# sidecars, every one answering /stats/prometheus on :15020 with the real 105 KB Istio
# 1.11 merged dump (nginx, 1 worker, in one network namespace holding all 500 pod IPs).
# meshtop runs its TUI in tmux and scrapes every pod every 5 s through the API server's
# pod proxy. Prints meshtop's CPU and RSS over a minute, the API server's CPU for the
# proxying, and the scrapes nginx served (to confirm the 100 scrapes/s pace).
# Not a test: numbers vary with the machine. Usage: bench/scrape-500.sh [PODS] [SECONDS] [soak]
#
# With `soak` (e.g. `bench/scrape-500.sh 100 1800 soak`), four more pods carry live traffic
# (the stand-in Istio proxy, tests/standin/proxy.py, forwarding meshtop's own load
# generator's requests to a real http.server in each pod's network namespace, 10 req/s
# each), a second process replays the demo recording in a loop (`meshtop demo`, in its own
# tmux session) meanwhile, and both processes' RSS is sampled every 10 s: the series is
# printed with its spread after the warm-up, which should stay within 5 %.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PODS=${1:-500}
SECS=${2:-60}
SOAK=${3:-}
DUMP=${MESHTOP_FIXTURES:-../shared/fixtures/real}/istio/metrics/istio-1.11-merged-15020.txt
[[ -r "$DUMP" ]] || { echo "needs the real Istio dump at $DUMP" >&2; exit 1; }
DUMP=$(realpath "$DUMP")
NS=scrape-bench
NETNS=mt-scrape-bench
VETH=mtsb0
NODE_IP=10.77.0.1
RUN=/tmp/meshtop-scrape-bench
K() { scripts/testbed kubectl "$@"; }

line=$(scripts/testbed up)
export KUBECONFIG="${line#KUBECONFIG=}"
cargo build --release --quiet
BIN=$(scripts/target-dir)/release/meshtop

live=()
cleanup() {
  for p in "${live[@]}"; do kill "$p" 2>/dev/null || true; done
  for i in 0 1 2 3; do scripts/testbed pod-netns-rm "$NS" "live-$i" >/dev/null 2>&1 || true; done
  tmux -L meshtop-scrape kill-server 2>/dev/null || true
  tmux -L meshtop-soak kill-server 2>/dev/null || true
  [[ -f $RUN/nginx.pid ]] && kill "$(cat $RUN/nginx.pid)" 2>/dev/null || true
  if [[ -f $RUN/ips ]]; then
    sed "s|^|route del |; s|$|/32|" "$RUN/ips" | ip -batch - 2>/dev/null || true
  fi
  ip link del "$VETH" 2>/dev/null || true
  ip netns del "$NETNS" 2>/dev/null || true
  K delete ns "$NS" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup
rm -rf "$RUN"; mkdir -p "$RUN"

echo "creating $PODS pods with Istio sidecars..." >&2
python3 - "$PODS" "$NS" >"$RUN/pods.yaml" <<'PY'
import sys
pods, ns = int(sys.argv[1]), sys.argv[2]
out = [f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"]
for i in range(pods):
    out.append(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i:04d}, namespace: {ns}, labels: {{app: web}}}}\n"
        f"spec: {{nodeName: kwok-node-{i % 2}, automountServiceAccountToken: false, containers: "
        "[{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}]}\n")
print("---\n".join(out))
PY
K create -f "$RUN/pods.yaml" >/dev/null
for _ in $(seq 300); do
  K -n "$NS" get pods -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | grep -c . >"$RUN/count" || true
  [[ $(cat "$RUN/count") -ge $PODS ]] && break
  sleep 1
done
K -n "$NS" get pods -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}' | grep . >"$RUN/ips"
echo "pods with IPs: $(wc -l <"$RUN/ips")" >&2

# One namespace answers for every pod IP: routes from the root namespace, /32s inside.
ip netns add "$NETNS"
ip link add "$VETH" type veth peer name "${VETH}p"
ip link set "${VETH}p" netns "$NETNS"
ip netns exec "$NETNS" ip link set lo up
ip netns exec "$NETNS" ip link set "${VETH}p" name eth0
sed "s|^|addr add |; s|$|/32 dev eth0|" "$RUN/ips" | ip netns exec "$NETNS" ip -batch -
ip netns exec "$NETNS" ip link set eth0 up
ip netns exec "$NETNS" ip route add "$NODE_IP/32" dev eth0
ip netns exec "$NETNS" ip route add default via "$NODE_IP" dev eth0
ip link set "$VETH" up
sed "s|^|route replace |; s|$|/32 dev $VETH src $NODE_IP|" "$RUN/ips" | ip -batch -

cat >"$RUN/nginx.conf" <<EOF
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/error.log;
events { worker_connections 4096; }
http {
  access_log $RUN/access.log;
  server {
    listen 15020;
    location = /stats/prometheus { default_type text/plain; alias $DUMP; }
  }
}
EOF
ip netns exec "$NETNS" nginx -c "$RUN/nginx.conf"
sleep 1

if [[ $SOAK == soak ]]; then
  echo "4 pods with live traffic through the stand-in proxy..." >&2
  mkdir -p "$RUN/www"; echo "hello" >"$RUN/www/index.html"
  for i in 0 1 2 3; do
    K apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: live-$i, namespace: $NS, labels: {app: live}}
spec: {nodeName: kwok-node-$((i % 2)), automountServiceAccountToken: false, containers: [{name: app, image: app:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0, ports: [{containerPort: 15020, name: http-envoy-prom}]}]}
EOF
  done
  for i in 0 1 2 3; do
    for _ in $(seq 60); do [[ -n "$(K -n "$NS" get pod "live-$i" -o jsonpath='{.status.podIP}')" ]] && break; sleep 1; done
    netns=$(scripts/testbed pod-netns "$NS" "live-$i" | tail -1)
    ip netns exec "$netns" python3 -m http.server 8080 --bind 0.0.0.0 --directory "$RUN/www" >/dev/null 2>&1 &
    live+=($!)
    ip netns exec "$netns" python3 tests/standin/proxy.py --format istio --listen 15001 \
      --upstream http://127.0.0.1:8080 --metrics 15020 --namespace "$NS" --workload "live-$i" >/dev/null 2>&1 &
    live+=($!)
    "$BIN" bench "http://$(K -n "$NS" get pod "live-$i" -o jsonpath='{.status.podIP}'):15001/" \
      -q 10 -c 2 -z "$((SECS + 120))s" --no-save >/dev/null 2>&1 &
    live+=($!)
  done
fi

apiserver=$(pgrep -f "kube-apiserver.*--secure-port" | head -1)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# If meshtop ends early, its exit status and last words stay behind for the report.
tmux -L meshtop-scrape new-session -d -s b -x 200 -y 50 "$BIN -n $NS 2>$RUN/stderr; echo \$? >$RUN/exit; sleep 3600"
sleep 3
pid=$(pgrep -f "^$BIN -n $NS$" | head -1)
# Open the pods view so the table with traffic columns is what gets drawn.
tmux -L meshtop-scrape send-keys -t b 4
echo "warming up for 15 s (the first scrapes, then rates)..." >&2
sleep 15
served0=$(wc -l <"$RUN/access.log")
m0=$(ticks "$pid"); a0=$(ticks "$apiserver")
if [[ $SOAK == soak ]]; then
  tmux -L meshtop-soak new-session -d -s d -x 200 -y 50 "$BIN demo"
  sleep 2
  demo=$(pgrep -f "^$BIN demo$" | head -1)
  rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
  echo "t_s live_rss_kib replay_rss_kib" >"$RUN/soak.tsv"
  for ((t = 0; t <= SECS; t += 10)); do
    if [[ -s $RUN/exit ]]; then
      echo "meshtop ended after ${t} s of the soak with status $(cat "$RUN/exit"); its stderr:" >&2
      cat "$RUN/stderr" >&2
      exit 1
    fi
    echo "$t $(rss "$pid") $(rss "$demo")" >>"$RUN/soak.tsv"
    ((t < SECS)) && sleep 10
  done
  cp "$RUN/soak.tsv" /tmp/meshtop-soak.tsv
else
  sleep "$SECS"
fi
[[ -s $RUN/exit ]] && { echo "meshtop ended early with status $(cat "$RUN/exit"): $(cat "$RUN/stderr")" >&2; exit 1; }
m1=$(ticks "$pid"); a1=$(ticks "$apiserver")
served1=$(wc -l <"$RUN/access.log")
pct() { python3 -c "print(round(($2 - $1) / $hz / $SECS * 100, 1))"; }
echo "== scraping $PODS pods every 5 s for ${SECS}s (105 KB Istio dump each) =="
echo "scrapes served: $((served1 - served0)) ($(python3 -c "print(round(($served1 - $served0) / $SECS, 1))")/s; ideal $(python3 -c "print($PODS / 5)")/s)"
echo "meshtop CPU: $(pct "$m0" "$m1") % of one core; RSS $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
echo "kube-apiserver CPU meanwhile: $(pct "$a0" "$a1") % of one core (the pod proxy's share of the cost)"
tmux -L meshtop-scrape capture-pane -p -t b | sed -n '3,6p'
tmux -L meshtop-scrape capture-pane -p -t b | tail -1
if [[ $SOAK == soak ]]; then
  echo "== the live pods as the TUI shows them at the end =="
  tmux -L meshtop-scrape send-keys -t b / && tmux -L meshtop-scrape send-keys -t b -l live && tmux -L meshtop-scrape send-keys -t b Enter
  sleep 1
  tmux -L meshtop-scrape capture-pane -p -t b | grep -E "NAME|live-" || true
  # Their RPS column must not be empty: the soak had live traffic, or it says it had none.
  tmux -L meshtop-scrape capture-pane -p -t b | grep -qE "live-[0-9].* Running +[0-9]+ +[1-9][0-9.]* " \
    || echo "WARNING: the live pods show no traffic: this soak had none" >&2
  echo "== RSS every 10 s (KiB; also in /tmp/meshtop-soak.tsv) =="
  column -t "$RUN/soak.tsv"
  # Warm-up: the first 5 minutes (windows fill, the replay loops once).
  python3 - "$RUN/soak.tsv" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().split("\n")[1:] if l.strip()]
after = [r for r in rows if int(r[0]) >= 300] or rows
for i, name in ((1, "live TUI"), (2, "replay loop")):
    v = [int(r[i]) for r in after]
    print(f"{name}: {min(v)}-{max(v)} KiB after warm-up, spread {(max(v) - min(v)) / min(v) * 100:.1f} %"
          f" (first {v[0]}, last {v[-1]})")
PY
fi
