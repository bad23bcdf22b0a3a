#!/bin/sh
# Installs the Debian packages gategrad needs to build, test and run its demos.
# Safe to run again: it installs only what is missing. Needs root (or sudo).
# Training on several machines (MPI) needs openmpi-bin and libopenmpi-dev,
# which --ci installs; users install them by hand (README) and rebuild.
set -eu

packages="build-essential meson ninja-build pkg-config uthash-dev libcmocka-dev zlib1g-dev"
ci=0
for extra in "$@"; do
    case "$extra" in
        --demo)  packages="$packages graphviz dataset-fashion-mnist" ;;
        --ci)    packages="$packages clang libclang-rt-dev valgrind graphviz nodejs chromium fonts-nanum python3-torch openmpi-bin libopenmpi-dev dataset-fashion-mnist"
                 ci=1 ;;
        --bench) packages="$packages libopenblas-dev libopenblas0-openmp python3-torch" ;;
        *) echo "setup.sh: unknown option '$extra' (expected --demo, --ci or --bench)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
if [ -n "$missing" ]; then
    [ -z "$sudo" ] || command -v sudo >/dev/null || { echo "setup.sh: need root to install:$missing" >&2; exit 1; }
    echo "setup.sh: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# CI drives the page in Debian's chromium with playwright-core, its version
# pinned by tests/page/package-lock.json (npm ci never downloads a browser).
if [ $ci = 1 ]; then
    command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >/dev/null
    page=$(cd "$(dirname "$0")/../tests/page" && pwd)
    pinned=$(node -p "require('$page/package.json').dependencies['playwright-core']")
    there=$(node -p "require('$page/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
    [ "$there" = "$pinned" ] ||
        (cd "$page" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
