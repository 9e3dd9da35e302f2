#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, and runs each for a bounded time on a corpus seeded from
# real inputs. Exits non-zero on the first finding (the crashing input is kept in
# $FUZZ_DIR/findings/). Usage:
#   tools/fuzz.sh [SECONDS_PER_TARGET]        (default 30; env FUZZ_SECONDS too)
# Environment: FUZZ_DIR (default build-fuzz), RECFLOW_DATA (seeds), JOBS.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${FUZZ_DIR:-$root/build-fuzz}
seconds=${1:-${FUZZ_SECONDS:-30}}
jobs=${JOBS:-$(nproc)}
data=${RECFLOW_DATA:-$root/../shared/data}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DRECFLOW_FUZZ=ON -DRECFLOW_BUILD_TESTS=OFF -DRECFLOW_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
targets=()
for f in "$root"/tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
cmake --build "$dir" -j "$jobs" --target "${targets[@]}"

# Seeds: the small inputs kept in the repository (tests/fuzz/corpus/TARGET: synthetic, one
# per kind of input the target reads), the head of each real rating file, and small valid
# model files.
seed() {
  local corpus=$dir/corpus/$1
  mkdir -p "$corpus"
  if [ -d "$root/tests/fuzz/corpus/$1" ]; then
    cp "$root/tests/fuzz/corpus/$1"/* "$corpus"/
  fi
  case $1 in
    fuzz_ingest)
      # The first byte of an input picks the format and mode (see fuzz_ingest.cpp).
      for f in ml-100k/u.data ml-latest-small/ratings.csv; do
        [ -f "$data/$f" ] || continue
        for opt in 0 1 2 9; do
          { printf "\\x0$opt"; head -c 1500 "$data/$f"; } > "$corpus/seed-$opt-$(basename "$f")"
        done
      done
      ;;
    fuzz_model_load)
      local cli=${BUILD_DIR:-$root/build}/recflow
      if [ -x "$cli" ] && [ -f "$data/ml-100k/u1.test" ]; then
        head -n 300 "$data/ml-100k/u1.test" > "$dir/tiny.data"
        "$cli" batch --train "$dir/tiny.data" --test "$dir/tiny.data" --rank 2 \
          --iterations 1 -q --save "$corpus/seed-als.rfm" >/dev/null
      fi
      ;;
  esac
}

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/tools/ubsan.supp
mkdir -p "$dir/findings"
for t in "${targets[@]}"; do
  seed "$t"
  log=$dir/$t.log
  if ! "$dir/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 \
      -artifact_prefix="$dir/findings/$t-" "$dir/corpus/$t" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz: $t found a problem; the input is in $dir/findings/" >&2
    exit 1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | cut -d' ' -f2)
  echo "fuzz: $t ran ${runs:-?} inputs in ${seconds}s without a finding (corpus $(ls "$dir/corpus/$t" | wc -l) files)"
done
