# Shared by the load-generator benchmarks (sourced, not run): release builds, the other
# load generators cached outside the repo, a local nginx, and measuring helpers.
# Versions are pinned; the tools are built once into $MESHTOP_BENCH_CACHE.

OHA_VERSION=1.16.0
# fortio 1.67+ needs grol.io/grol, which the Go module proxy reachable here refuses.
FORTIO_VERSION=1.66.5
CACHE=${MESHTOP_BENCH_CACHE:-$HOME/.cache/meshtop-bench}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }

build_meshtop() {
  # MESHTOP_BIN=path uses a release binary built earlier (no rebuild).
  if [[ -n ${MESHTOP_BIN:-} ]]; then
    MESHTOP=$MESHTOP_BIN
    STALL=$(dirname "$MESHTOP_BIN")/examples/stall_server
    return
  fi
  log "building meshtop (release)"
  cargo build --release --quiet --bin meshtop --example stall_server
  MESHTOP=$(scripts/target-dir)/release/meshtop
  STALL=$(scripts/target-dir)/release/examples/stall_server
}

ensure_oha() {
  OHA=$CACHE/oha-$OHA_VERSION/bin/oha
  if [[ ! -x $OHA ]]; then
    log "installing oha $OHA_VERSION into $CACHE (once)"
    cargo install oha --locked --version "$OHA_VERSION" --root "$CACHE/oha-$OHA_VERSION" >&2
  fi
}

ensure_fortio() {
  FORTIO=$CACHE/fortio-$FORTIO_VERSION/fortio
  if [[ ! -x $FORTIO ]]; then
    log "installing fortio $FORTIO_VERSION into $CACHE (once)"
    GOBIN=$CACHE/fortio-$FORTIO_VERSION go install "fortio.org/fortio@v$FORTIO_VERSION" >&2
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  return 1
}

# nginx with 1 worker and the default keepalive_requests (1000); sets URL.
start_nginx() {
  local dir=$WORK/nginx port
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen 127.0.0.1:$port;
    location = / { return 200 "hello\n"; }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$port"
  URL=http://127.0.0.1:$port/
}

# The stall server on a fresh port (its stall counts from its first request); sets STALL_URL.
start_stall() {
  local port
  port=$(free_port)
  "$STALL" "$port" "${1:-5}" "${2:-1}" &
  STALL_PID=$!
  PIDS+=("$STALL_PID")
  wait_port "$port"
  STALL_URL=http://127.0.0.1:$port/
}

# measure NAME CMD...: runs CMD with stdout in $WORK/NAME.out; sets CPU (user+sys
# seconds) and RSS (max resident, KiB).
measure() {
  local name=$1
  shift
  /usr/bin/time -f '%U %S %M %w' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
    echo "failed: $*" >&2
    tail -5 "$WORK/$name.err" >&2
    return 1
  }
  # WAKES: voluntary context switches, i.e. how often the process slept and was woken.
  read -r user sys RSS WAKES <"$WORK/$name.time"
  CPU=$(python3 -c "print($user + $sys)")
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# json FILE EXPR: a value out of a JSON file, EXPR in Python over `d`.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
