#!/bin/sh
# Installs the Debian packages gategrad needs to build, test and run its demos.
# Safe to run again: it installs only what is missing. Needs root (or sudo).
# Training on several machines (MPI) needs openmpi-bin and libopenmpi-dev,
# which --ci installs; users install them by hand (README) and rebuild.
set -eu

packages="build-essential meson ninja-build pkg-config uthash-dev libcmocka-dev zlib1g-dev"
for extra in "$@"; do
    case "$extra" in
        --demo)  packages="$packages graphviz dataset-fashion-mnist" ;;
        --ci)    packages="$packages clang libclang-rt-dev valgrind graphviz nodejs chromium fonts-nanum python3-torch openmpi-bin libopenmpi-dev" ;;
        --bench) packages="$packages libopenblas-dev libopenblas0-openmp python3-torch" ;;
        *) echo "setup.sh: unknown option '$extra' (expected --demo, --ci or --bench)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root to install:$missing" >&2; exit 1; }
    sudo=sudo
else
    sudo=
fi
echo "setup.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
