#!/bin/sh
# Builds gategrad and runs every check CI runs, in this order:
#   1. release build with MPI (-Dmpi=enabled), warnings as errors, the
#      whole suite (the data-parallel tests under mpiexec among it)
#   2. AddressSanitizer + UndefinedBehaviorSanitizer, the whole suite but
#      the install test (a fresh build and install: stage 1 runs it)
#   3. the portable kernels only (-Dsimd=false) with allocation-failure
#      injection, under ASan/UBSan/LeakSanitizer, without MPI (one rank):
#      the same, plus the fault-injection test
#   4. ThreadSanitizer: the threaded kernels, two trainings at once, two
#      threads recording gradient graphs and training
#   5. valgrind memcheck: the fast tests
#   6. libFuzzer: each target for FUZZ_SECONDS (default 30) from its corpus
# Installs missing Debian packages first (tools/setup.sh --ci).
# Usage: sh tools/test.sh [--quick]   (--quick: stage 1 only)
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh --ci

quick=0
[ "${1:-}" = "--quick" ] && quick=1
fuzz_seconds=${FUZZ_SECONDS:-30}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

setup() {
    dir=$1; shift
    [ -f "$dir/build.ninja" ] || meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 ||
        { cat "$dir.setup.log"; return 1; }
    meson compile -C "$dir" >"$dir/compile.log" 2>&1 || { cat "$dir/compile.log"; return 1; }
}

suite() {
    dir=$1; shift
    meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
}

started=$(date +%s)
stage() { printf '\n== %s == (%d s since the start)\n' "$*" $(($(date +%s) - started)); }

stage "1. release build, -Werror, MPI"
setup build-test -Dmpi=enabled
suite build-test
[ $quick -eq 1 ] && exit 0

stage "2. AddressSanitizer + UndefinedBehaviorSanitizer"
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
suite build-asan --no-suite install

stage "3. portable kernels (-Dsimd=false) + allocation-failure injection, ASan/UBSan/LSan, no MPI"
setup build-portable -Dsimd=false -Dfault_injection=true -Dmpi=disabled -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
suite build-portable --no-suite install

stage "4. ThreadSanitizer: threaded kernels, two trainings at once"
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized
suite build-tsan threads gemm

stage "5. valgrind memcheck (fast tests)"
suite build-test --wrapper 'valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite -q' \
    --timeout-multiplier 10 rng gates select custom axis shape matmul errors lecture anomaly io teach expr nn optim train torch report dist

stage "6. libFuzzer, ${fuzz_seconds}s per target"
CC=clang setup build-fuzz -Dfuzzing=true -Dtests=false -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized
for t in expr idx csv safetensors features html dist_env; do
    work=$(mktemp -d)
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    # shellcheck disable=SC2086
    "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 $dict "$work" "tests/fuzz/corpus/$t" >"$work.log" 2>&1 ||
        { tail -n 60 "$work.log"; echo "fuzz_$t: FAILED (crash, leak, hang or sanitizer report above)"; exit 1; }
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
    echo "fuzz_$t: ${runs:-?} executions, no crash, leak, hang or sanitizer report"
    rm -rf "$work" "$work.log"
done

stage "all stages passed"
