#!/bin/sh
# Build with AddressSanitizer + UBSan and warnings as errors, then run every
# test: cmocka unit tests and the scenario suites against the test world
# (network namespaces: needs root).  Installs its Debian packages first.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${MXS_TEST_BUILD:-$src/build-test}

sh "$src/deploy/deps.sh"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMXS_SANITIZE=ON -DMXS_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
exec ctest --output-on-failure --timeout 600
