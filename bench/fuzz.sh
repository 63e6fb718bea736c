#!/usr/bin/env bash
# Runs cargo-fuzz targets for a while each and reports, per target, the inputs run, the
# peak RSS and any crash (its input is left under fuzz/artifacts/TARGET/). Installs
# cargo-fuzz once, keyed by version, outside the repo; needs a nightly toolchain
# (libFuzzer's instrumentation is nightly-only). Not part of the test command.
# Usage: bench/fuzz.sh SECONDS [TARGET...]     (default: every target in fuzz/fuzz_targets/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH=${1:?usage: bench/fuzz.sh SECONDS [TARGET...]}
shift
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a whole number above 0, not '$SECONDS_EACH'" >&2; exit 2; }
CARGO_FUZZ_VERSION=0.13.2
TOOLS="$HOME/.cache/meshtop-tools/cargo-fuzz-$CARGO_FUZZ_VERSION"
if [[ ! -x "$TOOLS/bin/cargo-fuzz" ]]; then
  echo "[fuzz] installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS" >&2
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS" >&2
fi
export PATH="$TOOLS/bin:$PATH"
rustup run nightly true 2>/dev/null || rustup toolchain install nightly --profile minimal >&2
# Its own target dir: instrumented builds share nothing with the normal ones.
export CARGO_TARGET_DIR="${MESHTOP_FUZZ_TARGET_DIR:-$(scripts/target-dir)/fuzz}"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
for t in "${targets[@]}"; do
  [[ -f "fuzz/fuzz_targets/$t.rs" ]] || { echo "fuzz.sh: no target '$t' (fuzz/fuzz_targets/)" >&2; exit 2; }
done
cd fuzz
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  dirs=("corpus/$t")
  [[ -d "seeds/$t" ]] && dirs+=("seeds/$t")
  log=$(mktemp "/tmp/meshtop-fuzz-$t.XXXX")
  echo "[fuzz] $t: ${SECONDS_EACH}s" >&2
  if cargo +nightly fuzz run "$t" "${dirs[@]}" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1; then
    result="no crash"
  elif unit=$(grep -m1 -o 'Test unit written to .*' "$log"); then
    result="CRASH: $unit"
    status=1
  else
    result="FAILED before fuzzing: $(tail -1 "$log")"
    status=1
  fi
  # libFuzzer's own status lines start with #N; stack frames are indented.
  runs=$(grep -oE '^stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' ||
    grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
  rss=$(grep -oE '^stat::peak_rss_mb: [0-9]+' "$log" | grep -oE '[0-9]+$' | sed 's/$/ MB/' ||
    grep -oE 'rss: [0-9]+Mb' "$log" | tail -1 || true)
  echo "$t: ${SECONDS_EACH} s, ${runs:-0} inputs, peak ${rss:-rss unknown}, $result (log $log)"
done
exit $status
