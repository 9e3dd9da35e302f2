#!/usr/bin/env bash
# The Debian package of a build: `cpack -G DEB` from the build folder, then what `dpkg -c`
# lists (headers, the static libraries, the CMake package, the recflow command; no sources)
# and the Depends field (the Debian packages that building against recflow needs, and the
# shared libraries the command loads). ctest runs it after a full build; by hand:
#
#   tests/package_deb.sh build
set -euo pipefail

build=$(cd "${1:?usage: tests/package_deb.sh BUILD_DIR}" && pwd)
work=$build/package-test
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

(cd "$build" && cpack -G DEB -B "$work" >"$work/cpack.log" 2>&1) \
  || { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
debs=("$work"/recflow_*.deb)
[ -f "${debs[0]}" ] || fail "cpack made no recflow_*.deb"
deb=${debs[0]}
echo "== $(basename "$deb")"
dpkg-deb -f "$deb" Package Version Architecture Maintainer Depends Description | sed 's/^/   /'

contents=$(dpkg -c "$deb" | awk '{print $NF}')
# ./usr/lib, or ./usr/lib/<multiarch> when configured with the prefix /usr.
libdir=$(sed -n 's|^\(\./usr/lib.*\)/librecflow_model\.a$|\1|p' <<<"$contents")
[ -n "$libdir" ] || fail "the package has no librecflow_model.a"
files=(./usr/bin/recflow ./usr/include/recflow/recflow.hpp)
for header in model/model data/ingest graph/graph actors/messages engine/local_engine \
              tune/tune sources/redis_source serve/service job/stream_output; do
  files+=("./usr/include/recflow/$header.hpp")
done
for layer in model data graph tune actors engine sources serve job; do
  files+=("$libdir/librecflow_$layer.a")
done
for cmake in recflowConfig recflowConfigVersion recflowTargets recflowSourcesTargets \
             recflowServeTargets recflowJobTargets FindCAF Findhiredis; do
  files+=("$libdir/cmake/recflow/$cmake.cmake")
done
for path in "${files[@]}"; do
  grep -qxF "$path" <<<"$contents" || fail "the package lacks $path"
done
! grep -qE '\.(cpp|o)$' <<<"$contents" || fail "the package holds sources or objects: $(grep -E '\.(cpp|o)$' <<<"$contents" | head -3)"
echo "   $(grep -c '\.hpp$' <<<"$contents") headers, $(grep -c '\.a$' <<<"$contents") libraries"

depends=$(dpkg-deb -f "$deb" Depends)
for package in libcaf-dev libeigen3-dev libboost-dev nlohmann-json3-dev libhiredis-dev libfmt-dev libssl-dev; do
  grep -qE "(^|, )$package( |,|$)" <<<"$depends" || fail "Depends lacks $package: $depends"
done
# dpkg-shlibdeps's share: the command's own shared libraries (libfmt is linked by it alone).
grep -qE "(^|, )libfmt[0-9]" <<<"$depends" || fail "Depends lacks the recflow command's libfmt: $depends"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
echo "OK"
