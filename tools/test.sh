#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds Shoal twice
# (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer) and runs
# every ctest case in both builds. Exit status 0 only if all passed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

run_suite () {
    local dir=$1; shift
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300 -LE long
}

echo "== build + tests (RelWithDebInfo)"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build + tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug \
        -DSHOAL_SANITIZE=address,undefined
