#!/usr/bin/env bash
# Discovery at scale on the real test bed: 10,000 kwok pods over 200 namespaces (one in
# ten with an Istio sidecar, one in ten with Linkerd's). Prints, for meshtop built in
# release mode:
#   - time until `meshtop discover` has the complete model, and its peak RSS;
#   - time until the TUI (in tmux) shows all 10,000 pods, its RSS, and its idle CPU while
#     watching for 30 s;
#   - how long a pod created (and deleted) while the TUI runs takes to appear (disappear).
# Not a test: numbers vary with the machine. Usage: bench/discovery-scale.sh [PODS] [NAMESPACES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PODS=${1:-10000}
NSS=${2:-200}
K() { scripts/testbed kubectl "$@"; }

line=$(scripts/testbed up)
export KUBECONFIG="${line#KUBECONFIG=}"
cargo build --release --quiet
BIN=$(scripts/target-dir)/release/meshtop

echo "creating $PODS pods in $NSS namespaces..." >&2
python3 - "$PODS" "$NSS" >/tmp/meshtop-scale.yaml <<'PY'
import sys
pods, nss = int(sys.argv[1]), int(sys.argv[2])
out = []
for n in range(nss):
    out.append(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: scale-{n:03d}, labels: {{meshtop-bench: scale}}}}\n")
for i in range(pods):
    c = "[{name: app, image: app:1}"
    if i % 10 == 0: c += ", {name: istio-proxy, image: docker.io/istio/proxyv2:1.24.0}"
    if i % 10 == 1: c += ", {name: linkerd-proxy, image: cr.l5d.io/linkerd/proxy:stable-2.14.10}"
    c += "]"
    # nodeName set directly: the scheduler would stop at the nodes' 1,000-pod capacity.
    out.append(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{i:05d}, namespace: scale-{i % nss:03d}}}\n"
               f"spec: {{nodeName: kwok-node-{i % 2}, automountServiceAccountToken: false, containers: {c}}}\n")
print("---\n".join(out))
PY
t0=$(date +%s)
K create -f /tmp/meshtop-scale.yaml >/dev/null 2>&1 || true
echo "created in $(( $(date +%s) - t0 ))s; waiting for kwok to run them..." >&2
for _ in $(seq 300); do
  running=$(K get pods -A -l '!nonexistent' --field-selector=status.phase=Running --no-headers 2>/dev/null | grep -c '^scale-' || true)
  [[ $running -ge $PODS ]] && break
  sleep 2
done
echo "running: $running" >&2

echo "== meshtop discover (complete model) =="
/usr/bin/time -f "discover: %e s wall, %M KB max RSS" "$BIN" discover -o json >/tmp/meshtop-scale.json
python3 -c "import json; j=json.load(open('/tmp/meshtop-scale.json')); print('pods in model:', len(j['pods']), ' meshed:', sum(1 for p in j['pods'] if p['mesh']))"

echo "== TUI in tmux (200x60) =="
tmux -L meshtop-bench kill-server 2>/dev/null || true
total=$(K get pods -A --no-headers | wc -l)
start=$(date +%s.%N)
tmux -L meshtop-bench new-session -d -s b -x 200 -y 60 "$BIN"
for _ in $(seq 1200); do
  tmux -L meshtop-bench capture-pane -p -t b | grep -q "$total pods in" && break
  sleep 0.02
done
echo "time to complete overview: $(python3 -c "import time; print(round(time.time() - $start, 2))") s"
pid=$(pgrep -f "^$BIN$" | head -1)
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
a=$(ticks); sleep 30; b=$(ticks)
hz=$(getconf CLK_TCK)
echo "idle CPU over 30 s: $(python3 -c "print(round(($b - $a) / $hz / 30 * 100, 2))") % of one core"
echo "TUI RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"

echo "== watch latency =="
tmux -L meshtop-bench send-keys -t b ':' ; tmux -L meshtop-bench send-keys -t b -l 'pods late-arrival'; tmux -L meshtop-bench send-keys -t b Enter
sleep 1
t=$(date +%s.%N)
K -n scale-000 run late-arrival --image=x --restart=Never --overrides='{"spec":{"nodeName":"kwok-node-0"}}' >/dev/null
for _ in $(seq 1500); do tmux -L meshtop-bench capture-pane -p -t b | grep -q "late-arrival.*Running" && break; sleep 0.02; done
echo "pod created -> shown Running: $(python3 -c "import time; print(round(time.time() - $t, 2))") s (includes kwok making it Running)"
t=$(date +%s.%N)
K -n scale-000 delete pod late-arrival --grace-period=0 --force >/dev/null 2>&1
for _ in $(seq 1500); do tmux -L meshtop-bench capture-pane -p -t b | grep -q "scale-000 *late-arrival" || break; sleep 0.02; done
echo "pod deleted -> gone: $(python3 -c "import time; print(round(time.time() - $t, 2))") s"
tmux -L meshtop-bench send-keys -t b q
tmux -L meshtop-bench kill-server 2>/dev/null || true

echo "cleaning up..." >&2
K delete ns -l meshtop-bench=scale --wait=false >/dev/null
