#!/bin/sh
# Builds gategrad and runs the whole test suite: once in a release build with
# warnings as errors, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Installs missing Debian packages first (tools/setup.sh).
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh --ci

run_suite() {
    dir=$1; shift
    [ -f "$dir/build.ninja" ] || meson setup "$dir" -Dwerror=true "$@" >/dev/null
    meson compile -C "$dir" >"$dir/compile.log" 2>&1 || { cat "$dir/compile.log"; return 1; }
    meson test -C "$dir" --print-errorlogs --num-processes 2
}

echo "== release build, -Werror =="
run_suite build-test
echo "== AddressSanitizer + UndefinedBehaviorSanitizer =="
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false
