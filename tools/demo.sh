#!/bin/sh
# The main job: builds gategrad and runs the lecture's circuit example,
# printing its gate-level trace.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh --demo
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
echo "== The lecture circuit f = (x + y) * z =="
./build/examples/circuit
echo "== The same circuit from the gategrad command, traced gate by gate =="
./build/tools/gategrad trace "(x + y) * z" x=-2 y=5 z=-4
echo "== Training an MLP on Fashion-MNIST (784-256-128-10, Adam, 30 epochs) =="
./build/tools/gategrad train --data fashion-mnist
