#!/usr/bin/env bash
# recflow's one-command entry points. Usage:
#   tools/dev.sh run    install missing Debian packages, build, stream MovieLens 100K with live RMSE
#   tools/dev.sh test   install missing Debian packages, build, run every test (CI calls this)
#   tools/dev.sh deps   only install missing packages;  tools/dev.sh build   only configure and build all
# Environment: RECFLOW_DATA (folder holding ml-100k/ ...; default ../shared/data, then ./data),
# BUILD_DIR (default build), JOBS (default: number of cores), CI=true (warnings become errors),
# SANITIZE=0 (test: skip the ASan/UBSan run of the suite), FUZZ_SECONDS (test: seconds per
# fuzz target, default 20; 0 skips fuzzing).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}

# What the build needs, one Debian 12 package each (README.md says why each is there);
# gnuplot-nox draws the charts of `recflow compare` (its test checks one).
packages=(g++ cmake make libcaf-dev libssl-dev libboost-dev libeigen3-dev libcli11-dev nlohmann-json3-dev libfmt-dev catch2 gnuplot-nox
          clang libclang-rt-14-dev)
packages+=(libhiredis-dev redis-server)  # stream sources: the Redis client library, and a server for the tests
packages+=(openssl)   # tools/tls-certs.sh: certificates of TLS node links (the TLS tests make theirs with it)
packages+=(dpkg-dev)  # dpkg-shlibdeps: the shared libraries of the .deb's Depends (its test checks them)
packages+=(libjs-dygraphs)  # the dashboard's charting library, embedded in the binary at build time
packages+=(prometheus)      # promtool and a server: the tests check /metrics with them and scrape a stream
packages+=(chromium)        # headless browser: the dashboard test reads the live page's DOM and screenshots it

install_deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "recflow: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build [TARGET...]: configure, then build the targets named (default: everything).
build() {
  local werror=OFF
  [ "${CI:-}" = "true" ] && werror=ON
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DRECFLOW_WERROR=$werror >/dev/null
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
}

# The folder holding the MovieLens sets: $RECFLOW_DATA, ../shared/data, ./data, or a download.
data_dir() {
  for d in "${RECFLOW_DATA:-}" "$root/../shared/data" "$root/data"; do
    if [ -n "$d" ] && [ -f "$d/ml-100k/u.data" ]; then (cd "$d" && pwd); return; fi
  done
  echo "recflow: MovieLens 100K not found; downloading it from GroupLens into $root/data" >&2
  "$root/tools/download-data.sh" "$root/data" ml-100k >&2
  echo "$root/data"
}

case "${1:-}" in
  deps) install_deps ;;
  build) install_deps; build ;;
  run)
    # Only the binary the main job runs: the tests and benchmarks take most of a full build.
    install_deps; build recflow
    data=$(data_dir)
    shift
    exec "$build_dir/recflow" stream --data "$data/ml-100k/u.data" --split 0.8 --seed 42 \
      --batch-size 1000 --csv "$build_dir/stream-ml100k.csv" "$@"
    ;;
  test)
    install_deps; build
    export RECFLOW_DATA=${RECFLOW_DATA:-$(cd "$root/.." && pwd)/shared/data}
    (cd "$build_dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
    # The same suite under AddressSanitizer and UndefinedBehaviorSanitizer (SANITIZE=0
    # skips it), then a bounded run of every fuzz target (FUZZ_SECONDS=0 skips it).
    if [ "${SANITIZE:-1}" != 0 ]; then
      asan_dir=${ASAN_BUILD_DIR:-$root/build-asan}
      # -O1: sanitizer builds compile much faster than at -O3 and the tests stay quick.
      cmake -S "$root" -B "$asan_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
        -DRECFLOW_SANITIZE=ON \
        -DRECFLOW_BUILD_BENCH=OFF -DRECFLOW_WERROR=OFF >/dev/null
      cmake --build "$asan_dir" -j "$jobs" --target recflow recflow_tests recflow_engine_tests
      # verify_asan_link_order=0: a test runs the CLI under stdbuf, which preloads a library.
      (cd "$asan_dir" && ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$root/tools/ubsan.supp \
        ctest --output-on-failure -j "$jobs" --timeout 900)
    fi
    if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
      FUZZ_SECONDS=${FUZZ_SECONDS:-20} "$root/tools/fuzz.sh"
    fi
    ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
