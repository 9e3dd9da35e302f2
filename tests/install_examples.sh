#!/usr/bin/env bash
# recflow used from outside, as a user meets it: install a build into a fresh prefix,
# configure and build examples/ as a project of its own (find_package(recflow 0.2 REQUIRED)),
# run every example on MovieLens 100K and check what it prints; check the package's
# version and components; then find_package from the build tree itself. ctest runs it
# (after a full build); by hand:
#
#   tests/install_examples.sh build [DATA_DIR]
#
# DATA_DIR holds ml-100k/ ($RECFLOW_DATA wins; default ../shared/data). The work folder
# is BUILD/install-test (the same paths each run, so a compiler cache hits); KEEP=1 keeps it.
# Every examples/*.cpp is built and run as `example_NAME <ml-100k folder>`: it must exit 0,
# print something and nothing on stderr, no nan or inf, and any RMSE it prints must lie in
# (0, 2); the examples named below must also print the lines given there.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: tests/install_examples.sh BUILD_DIR [DATA_DIR]}" && pwd)
data=${RECFLOW_DATA:-${2:-$root/../shared/data}}/ml-100k
work=$build/install-test
jobs=${JOBS:-2}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -f "$data/u.data" ] || fail "MovieLens 100K not found: $data/u.data (set RECFLOW_DATA)"
rm -rf "$work"
mkdir -p "$work"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# Lines (extended regular expressions) an example must print, beyond the checks for all.
expected_lines() {
  case "$1" in
    quickstart) printf '%s\n' '^batch ALS test RMSE 0\.[6-9]' \
                              '^after streaming u1\.test in: RMSE on it 0\.[5-9]' ;;
    custom_source) printf '%s\n' '^batch 20: 500 ratings in ' '^10000 ratings, 97 users, 53 items' ;;
    custom_partitioner) printf '%s\n' '^20000 ratings in 20 batches on tenant x consistent' ;;
    broker_source) printf '%s\n' '^first run: 12 batches; resumed from .*: 8 more batches, 20000 ratings' ;;
    tune_hyperband) printf '%s\n' '^1\. rank=.* rmse 0\.[89]' '^defaults: rmse 0\.[89]' '^work: ' ;;
    implicit_stream) printf '%s\n' '^batch 20: +99057 events, HR@10 0\.[67]' '^top 5 for user 1:( [0-9]+){5}$' ;;
    stream_rmse) printf '%s\n' '^batch 1: 10000 ratings seen, validation rmse [01]\.' \
                               '^batch 8: 80000 ratings seen, validation rmse 0\.9' ;;
  esac
}

# check_output NAME OUT ERR: the checks above for one run's output.
check_output() {
  local name=$1 out=$2 err=$3
  [ -s "$out" ] || fail "example_$name printed nothing"
  [ ! -s "$err" ] || fail "example_$name wrote to stderr: $(head -5 "$err")"
  ! grep -qiwE 'nan|inf' "$out" || fail "example_$name printed nan or inf"
  # Every number after "rmse" on a line (in any case; "rmse -" means not evaluated).
  local bad
  bad=$(grep -oiE 'rmse[^0-9-]*[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' "$out" \
        | grep -oE '[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$' | awk '!($1 > 0 && $1 < 2)') || true
  [ -z "$bad" ] || fail "example_$name printed an implausible RMSE: $bad"
  local pattern
  while IFS= read -r pattern; do
    [ -n "$pattern" ] || continue
    grep -qE "$pattern" "$out" || fail "example_$name did not print a line matching '$pattern'"
  done < <(expected_lines "$name")
}

# run_example EXE: runs it in the work folder on the data and checks its output.
run_example() {
  local exe=$1 name
  name=$(basename "$exe")
  name=${name#example_}
  local out=$work/$name.out err=$work/$name.err
  if ! (cd "$work" && timeout 120 "$exe" "$data" >"$out" 2>"$err"); then
    cat "$out" "$err" >&2
    fail "example_$name exited with an error"
  fi
  check_output "$name" "$out" "$err"
  [ -n "$(expected_lines "$name")" ] || echo "   (example_$name: no lines of its own to check)"
  sed 's/^/   | /' "$out"
}

# configure SRC BIN ARGS...: a fresh configure that fails loudly.
configure() {
  local src=$1 bin=$2
  shift 2
  cmake -S "$src" -B "$bin" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON "$@" >"$bin.log" 2>&1 \
    || { cat "$bin.log" >&2; fail "configuring $src failed"; }
}

echo "== install into $work/prefix"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
"$work/prefix/bin/recflow" --version | grep -q "^0\.2\." || fail "installed recflow --version is not 0.2.x"

echo "== examples/ built on their own against the installed package"
configure "$root/examples" "$work/examples" -DCMAKE_PREFIX_PATH="$work/prefix"
found=$(sed -n 's/^recflow_DIR:[A-Z]*=//p' "$work/examples/CMakeCache.txt")
case "$found" in
  "$work/prefix"/*) ;;
  *) fail "find_package(recflow) found $found, not the package in $work/prefix" ;;
esac
cmake --build "$work/examples" -j "$jobs" >"$work/examples-build.log" 2>&1 \
  || { cat "$work/examples-build.log" >&2; fail "building examples/ against the installed package"; }

shopt -s nullglob
sources=("$root"/examples/*.cpp)
[ ${#sources[@]} -gt 0 ] || fail "no examples/*.cpp"
for src in "${sources[@]}"; do
  name=$(basename "$src" .cpp)
  echo "== example_$name $data"
  run_example "$work/examples/example_$name"
done

echo "== the package's version and components"
mkdir -p "$work/components"
cat >"$work/components/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.18)
project(recflow_components LANGUAGES CXX)
find_package(recflow 0.2 REQUIRED COMPONENTS job)
foreach(t recflow::recflow recflow::sources recflow::serve recflow::job recflow::model
          recflow::engine CAF::core CAF::io hiredis::hiredis)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "find_package(recflow ... COMPONENTS job) defines no ${t}")
  endif()
endforeach()
find_package(recflow 0.3 QUIET)
if(recflow_FOUND)
  message(FATAL_ERROR "a 0.2 package satisfied find_package(recflow 0.3)")
endif()
find_package(recflow 0.2 QUIET COMPONENTS no_such_component)
if(recflow_FOUND)
  message(FATAL_ERROR "find_package(recflow COMPONENTS no_such_component) succeeded")
endif()
EOF
configure "$work/components" "$work/components/build" -DCMAKE_PREFIX_PATH="$work/prefix"

echo "== find_package(recflow) from the build tree ($build)"
configure "$root/examples" "$work/examples-from-build" -Drecflow_DIR="$build"
name=$(basename "${sources[0]}" .cpp)
cmake --build "$work/examples-from-build" --target "example_$name" >"$work/build-tree.log" 2>&1 \
  || { cat "$work/build-tree.log" >&2; fail "building example_$name against the build tree"; }
run_example "$work/examples-from-build/example_$name"
echo "OK: installed, built ${#sources[@]} examples out of tree, ran each"
