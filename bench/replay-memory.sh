#!/usr/bin/env bash
# Replay memory against recording length: the bundled demo (4 min) and the same session
# repeated to about an hour (its entries shifted in time, a zstd frame a minute, as the
# recorder writes), replayed two ways by the release binary:
#   - `meshtop replay FILE --export-cast OUT`: every frame rendered and written;
#   - the TUI (tmux, 160x45) seeking to the end with `:seek`, which folds every entry and
#     takes every keyframe.
# Prints max RSS for each and the long/short ratio: flat means memory is set by the keyframe
# budget, not by the file. Not a test. Usage: bench/replay-memory.sh [REPEATS] (default 15)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPEATS=${1:-15}
cargo build --release --quiet
BIN=$(scripts/target-dir)/release/meshtop
WORK=$(mktemp -d /tmp/meshtop-replay-mem.XXXX)
trap 'tmux -L meshtop-replay-mem kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT

zstd -qdc recordings/demo.mtrec >"$WORK/demo.ndjson"
python3 - "$WORK/demo.ndjson" "$REPEATS" "$WORK/long" <<'PY'
import json, subprocess, sys
src, repeats, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(src).read().splitlines()
header, entries = lines[0], lines[1:]
span = max(json.loads(l)[0] for l in entries) + 1.0
frames, minute, buf = [], 0, [header + "\n"]
for r in range(repeats):
    for l in entries:
        t, update = json.loads(l)
        t += r * span
        while t >= (minute + 1) * 60:
            frames.append("".join(buf)); buf = []; minute += 1
        buf.append(json.dumps([round(t, 3), update], separators=(",", ":")) + "\n")
frames.append("".join(buf))
with open(out + ".mtrec", "wb") as f:
    for text in frames:
        f.write(subprocess.run(["zstd", "-q", "-3", "-c"], input=text.encode(), capture_output=True, check=True).stdout)
print(f"long recording: {repeats} x {span:.0f} s = {repeats * span / 60:.1f} min, {len(entries) * repeats} updates, "
      f"{sum(len(t) for t in frames) / 1e6:.1f} MB of text in {len(frames)} frames", file=sys.stderr)
PY
cp recordings/demo.mtrec "$WORK/short.mtrec"

rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
declare -A CAST TUI
for name in short long; do
  f="$WORK/$name.mtrec"
  /usr/bin/time -f "%M" -o "$WORK/$name.time" "$BIN" replay "$f" --export-cast "$WORK/$name.cast" 2>/dev/null
  CAST[$name]=$(tail -1 "$WORK/$name.time")
  echo "export-cast $name ($(du -h "$f" | cut -f1) recording, $(wc -l <"$WORK/$name.cast") cast lines): max RSS ${CAST[$name]} KB"

  tmux -L meshtop-replay-mem kill-server 2>/dev/null || true
  tmux -L meshtop-replay-mem new-session -d -s r -x 160 -y 45 "$BIN replay $f; sleep 600"
  sleep 2
  pid=$(pgrep -f "^$BIN replay $f$" | head -1)
  tmux -L meshtop-replay-mem send-keys -t r ':'; tmux -L meshtop-replay-mem send-keys -t r -l 'seek 999m'
  tmux -L meshtop-replay-mem send-keys -t r Enter
  for _ in $(seq 600); do tmux -L meshtop-replay-mem capture-pane -p -t r | grep -q "REPLAY.*paused\|ended\|⏸" && break; sleep 0.2; done
  sleep 3
  TUI[$name]=$(rss "$pid")
  echo "TUI replay $name, seeked to the end: max RSS ${TUI[$name]} KB"
  tmux -L meshtop-replay-mem send-keys -t r q
done
python3 -c "print(f'long/short: export-cast {${CAST[long]}/${CAST[short]}:.2f}x, TUI {${TUI[long]}/${TUI[short]}:.2f}x')"
