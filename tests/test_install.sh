#!/bin/sh
# The README's "Using the library from C", done as a user does it, without
# LD_LIBRARY_PATH:
#   1. the README still shows the commands below;
#   2. its program (the ```c block of that section) built against a real
#      custom prefix ($HOME/.local, HOME a temporary folder): meson setup a
#      fresh build of this source tree with --prefix=$HOME/.local, meson
#      install, delete the build folder, then with
#      PKG_CONFIG_PATH=$HOME/.local/<libdir>/pkgconfig: cc with
#      `pkg-config --cflags --libs` (the program must load the installed
#      libgategrad.so and print the lecture's numbers), cc -static with
#      `pkg-config --static` (no libgategrad.so at all), and the installed
#      gategrad command;
#   3. the uninstalled gategrad.pc of the build under test
#      (BUILD/meson-uninstalled);
#   4. a Meson project that takes gategrad as a subproject through
#      dependency('gategrad').
# Usage: sh test_install.sh SOURCE_ROOT BUILD_ROOT B_SANITIZE DEFAULT_LIBRARY
# Environment: CC and MESON, the build's compiler and meson (meson.build
# passes them). With sanitizers (B_SANITIZE not "none") the library is
# instrumented, so every program here is linked with -fsanitize=B_SANITIZE
# and the fresh builds are configured with it; a fully static program cannot
# carry the sanitizer runtimes, so there the static step links
# libgategrad.a alone statically (-Wl,-Bstatic) instead of -static.
set -u
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
sanitize=${3:-none}
default_library=${4:-both}
CC=${CC:-cc}
MESON=${MESON:-meson}
unset LD_LIBRARY_PATH PKG_CONFIG_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gg_install_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
started=$(date +%s)

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

note() { echo "--- $*"; }

san_cflags=""
san_setup=""
if [ "$sanitize" != "none" ] && [ -n "$sanitize" ]; then
    san_cflags="-fsanitize=$sanitize"
    san_setup="-Db_sanitize=$sanitize -Db_lundef=false"
    note "sanitizer build ($sanitize): programs linked with $san_cflags"
fi

# check_prog PROGRAM: runs it (a name: in $tmp/work); its output must be the
# lecture's numbers.
check_prog() {
    case $1 in /*) p=$1 ;; *) p=$tmp/work/$1 ;; esac
    if ! "$p" >"$tmp/out" 2>"$tmp/err"; then
        fail "$1 failed: $(cat "$tmp/err")"
        return
    fi
    printf 'f = -12\ndf/dx = -4, df/dy = -4, df/dz = 3\n' >"$tmp/want"
    cmp -s "$tmp/out" "$tmp/want" || fail "$1 printed: $(cat "$tmp/out")"
}

# loads PROGRAM DIR: PROGRAM's libgategrad.so.0 comes from DIR (and not
# from somewhere else that happens to have one).
loads() {
    got=$(ldd "$1" 2>/dev/null | sed -n 's/^[[:space:]]*libgategrad\.so\.0 => \([^ ]*\).*/\1/p')
    [ "$got" = "not" ] && got=""   # "libgategrad.so.0 => not found"
    # Compared without symlinks and "..", as $ORIGIN/../lib gives it.
    got_dir=$(cd "$(dirname "${got:-/nonexistent/x}")" 2>/dev/null && pwd -P)
    want_dir=$(cd "$2" && pwd -P)
    case $got_dir/ in
    "$want_dir"/*) ;;
    *) fail "${1##*/} loads libgategrad.so.0 from '${got:-nowhere}', not from $2" ;;
    esac
}

# ---- 1. the README ------------------------------------------------------------
readme=$src/README.md
awk '/^## Using the library from C/ { s = 1; next }
     s == 1 && /^## / { exit }
     s == 1 { print }' "$readme" >"$tmp/section"
awk '/^```c$/ { s = 1; next } s == 1 && /^```$/ { exit } s == 1 { print }' "$tmp/section" >"$tmp/prog.c"
[ -s "$tmp/prog.c" ] || fail "no \`\`\`c block in README.md's \"## Using the library from C\""
for cmd in \
    'meson setup build' \
    'sudo meson install -C build' \
    'meson setup build --prefix=$HOME/.local' \
    'meson install -C build' \
    'export PKG_CONFIG_PATH=$HOME/.local/lib/x86_64-linux-gnu/pkgconfig' \
    'cc prog.c -o prog $(pkg-config --cflags --libs gategrad)' \
    './prog' \
    '$HOME/.local/bin/gategrad grad "(x + y) * z" x=-2 y=5 z=-4' \
    'cc -static prog.c -o prog $(pkg-config --static --cflags --libs gategrad)' \
    'export PKG_CONFIG_PATH=$PWD/build/meson-uninstalled' \
    "gategrad_dep = dependency('gategrad')"; do
    grep -qxF -- "$cmd" "$tmp/section" || fail "README.md's section no longer shows the command: $cmd"
done
mkdir -p "$tmp/work"
cp "$tmp/prog.c" "$tmp/work/prog.c"

# ---- 2. a custom prefix ---------------------------------------------------------
HOME=$tmp/home
export HOME
mkdir -p "$HOME"
note "meson setup build --prefix=\$HOME/.local (plus -Dtests=false $san_setup), meson install"
# shellcheck disable=SC2086
if ! (cd "$tmp" && "$MESON" setup build "$src" --prefix="$HOME/.local" -Dtests=false $san_setup) \
    >"$tmp/setup.log" 2>&1; then
    tail -n 30 "$tmp/setup.log"
    fail "meson setup with --prefix=$HOME/.local"
elif ! (cd "$tmp" && "$MESON" install -C build) >"$tmp/install.log" 2>&1; then
    tail -n 30 "$tmp/install.log"
    fail "meson install -C build"
fi
libdir=$(sed -n "s/^libdir=\${prefix}\///p" "$tmp/build/meson-private/gategrad.pc" 2>/dev/null)
# Nothing may depend on the build folder any more.
rm -rf "$tmp/build"
prefix=$HOME/.local
pcdir=$prefix/$libdir/pkgconfig
if [ -z "$libdir" ] || [ ! -f "$pcdir/gategrad.pc" ]; then
    fail "no gategrad.pc installed in $pcdir: $(find "$prefix" -name gategrad.pc)"
elif [ "$libdir" != "lib/x86_64-linux-gnu" ]; then
    note "libdir here is $libdir, not the README's lib/x86_64-linux-gnu: using it"
fi
for f in "$prefix/include/gategrad.h" "$prefix/include/gategrad/graph.h" \
    "$prefix/$libdir/libgategrad.a" "$prefix/$libdir/libgategrad.so" "$prefix/bin/gategrad"; do
    [ -e "$f" ] || fail "not installed: $f"
done
PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_PATH
private=$(pkg-config --static --libs gategrad 2>&1)
for l in -lm -lz -lpthread; do
    case " $private " in *" $l "*) ;; *) fail "pkg-config --static --libs gategrad lacks $l: $private" ;; esac
done
case " $(pkg-config --libs gategrad) " in
*" -Wl,-rpath,$prefix/$libdir "*) ;;
*) fail "no rpath to $prefix/$libdir in pkg-config --libs gategrad: $(pkg-config --libs gategrad)" ;;
esac

cd "$tmp/work" || exit 1
note "cc prog.c -o prog \$(pkg-config --cflags --libs gategrad)"
# shellcheck disable=SC2046,SC2086
if $CC $san_cflags prog.c -o prog $(pkg-config --cflags --libs gategrad) 2>"$tmp/err"; then
    check_prog prog
    loads "$tmp/work/prog" "$prefix/$libdir"
else
    fail "cc prog.c with pkg-config --cflags --libs: $(cat "$tmp/err")"
fi

# Debian's Open MPI has no libmpi.a: with MPI built in, libgategrad.a is
# linked statically and MPI dynamically, as under the sanitizers.
mpi_inside=0
pkg-config --static --libs gategrad | grep -q -- '-lmpi' && mpi_inside=1
if [ -z "$san_cflags" ] && [ $mpi_inside -eq 0 ]; then
    note "cc -static prog.c -o prog-static \$(pkg-config --static --cflags --libs gategrad)"
    # shellcheck disable=SC2046,SC2086
    if $CC -static prog.c -o prog-static $(pkg-config --static --cflags --libs gategrad) 2>"$tmp/err"; then
        check_prog prog-static
    else
        fail "cc -static with pkg-config --static: $(cat "$tmp/err")"
    fi
else
    note "static: the sanitizer runtimes or libmpi.so cannot go into a -static program; linking libgategrad.a alone statically"
    libs=$(pkg-config --static --libs gategrad | sed 's/-lgategrad/-Wl,-Bstatic -lgategrad -Wl,-Bdynamic/')
    # shellcheck disable=SC2046,SC2086
    if $CC $san_cflags prog.c -o prog-static $(pkg-config --static --cflags gategrad) $libs 2>"$tmp/err"; then
        check_prog prog-static
    else
        fail "cc with libgategrad.a and pkg-config --static: $(cat "$tmp/err")"
    fi
fi
if ldd prog-static 2>/dev/null | grep -q libgategrad; then
    fail "prog-static loads libgategrad.so: $(ldd prog-static | grep libgategrad)"
fi

note "\$HOME/.local/bin/gategrad grad \"(x + y) * z\" x=-2 y=5 z=-4"
if "$HOME/.local/bin/gategrad" grad "(x + y) * z" x=-2 y=5 z=-4 >"$tmp/out" 2>"$tmp/err"; then
    for want in 'f = -12' 'df/dx = -4' 'df/dy = -4' 'df/dz = 3'; do
        grep -qxF "$want" "$tmp/out" || fail "installed gategrad grad: no line '$want' in: $(cat "$tmp/out")"
    done
    loads "$HOME/.local/bin/gategrad" "$prefix/$libdir"
else
    fail "installed gategrad grad failed: $(cat "$tmp/err")"
fi

# ---- 3. the uninstalled gategrad.pc of the build under test -------------------------
note "PKG_CONFIG_PATH=$build/meson-uninstalled"
PKG_CONFIG_PATH=$build/meson-uninstalled
export PKG_CONFIG_PATH
static=""
# A build with default_library=static has only the archive: it needs --static.
[ "$default_library" = "static" ] && static=--static
# shellcheck disable=SC2046,SC2086
if $CC $san_cflags prog.c -o prog-uninstalled $(pkg-config $static --cflags --libs gategrad) 2>"$tmp/err"; then
    if [ -n "$static" ]; then
        check_prog prog-uninstalled
    elif pkg-config --libs gategrad | grep -q -- '-Wl,-rpath,'; then
        check_prog prog-uninstalled
        loads "$tmp/work/prog-uninstalled" "$build"
    else
        # A build for prefix /usr has no rpath (src/meson.build), nor its
        # uninstalled .pc.
        note "the uninstalled gategrad.pc has no rpath (a system prefix): running with LD_LIBRARY_PATH"
        LD_LIBRARY_PATH=$(dirname "$(find "$build" -name libgategrad.so.0 | head -n 1)") check_prog prog-uninstalled
    fi
else
    fail "cc prog.c through $build/meson-uninstalled: $(cat "$tmp/err")"
fi
unset PKG_CONFIG_PATH

# ---- 4. a Meson subproject ------------------------------------------------------------
note "a project with subprojects/gategrad and dependency('gategrad')"
mkdir -p "$tmp/app/subprojects"
ln -s "$src" "$tmp/app/subprojects/gategrad"
cp prog.c "$tmp/app/prog.c"
cat >"$tmp/app/meson.build" <<'EOF'
project('uses_gategrad', 'c')
gategrad_dep = dependency('gategrad')
executable('prog', 'prog.c', dependencies : gategrad_dep)
EOF
# --force-fallback-for: the subproject even where a gategrad.pc is installed.
# shellcheck disable=SC2086
if ! (cd "$tmp/app" && "$MESON" setup build --force-fallback-for=gategrad -Dgategrad:tests=false $san_setup) \
    >"$tmp/sub-setup.log" 2>&1; then
    tail -n 30 "$tmp/sub-setup.log"
    fail "meson setup of the project using the subproject"
elif ! grep -q "Dependency gategrad found: YES.*(overridden)" "$tmp/sub-setup.log"; then
    fail "dependency('gategrad') did not come from the subproject: $(grep -i 'dependency gategrad' "$tmp/sub-setup.log")"
elif ! "$MESON" compile -C "$tmp/app/build" prog >"$tmp/sub-compile.log" 2>&1; then
    tail -n 30 "$tmp/sub-compile.log"
    fail "meson compile of the project using the subproject"
else
    check_prog "$tmp/app/build/prog"
    loads "$tmp/app/build/prog" "$tmp/app/build/subprojects/gategrad"
fi

echo "$(($(date +%s) - started)) s"
if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "install: all checks passed"
